//! `GET /api/stats`.

use serde::{Deserialize, Serialize};

/// Aggregates over a group of calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsRow {
    /// The key's name, the provider id or the model; `"total"` for the totals row.
    pub group: String,
    /// Set on per-key rows.
    pub key_id: Option<i64>,
    pub calls: i64,
    pub errors: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cost_usd: f64,
    pub latency_p50_ms: Option<i64>,
    pub latency_p95_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsResponse {
    pub totals: StatsRow,
    /// Since midnight UTC.
    pub today: StatsRow,
    pub by_key: Vec<StatsRow>,
    pub by_provider: Vec<StatsRow>,
    pub by_model: Vec<StatsRow>,
}

/// `GET /api/stats/timeseries?range=hour|day|month`: calls, cost and latency per bucket
/// (minutes for an hour, hours for a day, days for 30 days), from the rollup tables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeSeries {
    pub range: String,
    pub bucket_ms: i64,
    pub points: Vec<TimePoint>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimePoint {
    /// Bucket start, Unix milliseconds.
    pub t: i64,
    pub calls: i64,
    pub errors: i64,
    pub tokens: i64,
    pub cost_usd: f64,
    pub latency_p50_ms: Option<i64>,
    pub latency_p95_ms: Option<i64>,
}
