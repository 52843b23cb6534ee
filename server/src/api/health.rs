//! `GET /api/health`: open, checks the database.

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use shared::health::HealthResponse;

use crate::state::AppState;

/// Reports liveness and checks the database. Open: no token needed.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "meta",
    security(()),
    responses(
        (status = 200, description = "Serving", body = HealthResponse),
        (status = 503, description = "`degraded`: the database does not answer", body = HealthResponse),
    )
)]
pub async fn get_health(state: web::Data<AppState>) -> HttpResponse {
    let db_ok = state
        .db
        .run(|conn| Ok(conn.batch_execute("SELECT 1")?))
        .await
        .is_ok();
    let body = HealthResponse {
        status: if db_ok { "ok" } else { "degraded" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: if db_ok { "ok" } else { "unavailable" }.into(),
        keys: state.board.len(),
        uptime_secs: state.started_at.elapsed().as_secs(),
    };
    if db_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
