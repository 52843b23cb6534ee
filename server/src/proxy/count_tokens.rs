//! `POST /v1/messages/count_tokens`: the key the model would be routed to answers when it can
//! count (an Anthropic key: forwarded to its `messages/count_tokens`, exact); otherwise
//! api-proxy estimates ([`crate::adapters::token_estimate`]) and says so in
//! `x-api-proxy-estimate: true`.
//!
//! Counting is free at Anthropic, so it spends no quota (the key's lease is released unspent),
//! adds no cost and is not a call in the call log; a key that fails is skipped for the next one.

use std::time::Duration;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::Bytes;
use serde::Serialize;

use super::scrub::{scrub_shared, Scrubber};
use super::target::upstream_target;
use crate::adapters::anthropic::{self, MessagesDialect, COUNT_TOKENS_OPERATION};
use crate::adapters::{self, token_estimate, ClientDialect, Wire};
use crate::error::ApiError;
use crate::routing::{pick, PickQuery, PickResult, Signal};
use crate::state::AppState;
use crate::upstream;

/// Largest count answer read.
const MAX_COUNT_BODY: usize = 64 * 1024;

#[derive(Serialize)]
struct TokenCount {
    input_tokens: u64,
}

pub async fn count_tokens(
    state: &AppState,
    client: &awc::Client,
    body: Bytes,
    headers: Vec<(HeaderName, HeaderValue)>,
) -> Result<HttpResponse, ApiError> {
    let head = MessagesDialect::parse_head(&body)?;
    super::call::check_model(&head.model)?;
    let settings = state.settings();
    let alias = state.model_alias(&settings, &head.model);
    let base_query = PickQuery {
        model: &head.model,
        alias: alias.as_deref(),
        provider: None,
        exclude: &[],
        only_key: None,
        conversation: None,
        strategy: settings.strategy_for(&head.model),
        stream: false,
        now_ms: state.clock.now_ms(),
    };
    if !state.board.any(|bid| base_query.matches(bid)) {
        return Err(ApiError::ModelNotFound(head.model.clone()));
    }
    let first_byte = Duration::from_millis(settings.first_byte_timeout_ms);
    let mut tried = Vec::new();
    while tried.len() < settings.max_attempts as usize {
        let query = PickQuery {
            exclude: &tried,
            now_ms: state.clock.now_ms(),
            ..base_query
        };
        let PickResult::Picked(picked) = pick(&state.board, &query) else {
            break;
        };
        tried.push(picked.bid.key_id());
        let profile = &picked.bid.profile;
        let upstream = adapters::upstream_dialect(profile.format());
        if upstream
            .native_operation(Wire::AnthropicMessages, &profile.provider.spec)
            .is_none()
        {
            // This key would serve the call through a translation: it cannot count.
            return estimate(&body);
        }
        let payload = anthropic::MESSAGES
            .passthrough_body(&head, &picked.model)
            .map_or_else(|| body.clone(), Bytes::from);
        let url = upstream.url(profile, &picked.model, COUNT_TOKENS_OPERATION);
        let mut target = upstream_target(profile, &state.cipher, url)?;
        target.headers.extend(headers.iter().cloned());
        let Ok(mut response) = upstream::send(client, &target, payload, first_byte).await else {
            continue;
        };
        let status = response.status();
        let raw =
            match tokio::time::timeout(first_byte, response.body().limit(MAX_COUNT_BODY)).await {
                Ok(Ok(raw)) => raw,
                _ => continue,
            };
        let raw = scrub_shared(Scrubber::new(target.secret.expose()).as_ref(), raw);
        if status.is_success() {
            return Ok(HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .insert_header(provider_header(profile.provider_id()))
                .body(raw));
        }
        if upstream.classify_failure(status, &raw, None) == Signal::ClientError {
            let (status, body) = anthropic::MESSAGES.passthrough_error(status, &raw);
            return Err(ApiError::Upstream { status, body });
        }
    }
    // No key could count: the estimate is better than nothing.
    estimate(&body)
}

fn provider_header(provider: &str) -> (HeaderName, String) {
    (
        HeaderName::from_static("x-api-proxy-provider"),
        provider.to_owned(),
    )
}

/// The estimate, marked as one.
fn estimate(body: &[u8]) -> Result<HttpResponse, ApiError> {
    let request = anthropic::MESSAGES
        .to_canonical(body)?
        .ok_or_else(|| ApiError::Internal("a Messages request has a canonical form".into()))?;
    let count = TokenCount {
        input_tokens: token_estimate::estimate_input_tokens(&request),
    };
    Ok(HttpResponse::build(StatusCode::OK)
        .insert_header((HeaderName::from_static("x-api-proxy-estimate"), "true"))
        .json(count))
}
