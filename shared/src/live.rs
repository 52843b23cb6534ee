//! The live feed (`GET /api/live`, a websocket): one JSON message per event.

use serde::{Deserialize, Serialize};

use crate::keys::KeyState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// First message after connecting.
    Hello { version: String, server_time: i64 },
    /// A call finished.
    Call(LiveCall),
    /// Every second: the aggregate picture.
    Snapshot(LiveSnapshot),
    /// A key changed state (throttled, cooling, auth dead, ...).
    KeyState {
        key_id: i64,
        name: String,
        state: KeyState,
        until: Option<i64>,
    },
    /// The client fell behind and events were dropped: reload what is shown through the REST API.
    Resync { reason: String },
}

/// `POST /api/live/ticket`: opens one live-feed websocket (`GET /api/live?ticket=…`) within
/// 30 seconds, so the admin token never travels in a URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveTicket {
    /// Single use.
    pub ticket: String,
    /// Unix milliseconds; unused tickets expire then.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveCall {
    pub request_id: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub key_id: Option<i64>,
    pub key_name: Option<String>,
    pub provider: Option<String>,
    pub model: String,
    pub endpoint: String,
    pub stream: bool,
    pub status: i32,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub ttfb_ms: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub attempts: i32,
    /// The name of the client key the call came with.
    #[serde(default)]
    pub client_key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveSnapshot {
    /// Unix milliseconds.
    pub at: i64,
    /// Calls finished per second over the last 10 seconds.
    pub requests_per_second: f64,
    /// Share of calls in the last minute that succeeded (1.0 when there were none).
    pub success_rate: f64,
    /// Over the last minute.
    pub latency_p50_ms: Option<i64>,
    pub latency_p95_ms: Option<i64>,
    pub in_flight: i64,
    pub calls_today: i64,
    pub tokens_today: i64,
    pub cost_today_usd: f64,
    pub calls_total: i64,
    pub tokens_total: i64,
    pub cost_total_usd: f64,
    /// Why the database does not take writes, when the latest write failed: `read_only`, `busy`
    /// or `full` (calls are still proxied; changes and call logs are not saved meanwhile).
    #[serde(default)]
    pub database_fault: Option<String>,
    /// This instance is one of several sharing a database: these figures are its own, while
    /// `/api/stats` and `/api/logs` cover every instance.
    #[serde(default)]
    pub instance_only: bool,
}
