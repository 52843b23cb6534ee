//! `GET /api/logs`: one row per proxied call. Prompt and completion bodies are not stored.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallLogView {
    pub id: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub request_id: String,
    pub key_id: Option<i64>,
    pub key_name: Option<String>,
    /// The client key the call came with.
    #[serde(default)]
    pub client_key_id: Option<i64>,
    pub provider: Option<String>,
    pub model: String,
    pub endpoint: String,
    pub stream: bool,
    /// The HTTP status the client saw (499 when the client went away first).
    pub status: i32,
    pub error: Option<String>,
    pub latency_ms: i64,
    /// Time to the upstream's first byte.
    pub ttfb_ms: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub total_tokens: i64,
    pub cost_usd: f64,
    pub attempts: i32,
    /// Every key tried, in order, and why each one that failed did.
    pub attempt_trail: Vec<AttemptView>,
    /// The prices the call was charged at.
    pub prices: Option<CallPrices>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttemptView {
    pub key_id: i64,
    pub key_name: String,
    pub provider: String,
    /// The upstream's HTTP status, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// USD per 1M tokens, and the per-call fee.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallPrices {
    pub input: f64,
    pub output: f64,
    pub cached_input: Option<f64>,
    pub cache_write: Option<f64>,
    pub per_call: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogsPage {
    pub data: Vec<CallLogView>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}
