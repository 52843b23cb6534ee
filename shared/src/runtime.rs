//! `GET /api/runtime`: what the process holds now. A soak run reads it to show that nothing grows.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuntimeStats {
    /// Resident memory (`VmRSS`), when the platform reports it.
    pub rss_bytes: Option<u64>,
    /// Open file descriptors (sockets, the database, logs), when the platform reports them.
    pub open_fds: Option<u64>,
    /// Operating-system threads of the process.
    pub threads: Option<u64>,
    /// Open client connections (each is one task on a worker, with its buffers).
    pub connections: u64,
    /// Upstream calls in flight, over every key.
    pub in_flight: i64,
    pub uptime_secs: u64,
}
