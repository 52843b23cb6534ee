//! `GET /api/health`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthResponse {
    /// `"ok"`, or `"degraded"` when the database does not answer or does not take writes.
    pub status: String,
    pub version: String,
    /// `"ok"`; `"read_only"`, `"busy"` or `"full"` when the latest write failed for that reason
    /// (calls are still proxied; changes and call logs are not saved); `"unavailable"` when the
    /// database does not answer.
    pub database: String,
    pub keys: usize,
    pub uptime_secs: u64,
}
