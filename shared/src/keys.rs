//! Provider API keys as the admin API accepts and returns them. The secret itself only ever
//! travels inbound (`NewKey::api_key`, `KeyPatch::api_key`); outbound views carry a mask.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::providers::ModelPricing;

/// The largest fee, price or quota the API accepts (USD, tokens or requests). Costs add up over
/// calls: below this bound they stay finite, while larger inputs could sum to infinity, which JSON
/// cannot carry (serde_json writes it as `null`). The schema attributes below repeat it as
/// `maximum = 1e12`: they take literals only.
pub const MAX_AMOUNT: f64 = 1e12;

/// What a key's quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum QuotaUnit {
    #[default]
    Requests,
    Tokens,
    Usd,
}

/// The health of a key as its actor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Active,
    Disabled,
    /// Quota spent, or the provider says the account is out of credit.
    QuotaExhausted,
    /// The provider rejected the key (401/403); edit the key to retry it.
    AuthDead,
    /// Rate-limited until `state_until`.
    Throttled,
    /// Taken out after repeated failures until `state_until`, then probed.
    Cooling,
    /// The cool-down passed; the next request probes the key.
    Probing,
    /// The stored secret does not open for the key's provider and base URL: its row was changed
    /// outside api-proxy (or the master key is another). It is never sent; enter the key again.
    SealedMismatch,
}

/// When a key's quota refills to `quota_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum QuotaReset {
    /// At midnight UTC.
    Daily,
    /// On the first day of the month, midnight UTC.
    Monthly,
}

/// Body of `POST /api/keys`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"provider": "openai", "name": "personal", "api_key": "sk-..."}))
)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub provider: String,
    pub name: String,
    pub api_key: String,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1e12))]
    #[serde(default)]
    pub cost_per_request: Option<f64>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1e12))]
    #[serde(default)]
    pub quota_total: Option<f64>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1e12))]
    #[serde(default)]
    pub quota_remaining: Option<f64>,
    #[serde(default)]
    pub quota_unit: Option<QuotaUnit>,
    /// Azure OpenAI: the `api-version` query parameter.
    #[serde(default)]
    pub azure_api_version: Option<String>,
    /// Azure OpenAI: model name -> deployment name.
    #[serde(default)]
    pub azure_deployments: Option<BTreeMap<String, String>>,
    /// Share of traffic under the `weighted` strategy (default 1).
    #[serde(default)]
    pub weight: Option<i32>,
    #[serde(default)]
    pub quota_reset: Option<QuotaReset>,
    /// Model id (or `*` for all) -> prices replacing the provider's for this key.
    #[serde(default)]
    pub price_overrides: Option<BTreeMap<String, ModelPricing>>,
}

/// Body of `PATCH /api/keys/{id}`: every field optional; absent means unchanged.
/// For the nullable fields (`base_url`, `priority`, `quota_total`, `quota_remaining`,
/// `azure_api_version`) an explicit `null` clears the value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub base_url: Option<Option<String>>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub priority: Option<Option<i32>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1e12))]
    #[serde(default)]
    pub cost_per_request: Option<f64>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1e12))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub quota_total: Option<Option<f64>>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1e12))]
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub quota_remaining: Option<Option<f64>>,
    #[serde(default)]
    pub quota_unit: Option<QuotaUnit>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub azure_api_version: Option<Option<String>>,
    #[serde(default)]
    pub azure_deployments: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub weight: Option<i32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub quota_reset: Option<Option<QuotaReset>>,
    #[serde(default)]
    pub price_overrides: Option<BTreeMap<String, ModelPricing>>,
}

/// Live counters a key's actor keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyUsage {
    pub calls: i64,
    pub errors: i64,
    pub tokens: i64,
    pub cost_usd: f64,
    /// Time-decayed moving average of successful calls' total latency.
    pub latency_ewma_ms: Option<f64>,
    /// Time-decayed moving average of the time to the upstream's first byte.
    #[serde(default)]
    pub ttfb_ewma_ms: Option<f64>,
    /// Unix milliseconds.
    pub last_used_at: Option<i64>,
}

/// A key as every endpoint returns it: the secret is masked (`sk-…abcd`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyView {
    pub id: i64,
    pub provider: String,
    pub name: String,
    pub masked_key: String,
    pub base_url: Option<String>,
    pub models: Vec<String>,
    pub priority: Option<i32>,
    pub enabled: bool,
    pub cost_per_request: f64,
    pub quota_total: Option<f64>,
    pub quota_remaining: Option<f64>,
    pub quota_unit: QuotaUnit,
    pub azure_api_version: Option<String>,
    pub azure_deployments: BTreeMap<String, String>,
    pub state: KeyState,
    /// When a `throttled` or `cooling` state ends (Unix ms).
    pub state_until: Option<i64>,
    pub usage: KeyUsage,
    pub weight: i32,
    pub quota_reset: Option<QuotaReset>,
    /// Next quota refill (Unix ms).
    pub quota_reset_at: Option<i64>,
    pub price_overrides: BTreeMap<String, ModelPricing>,
    /// Requests using the key right now.
    pub in_flight: i64,
    /// The provider's own rate-limit counters, from its last response.
    pub rate_limit: Option<RateLimitView>,
    /// Quota units spent per hour at the recent rate.
    pub burn_rate_per_hour: Option<f64>,
    /// When the quota runs out at that rate (Unix ms).
    pub quota_forecast_exhausted_at: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitView {
    pub requests_remaining: Option<f64>,
    pub requests_limit: Option<f64>,
    pub tokens_remaining: Option<f64>,
    pub tokens_limit: Option<f64>,
    /// When an exhausted window resets (Unix ms).
    pub reset_at: Option<i64>,
}

/// `POST /api/keys/{id}/test`: a minimal real call through this key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyTestResult {
    pub ok: bool,
    /// The upstream's HTTP status, if it answered.
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub model: String,
    /// The answer's text, or the error.
    pub message: String,
}

/// `GET /api/keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyList {
    pub data: Vec<KeyView>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let patch: KeyPatch = serde_json::from_str(r#"{"base_url": null}"#).unwrap();
        assert_eq!(patch.base_url, Some(None));
        assert_eq!(patch.priority, None);
        let patch: KeyPatch = serde_json::from_str(r#"{"priority": 2}"#).unwrap();
        assert_eq!(patch.priority, Some(Some(2)));
    }

    #[test]
    fn an_absent_patch_field_stays_absent_when_serialised() {
        let patch = KeyPatch {
            name: Some("n".into()),
            priority: Some(None),
            ..Default::default()
        };
        let json = serde_json::to_value(&patch).unwrap();
        assert_eq!(json["priority"], serde_json::Value::Null);
        assert!(json.get("base_url").is_none(), "{json}");
        assert!(json.get("quota_total").is_none(), "{json}");
        let back: KeyPatch = serde_json::from_value(json).unwrap();
        assert_eq!(back, patch);
    }

    #[test]
    fn new_key_rejects_unknown_fields() {
        let err = serde_json::from_str::<NewKey>(
            r#"{"provider":"openai","name":"a","api_key":"k","colour":"red"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
