//! `GET /api/health`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthResponse {
    /// `"ok"`, or `"degraded"` when the database does not answer.
    pub status: String,
    pub version: String,
    pub database: String,
    pub keys: usize,
    pub uptime_secs: u64,
}
