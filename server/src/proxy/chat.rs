//! `POST /v1/chat/completions` and its seed-compatible twins.

use std::time::Duration;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::Bytes;
use shared::providers::ProviderFormat;

use super::record::CallRecord;
use super::stream::{relay, RelayOptions};
use super::target::upstream_target;
use crate::adapters::openai::{self, ChatRequest, Rewrite};
use crate::error::{error_body, ApiError};
use crate::routing::{pick_best, Bid, PickQuery};
use crate::state::AppState;
use crate::upstream::{self, UpstreamError, MAX_RESPONSE_BYTES};

/// Largest upstream error body read (the rest is not needed to explain the error).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// One client request.
pub struct ChatCall<'a> {
    pub body: Bytes,
    /// Only keys of this provider may serve it.
    pub provider: Option<&'a str>,
    pub client_key_id: Option<i32>,
    pub endpoint: &'static str,
}

/// Whether a failed attempt may be retried on another key.
fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 403 | 408 | 409 | 429) || status.is_server_error()
}

pub async fn chat_completions(
    state: &AppState,
    client: &awc::Client,
    call: ChatCall<'_>,
) -> Result<HttpResponse, ApiError> {
    let request = ChatRequest::parse(&call.body)?;
    let settings = state.settings();
    let model = settings
        .model_aliases
        .get(&request.model)
        .cloned()
        .unwrap_or_else(|| request.model.clone());
    let mut any_key = false;
    state.board.for_each(|bid| {
        any_key |= PickQuery {
            model: &model,
            provider: call.provider,
            exclude: &[],
        }
        .matches(bid)
    });
    if !any_key {
        return Err(ApiError::ModelNotFound(request.model.clone()));
    }

    let mut record = CallRecord::new(
        state.keys.clone(),
        state.writer.clone(),
        model.clone(),
        call.endpoint,
        request.stream,
        call.client_key_id,
    );
    let first_byte = Duration::from_millis(settings.first_byte_timeout_ms);
    let idle = Duration::from_millis(settings.stream_idle_timeout_ms);
    let mut tried: Vec<i32> = Vec::new();
    let mut last_error: Option<ApiError> = None;

    while record.attempts < settings.max_attempts as i32 {
        let query = PickQuery {
            model: &model,
            provider: call.provider,
            exclude: &tried,
        };
        let Some(bid) = pick_best(&state.board, &query) else {
            break;
        };
        tried.push(bid.key_id());
        if bid.profile.format() == ProviderFormat::Anthropic {
            // Not translated yet: try another key without spending an attempt.
            last_error.get_or_insert_with(|| {
                ApiError::NotImplemented(format!(
                    "provider `{}` uses the {:?} format, which this build cannot translate yet",
                    bid.profile.provider_id(),
                    bid.profile.format()
                ))
            });
            continue;
        }
        record.begin_attempt(bid.profile.clone());
        let target = upstream_target(&bid.profile, &state.cipher, &model, "chat/completions")?;
        let body = request
            .rewrite(Rewrite {
                model: Some(&model),
                request_usage: true,
            })
            .map_or_else(|| call.body.clone(), Bytes::from);

        let mut response = match upstream::send(client, &target, body, first_byte).await {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(key_id = bid.key_id(), request_id = %record.request_id, error = %e, "upstream attempt failed");
                record.attempt_failed(false);
                last_error = Some(match e {
                    UpstreamError::Timeout(_) => ApiError::UpstreamTimeout(e.to_string()),
                    UpstreamError::Connect(_) | UpstreamError::Protocol(_) => {
                        ApiError::UpstreamConnect(e.to_string())
                    }
                });
                continue;
            }
        };
        record.mark_first_byte();
        let status = response.status();
        let scrub = secret_for_scrub(state, &bid);

        if !status.is_success() {
            let raw = read_body(&mut response, MAX_ERROR_BODY, first_byte)
                .await
                .unwrap_or_default();
            let body = normalise_error(status, &raw, scrub.as_deref());
            record.attempt_failed(matches!(status.as_u16(), 401 | 403));
            tracing::warn!(key_id = bid.key_id(), request_id = %record.request_id, %status, "upstream answered with an error");
            let error = ApiError::Upstream { status, body };
            if retryable(status) {
                last_error = Some(error);
                continue;
            }
            finish_failed(record, &error);
            return Err(error);
        }

        let is_sse = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if request.stream && is_sse {
            let ttfb = record.attempt_ms();
            let mut builder = response_head(&record, &bid, StatusCode::OK);
            builder
                .insert_header((header::CONTENT_TYPE, "text/event-stream"))
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .insert_header((HeaderName::from_static("x-accel-buffering"), "no"));
            let options = RelayOptions {
                strip_usage: !request.include_usage,
                idle_timeout: idle,
                scrub,
            };
            return Ok(builder.streaming(relay(response, record, options, ttfb)));
        }

        let body = match read_body(&mut response, MAX_RESPONSE_BYTES, first_byte).await {
            Ok(body) => body,
            Err(e) => {
                record.attempt_failed(false);
                last_error = Some(ApiError::UpstreamInvalid(format!(
                    "the upstream response could not be read: {e}"
                )));
                continue;
            }
        };
        let Ok(usage) = openai::response_usage(&body) else {
            record.attempt_failed(false);
            last_error = Some(ApiError::UpstreamInvalid(
                "the upstream answered with a body that is not valid JSON".into(),
            ));
            continue;
        };
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("application/json"));
        let mut builder = response_head(&record, &bid, status);
        builder.insert_header((header::CONTENT_TYPE, content_type));
        let latency = record.attempt_ms();
        record.finish(status.as_u16(), usage, None, latency);
        return Ok(builder.body(body));
    }

    let error = last_error.unwrap_or_else(|| {
        ApiError::NoKeyAvailable(format!(
            "no enabled key with quota left can serve model `{}` right now",
            request.model
        ))
    });
    finish_failed(record, &error);
    Err(error)
}

fn finish_failed(record: CallRecord, error: &ApiError) {
    use actix_web::ResponseError;
    let status = error.status_code().as_u16();
    let latency = record.attempt_ms();
    let message = match error {
        ApiError::Upstream { body, .. } => {
            String::from_utf8_lossy(body).chars().take(500).collect()
        }
        other => other.to_string(),
    };
    record.finish(status, None, Some(message), latency);
}

/// Response headers that explain the routing (never the secret).
fn response_head(
    record: &CallRecord,
    bid: &Bid,
    status: StatusCode,
) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    if let Ok(name) = HeaderValue::from_str(&bid.profile.name) {
        builder.insert_header((HeaderName::from_static("x-api-proxy-key"), name));
    }
    builder
        .insert_header((
            HeaderName::from_static("x-api-proxy-provider"),
            bid.profile.provider_id().to_owned(),
        ))
        .insert_header((
            HeaderName::from_static("x-api-proxy-attempts"),
            record.attempts.to_string(),
        ))
        .insert_header((
            HeaderName::from_static("x-request-id"),
            record.request_id.clone(),
        ));
    builder
}

/// The key in plaintext, kept only to scrub it from anything the upstream sends back.
fn secret_for_scrub(state: &AppState, bid: &Bid) -> Option<String> {
    state
        .cipher
        .open_secret(&bid.profile.sealed_secret, &bid.profile.uid)
        .ok()
        .map(|s| s.expose().to_owned())
        .filter(|s| s.len() >= 6)
}

async fn read_body(
    response: &mut awc::ClientResponse,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, String> {
    match tokio::time::timeout(deadline, response.body().limit(limit)).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no complete body within {deadline:?}")),
    }
}

/// Upstream error bodies reach the client in OpenAI's shape, with the key scrubbed out.
fn normalise_error(status: StatusCode, raw: &[u8], scrub: Option<&str>) -> Bytes {
    let body = if openai::is_openai_error(raw) {
        Bytes::copy_from_slice(raw)
    } else {
        let snippet: String = String::from_utf8_lossy(raw).chars().take(300).collect();
        let message = if snippet.trim().is_empty() {
            format!("the upstream returned HTTP {}", status.as_u16())
        } else {
            format!(
                "the upstream returned HTTP {}: {}",
                status.as_u16(),
                snippet.trim()
            )
        };
        let kind = if status.is_server_error() {
            "api_error"
        } else {
            "invalid_request_error"
        };
        error_body(&message, kind, None, Some("upstream_error"))
    };
    match scrub {
        Some(secret) if memchr::memmem::find(&body, secret.as_bytes()).is_some() => {
            String::from_utf8_lossy(&body)
                .replace(secret, "***")
                .into_bytes()
                .into()
        }
        _ => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_openai_errors_are_wrapped_and_keys_scrubbed() {
        let body = normalise_error(
            StatusCode::BAD_GATEWAY,
            b"<html>bad gateway for sk-secret-123</html>",
            Some("sk-secret-123"),
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("502"));
        assert!(!message.contains("sk-secret-123"));
        let passthrough =
            br#"{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}"#;
        assert_eq!(
            &normalise_error(StatusCode::TOO_MANY_REQUESTS, passthrough, None)[..],
            passthrough
        );
    }

    #[test]
    fn retry_policy() {
        assert!(retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(retryable(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(retryable(StatusCode::UNAUTHORIZED));
        assert!(!retryable(StatusCode::BAD_REQUEST));
        assert!(!retryable(StatusCode::NOT_FOUND));
    }
}
