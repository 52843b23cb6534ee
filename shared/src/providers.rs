//! Provider descriptions: the schema of `configs/providers/<id>.json` and what
//! `GET /api/providers` returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProviderFormat {
    Openai,
    Anthropic,
    Azure,
}

/// How the key is sent upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>`
    Bearer,
    /// `x-api-key: <key>`
    XApiKey,
    /// `api-key: <key>`
    ApiKey,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelCapabilities {
    #[serde(default)]
    pub tools: bool,
    #[serde(default)]
    pub vision: bool,
    #[serde(default = "yes")]
    pub streaming: bool,
    #[serde(default)]
    pub json_mode: bool,
}

fn yes() -> bool {
    true
}

/// USD per one million tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelPricing {
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1e12))]
    pub input: f64,
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1e12))]
    pub output: f64,
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1e12))]
    #[serde(default)]
    pub cached_input: Option<f64>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1e12))]
    #[serde(default)]
    pub cache_write: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub id: String,
    pub context_window: u32,
    pub max_output_tokens: u32,
    #[serde(default)]
    pub capabilities: ModelCapabilities,
    pub pricing: ModelPricing,
}

/// One provider file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    pub format: ProviderFormat,
    pub base_url: String,
    pub auth: AuthStyle,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The provider serves OpenAI's Responses API (`POST {base_url}/responses`) itself, so
    /// `/v1/responses` calls reach it untranslated and `previous_response_id` works there. Only
    /// for `format: "openai"`; other providers get Responses calls translated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub native_responses: bool,
    pub models: Vec<ModelSpec>,
}

/// `GET /api/providers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderList {
    pub data: Vec<ProviderView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderView {
    #[serde(flatten)]
    pub spec: ProviderSpec,
    /// Whether api-proxy can translate this provider's format yet.
    pub supported: bool,
    pub key_count: usize,
}

/// One row of `GET /api/providers/capabilities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelCapabilityRow {
    pub provider: String,
    pub model: String,
    pub context_window: u32,
    pub max_output_tokens: u32,
    pub capabilities: ModelCapabilities,
    pub pricing: ModelPricing,
}

/// `GET /api/providers/capabilities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelCapabilityList {
    pub data: Vec<ModelCapabilityRow>,
}
