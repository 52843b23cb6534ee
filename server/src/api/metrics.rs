//! `GET /metrics`: the Prometheus metrics (OpenMetrics text), for the admin token or
//! `METRICS_TOKEN`; a JSON 404 when `METRICS_ENABLED=false`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::{bearer, throttled};
use crate::error::ApiError;
use crate::metrics::prometheus::{KeyGauges, ScrapeState, CONTENT_TYPE};
use crate::metrics::Metrics;
use crate::state::AppState;

/// The Prometheus metrics.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "observability",
    description = "Prometheus metrics in the OpenMetrics text format. Needs the admin token or \
                   `METRICS_TOKEN` as `Authorization: Bearer`; 404 when `METRICS_ENABLED=false`.",
    responses(
        (status = 200, description = "The metrics", content_type = "application/openmetrics-text", body = String),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 404, response = super::openapi::responses::NotFound),
    )
)]
pub async fn get_metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !state.metrics.is_enabled() {
        return Err(ApiError::NotFound(
            "metrics are off (METRICS_ENABLED=false)".into(),
        ));
    }
    throttled(&req, &state, || match bearer(&req) {
        Some(token)
            if state.admin_token.matches(token)
                || state
                    .config
                    .metrics_token
                    .as_ref()
                    .is_some_and(|t| t.matches(token)) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::Unauthorized("invalid metrics token".into())),
        None => Err(ApiError::Unauthorized(
            "missing token: send Authorization: Bearer <admin token or METRICS_TOKEN>".into(),
        )),
    })?;
    let scrape = scrape_state(&state).await;
    let text = encode(&state.metrics, &scrape)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
        .body(text))
}

fn encode(metrics: &Metrics, scrape: &ScrapeState) -> Result<String, ApiError> {
    metrics
        .encode(scrape)
        .ok_or_else(|| ApiError::Internal("the metrics could not be encoded".into()))
}

/// What the gauges show now: the bid board, each key actor's burn rate, the writer, the database.
async fn scrape_state(state: &AppState) -> ScrapeState {
    let now = state.clock.now_ms();
    let mut keys = Vec::new();
    for bid in state.board.snapshot() {
        let (key_state, _) = bid.state_at(now);
        let burn_rate_per_hour = state
            .keys
            .snapshot(bid.key_id())
            .await
            .and_then(|s| s.burn_rate_per_hour);
        keys.push(KeyGauges {
            name: bid.profile.name.clone(),
            provider: bid.profile.provider_id().to_owned(),
            state: key_state,
            quota_unit: bid.profile.quota_unit,
            quota_remaining: bid.quota_remaining,
            burn_rate_per_hour,
            in_flight: bid.counters.in_flight(),
        });
    }
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    let storage = state.db.storage();
    ScrapeState {
        keys,
        writer_queue_depth: state.writer.queue_depth(),
        writer_dropped_logs: state.writer.dropped_logs(),
        trace_dropped_spans: state.traces.dropped_spans(),
        db_fault: storage.get().map(|f| f.label()),
        db_faults: storage.fault_counts(),
        open_connections: state.connections.get(),
        in_flight: state.in_flight(),
    }
}
