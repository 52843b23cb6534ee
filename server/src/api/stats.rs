//! `GET /api/stats` and `GET /api/stats/timeseries`, from the rollup tables (never raw logs), so
//! they stay fast with millions of logged calls.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use shared::stats::{StatsResponse, StatsRow, TimeSeries};
use utoipa::IntoParams;

use super::auth::AdminAuth;
use super::openapi::responses::{BadRequest, InternalError, Unauthorized};
use crate::db::rollups::{self, Grouping, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::error::ApiError;
use crate::state::AppState;

/// Gets the statistics.
///
/// Totals, today, and per key, provider and model: calls, errors, tokens, cost, p50/p95 latency
/// (from the rollup tables, never a scan of the logs).
#[utoipa::path(
    get,
    path = "/api/stats",
    tag = "observability",
    responses(
        (status = 200, description = "The statistics", body = StatsResponse),
        (status = 401, response = Unauthorized),
        (status = 500, response = InternalError),
    )
)]
pub async fn get_stats(state: web::Data<AppState>, _: AdminAuth) -> Result<HttpResponse, ApiError> {
    // Calls that already answered are counted: wait for their rows.
    state.writer.flush().await;
    let midnight = state.clock.now_ms().div_euclid(DAY_MS) * DAY_MS;
    let stats = state
        .db
        .run(move |conn| {
            let first = |rows: Vec<StatsRow>| {
                rows.into_iter().next().unwrap_or_else(|| StatsRow {
                    group: "total".into(),
                    ..Default::default()
                })
            };
            Ok(StatsResponse {
                totals: first(rollups::stats(conn, Grouping::Total, 0)?),
                today: first(rollups::stats(conn, Grouping::Total, midnight)?),
                by_key: rollups::stats(conn, Grouping::Key, 0)?,
                by_provider: rollups::stats(conn, Grouping::Provider, 0)?,
                by_model: rollups::stats(conn, Grouping::Model, 0)?,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// `hour` (default), `day` or `month`.
    #[param(pattern = "^(hour|day|month)$", example = "hour")]
    range: Option<String>,
}

/// Gets the statistics over time.
///
/// Calls, errors, tokens, cost and p50/p95 latency per minute (last hour), hour (last day) or day
/// (last 30 days).
#[utoipa::path(
    get,
    path = "/api/stats/timeseries",
    tag = "observability",
    params(RangeQuery),
    responses(
        (status = 200, description = "One point per bucket, oldest first", body = TimeSeries),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = InternalError),
    )
)]
pub async fn get_timeseries(
    state: web::Data<AppState>,
    _: AdminAuth,
    query: web::Query<RangeQuery>,
) -> Result<HttpResponse, ApiError> {
    let range = query.into_inner().range.unwrap_or_else(|| "hour".into());
    let (minutes, span, bucket_ms) = match range.as_str() {
        "hour" => (true, HOUR_MS, MINUTE_MS),
        "day" => (false, DAY_MS, HOUR_MS),
        "month" => (false, 30 * DAY_MS, DAY_MS),
        _ => {
            return Err(ApiError::BadRequest {
                message: "range must be hour, day or month".into(),
                param: Some("range".into()),
            })
        }
    };
    state.writer.flush().await;
    let now = state.clock.now_ms();
    let since = now - span + bucket_ms;
    let points = state
        .db
        .run(move |conn| rollups::timeseries(conn, minutes, since, now, bucket_ms))
        .await?;
    Ok(HttpResponse::Ok().json(TimeSeries {
        range,
        bucket_ms,
        points,
    }))
}
