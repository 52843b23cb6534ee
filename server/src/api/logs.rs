//! `GET /api/logs?limit=&before=&key_id=&client_key_id=&model=&provider=&endpoint=&status=`: newest first,
//! keyset-paginated.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use shared::logs::{AttemptView, CallLogView, CallPrices, LogsPage};
use utoipa::IntoParams;

use super::auth::AdminAuth;
use super::openapi::responses::{BadRequest, InternalError, NotFound, Unauthorized};
use crate::db::call_logs::{self, CallLogRow, LogFilter, StatusFilter};
use crate::error::ApiError;
use crate::state::AppState;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Rows per page (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// Only rows with a smaller id (the previous page's `next_before`).
    before: Option<i32>,
    key_id: Option<i32>,
    /// Only calls made with this client key.
    client_key_id: Option<i32>,
    model: Option<String>,
    provider: Option<String>,
    /// The endpoint the call came in on: `chat/completions`, `messages`, `responses`, `embeddings`.
    endpoint: Option<String>,
    /// `success`, `error`, or an HTTP status code.
    #[param(pattern = "^(success|error|[0-9]{3})$", example = "error")]
    status: Option<String>,
    /// Unix ms, inclusive.
    since: Option<i64>,
    /// Unix ms, exclusive.
    until: Option<i64>,
}

/// Lists the call logs.
///
/// Newest first, keyset-paginated: pass `next_before` as `before` for the next page.
#[utoipa::path(
    get,
    path = "/api/logs",
    tag = "observability",
    params(LogsQuery),
    responses(
        (status = 200, description = "One page of call logs", body = LogsPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 500, response = InternalError),
    )
)]
pub async fn list_logs(
    state: web::Data<AppState>,
    _: AdminAuth,
    query: web::Query<LogsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest {
            message: format!("limit must be between 1 and {MAX_LIMIT}"),
            param: Some("limit".into()),
        });
    }
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some("success") => Some(StatusFilter::Success),
        Some("error") => Some(StatusFilter::Error),
        Some(code) => Some(StatusFilter::Exact(code.parse().map_err(|_| {
            ApiError::BadRequest {
                message: "status must be success, error or an HTTP status code".into(),
                param: Some("status".into()),
            }
        })?)),
    };
    let filter = LogFilter {
        before: q.before,
        key_id: q.key_id,
        client_key_id: q.client_key_id,
        model: q.model.filter(|m| !m.is_empty()),
        provider: q.provider.filter(|p| !p.is_empty()),
        endpoint: q.endpoint.filter(|e| !e.is_empty()),
        status,
        since: q.since,
        until: q.until,
    };
    state.writer.flush().await;
    let rows = state
        .db
        .run(move |conn| call_logs::page(conn, &filter, limit + 1))
        .await?;
    let has_more = rows.len() as i64 > limit;
    let data: Vec<CallLogView> = rows.into_iter().take(limit as usize).map(view).collect();
    let next_before = if has_more {
        data.last().map(|r| r.id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(LogsPage { data, next_before }))
}

/// Gets one call: attempt trail, tokens, cost, the prices charged, latency, error.
#[utoipa::path(
    get,
    path = "/api/logs/{id}",
    tag = "observability",
    responses(
        (status = 200, description = "The call", body = CallLogView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
    )
)]
pub async fn get_log(
    state: web::Data<AppState>,
    _: AdminAuth,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state.writer.flush().await;
    let row = state
        .db
        .run(move |conn| call_logs::get(conn, id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no call log with id {id}")))?;
    Ok(HttpResponse::Ok().json(view(row)))
}

fn view(r: CallLogRow) -> CallLogView {
    CallLogView {
        id: i64::from(r.id),
        created_at: r.created_at,
        request_id: r.request_id,
        key_id: r.key_id.map(i64::from),
        key_name: r.key_name,
        client_key_id: r.client_key_id.map(i64::from),
        provider: r.provider,
        model: r.model,
        endpoint: r.endpoint,
        stream: r.stream,
        status: r.status,
        error: r.error,
        latency_ms: r.latency_ms,
        ttfb_ms: r.ttfb_ms,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        cached_tokens: r.cached_tokens,
        total_tokens: r.total_tokens,
        cost_usd: r.cost_usd,
        attempts: r.attempts,
        attempt_trail: r
            .attempt_trail
            .as_deref()
            .and_then(|t| serde_json::from_str::<Vec<AttemptView>>(t).ok())
            .unwrap_or_default(),
        prices: match (r.price_input, r.price_output) {
            (Some(input), Some(output)) => Some(CallPrices {
                input,
                output,
                cached_input: r.price_cached_input,
                cache_write: r.price_cache_write,
                per_call: r.price_per_call.unwrap_or(0.0),
            }),
            _ => r.price_per_call.map(|per_call| CallPrices {
                per_call,
                ..Default::default()
            }),
        },
    }
}
