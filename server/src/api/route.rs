//! `GET /api/route?model=&provider=&stream=`: each candidate key's filters and score components,
//! and the key that would win now.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use shared::routes::{RouteCandidate, RouteExplanation, ScoreView};
use utoipa::IntoParams;

use super::auth::AdminAuth;
use super::openapi::responses::{BadRequest, Unauthorized};
use crate::error::ApiError;
use crate::routing::pick::explain;
use crate::routing::PickQuery;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RouteQuery {
    /// The model a client would ask for.
    #[param(example = "gpt-4o")]
    model: String,
    /// Only keys of this provider.
    provider: Option<String>,
    /// Rank as for a streamed request (time to first byte rather than total time).
    #[serde(default)]
    stream: bool,
}

/// Explains which key would serve a model now.
///
/// Every candidate with the filter that excludes it or its score components, and the winner.
/// Nothing is sent upstream.
#[utoipa::path(
    get,
    path = "/api/route",
    tag = "observability",
    params(RouteQuery),
    responses(
        (status = 200, description = "The routing decision", body = RouteExplanation),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn get_route(
    state: web::Data<AppState>,
    _: AdminAuth,
    query: web::Query<RouteQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    if q.model.trim().is_empty() {
        return Err(ApiError::BadRequest {
            message: "model is required".into(),
            param: Some("model".into()),
        });
    }
    let settings = state.settings();
    let alias = state.model_alias(&settings, &q.model);
    let strategy = settings.strategy_for(&q.model);
    let now = state.clock.now_ms();
    let pick_query = PickQuery {
        model: &q.model,
        alias: alias.as_deref(),
        provider: q.provider.as_deref(),
        exclude: &[],
        only_key: None,
        conversation: None,
        strategy,
        stream: q.stream,
        now_ms: now,
    };
    let (rows, winner) = explain(&state.board, &pick_query);
    let tier = winner
        .and_then(|id| rows.iter().find(|(b, _, _)| b.key_id() == id))
        .and_then(|(b, _, _)| b.profile.priority);
    let candidates = rows
        .into_iter()
        .map(|(bid, filter, score)| RouteCandidate {
            key_id: i64::from(bid.key_id()),
            name: bid.profile.name.clone(),
            provider: bid.profile.provider_id().to_owned(),
            model: pick_query.model_for(&bid).map(str::to_owned),
            priority: bid.profile.priority,
            state: bid.state_at(now).0,
            filtered: filter.map(|f| f.to_string()),
            score: score.map(|s| ScoreView {
                quota: s.quota,
                cost: s.cost,
                latency: s.latency,
                headroom: s.headroom,
                total: s.total,
                estimated_cost_usd: s.estimated_cost_usd,
                latency_ms: s.latency_ms,
            }),
        })
        .collect();
    Ok(HttpResponse::Ok().json(RouteExplanation {
        model: q.model,
        strategy,
        tier,
        winner: winner.map(i64::from),
        candidates,
    }))
}
