//! `GET /api/runtime`: the process's footprint now (memory, descriptors, threads, tasks, calls in
//! flight). The soak run samples it to show that none of them grows.

use actix_web::{web, HttpResponse};
use shared::runtime::RuntimeStats;

use crate::metrics::runtime;
use crate::state::AppState;

use super::auth::AdminAuth;
use super::openapi::responses::Unauthorized;

/// The process's footprint now.
#[utoipa::path(
    get,
    path = "/api/runtime",
    tag = "observability",
    responses(
        (status = 200, description = "Memory, descriptors, threads, connections and calls in flight", body = RuntimeStats),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn get_runtime(state: web::Data<AppState>, _: AdminAuth) -> HttpResponse {
    HttpResponse::Ok().json(RuntimeStats {
        rss_bytes: runtime::rss_bytes(),
        open_fds: runtime::open_fds(),
        threads: runtime::threads(),
        connections: state.connections.get(),
        in_flight: state.in_flight(),
        uptime_secs: state.started_at.elapsed().as_secs(),
    })
}
