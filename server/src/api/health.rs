//! `GET /api/health`: open, checks the database: whether it answers, and whether it takes writes.

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
        (status = 200, description = "Serving. `status` is `degraded` when the database answers but does not take writes (`database`: `read_only`, `busy` or `full`): calls are still proxied, but changes and call logs are not saved", body = HealthResponse),
        (status = 503, description = "`degraded`: the database does not answer (`database`: `unavailable`)", body = HealthResponse),
    )
)]
pub async fn get_health(state: web::Data<AppState>) -> HttpResponse {
    let db_ok = state
        .db
        .run(|conn| Ok(conn.batch_execute("SELECT 1")?))
        .await
        .is_ok();
    // The latest write's verdict: proxied calls go on without the database, so a database
    // that only refuses writes leaves the server serving (200), but not healthy.
    let fault = state.db.storage().get().filter(|_| db_ok);
    let body = HealthResponse {
        status: if db_ok && fault.is_none() {
            "ok"
        } else {
            "degraded"
        }
        .into(),
        version: env!("CARGO_PKG_VERSION").into(),
        database: match (db_ok, fault) {
            (false, _) => "unavailable",
            (true, Some(fault)) => fault.label(),
            (true, None) => "ok",
        }
        .into(),
        keys: state.board.len(),
        uptime_secs: state.started_at.elapsed().as_secs(),
    };
    if db_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
