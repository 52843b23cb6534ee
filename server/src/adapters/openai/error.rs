//! OpenAI's error shape, `{"error":{"message","type","param","code"}}`, both ways: an
//! OpenAI-format upstream's error read into the canonical [`Failure`], and a canonical failure
//! (or api-proxy's own error) written for an OpenAI client.

use actix_web::http::StatusCode;
use actix_web::ResponseError;
use bytes::Bytes;
use serde::Deserialize;

use crate::adapters::canonical::{ErrorKind, Failure, StreamFailure};
use crate::adapters::sse::data_event;
use crate::adapters::{body_says, classify_status, snippet};
use crate::error::{error_body, ApiError};
use crate::routing::Signal;

#[derive(Deserialize)]
struct ErrorCarrier {
    error: ErrorFields,
}

#[derive(Deserialize)]
struct ErrorFields {
    #[serde(default)]
    message: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
}

/// Whether `body` is already an OpenAI-shaped error (`{"error":{"message":...}}`).
pub fn is_openai_error(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorCarrier>(body).is_ok_and(|e| !e.error.message.is_empty())
}

/// An upstream error body in OpenAI's shape: passed through when it already is (Azure's
/// content-filter details included), else wrapped with a snippet of what came back.
pub fn error_body_for(status: StatusCode, raw: &[u8]) -> Bytes {
    if is_openai_error(raw) {
        return Bytes::copy_from_slice(raw);
    }
    let snippet = snippet(raw);
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
}

/// What a failed OpenAI-format answer means for the key: OpenAI answers an unpaid account with
/// 429 `insufficient_quota`.
pub fn classify_failure(status: StatusCode, body: &[u8], retry_at: Option<i64>) -> Signal {
    if status.as_u16() == 429 && body_says(body, "insufficient_quota") {
        return Signal::QuotaRejected;
    }
    classify_status(status, retry_at)
}

/// The kind an OpenAI-format upstream means by its status.
fn kind_of(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Authentication,
        402 => ErrorKind::Billing,
        403 => ErrorKind::Permission,
        404 => ErrorKind::NotFound,
        413 => ErrorKind::RequestTooLarge,
        429 => ErrorKind::RateLimit,
        408 | 504 => ErrorKind::Timeout,
        503 | 529 => ErrorKind::Overloaded,
        s if s >= 500 => ErrorKind::Api,
        _ => ErrorKind::InvalidRequest,
    }
}

/// An OpenAI-format upstream's error answer.
pub fn parse_failure(status: StatusCode, body: &[u8]) -> Failure {
    let kind = Some(kind_of(status.as_u16()));
    match serde_json::from_slice::<ErrorCarrier>(body) {
        Ok(e) if !e.error.message.is_empty() => Failure {
            status: status.as_u16(),
            kind,
            message: e.error.message,
            code: match e.error.code {
                Some(serde_json::Value::String(code)) => Some(code),
                _ => e.error.kind,
            },
        },
        _ => {
            let snippet = snippet(body);
            Failure {
                status: status.as_u16(),
                kind,
                message: if snippet.trim().is_empty() {
                    format!("the upstream returned HTTP {}", status.as_u16())
                } else {
                    format!(
                        "the upstream returned HTTP {}: {}",
                        status.as_u16(),
                        snippet.trim()
                    )
                },
                code: Some("upstream_error".into()),
            }
        }
    }
}

/// The status and OpenAI error type a client expects for a failure of another vendor.
fn status_and_type(failure: &Failure) -> (StatusCode, &'static str) {
    let upstream = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_GATEWAY);
    match failure.kind {
        Some(ErrorKind::InvalidRequest) => (StatusCode::BAD_REQUEST, "invalid_request_error"),
        Some(ErrorKind::Authentication) => (StatusCode::UNAUTHORIZED, "authentication_error"),
        Some(ErrorKind::Permission) => (StatusCode::FORBIDDEN, "permission_error"),
        Some(ErrorKind::NotFound) => (StatusCode::NOT_FOUND, "invalid_request_error"),
        Some(ErrorKind::RequestTooLarge) => {
            (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error")
        }
        Some(ErrorKind::RateLimit) => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"),
        Some(ErrorKind::Overloaded) => (StatusCode::SERVICE_UNAVAILABLE, "server_error"),
        Some(ErrorKind::Api) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        // 529 is Anthropic's "overloaded"; it is not a standard status.
        Some(ErrorKind::Billing | ErrorKind::Timeout) | None if failure.status == 529 => {
            (StatusCode::SERVICE_UNAVAILABLE, "server_error")
        }
        Some(ErrorKind::Billing | ErrorKind::Timeout) | None if upstream.is_client_error() => {
            (upstream, "invalid_request_error")
        }
        Some(ErrorKind::Billing | ErrorKind::Timeout) | None => {
            (StatusCode::BAD_GATEWAY, "server_error")
        }
    }
}

/// Another vendor's failure, as an OpenAI client expects it.
pub fn render_failure(failure: &Failure) -> (StatusCode, Bytes) {
    let (status, kind) = status_and_type(failure);
    (
        status,
        error_body(&failure.message, kind, None, failure.code.as_deref()),
    )
}

/// api-proxy's own error, as every OpenAI client expects it.
pub fn render_error(error: &ApiError) -> (StatusCode, Bytes) {
    (error.status_code(), error.body())
}

/// The `data:` event that ends a failed stream.
pub fn stream_error_event(failure: &StreamFailure) -> Bytes {
    data_event(&error_body(
        &failure.message,
        "api_error",
        None,
        Some("upstream_stream_error"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_openai_errors_are_wrapped() {
        let body = error_body_for(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"]["message"].as_str().unwrap().contains("502"));
        assert_eq!(v["error"]["code"], "upstream_error");
        let passthrough =
            br#"{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}"#;
        assert_eq!(
            &error_body_for(StatusCode::TOO_MANY_REQUESTS, passthrough)[..],
            passthrough
        );
        assert!(is_openai_error(
            br#"{"error":{"message":"bad","type":"x"}}"#
        ));
        assert!(!is_openai_error(b"<html>502</html>"));
    }

    #[test]
    fn failures_are_classified() {
        let c = |status: u16, body: &str| {
            classify_failure(
                StatusCode::from_u16(status).unwrap(),
                body.as_bytes(),
                Some(9),
            )
        };
        assert_eq!(c(429, "{}"), Signal::RateLimited { until_ms: Some(9) });
        assert_eq!(
            c(429, r#"{"error":{"code":"insufficient_quota"}}"#),
            Signal::QuotaRejected
        );
        assert_eq!(c(402, ""), Signal::QuotaRejected);
        assert_eq!(c(401, ""), Signal::AuthRejected);
        assert_eq!(c(403, ""), Signal::AuthRejected);
        assert_eq!(c(408, ""), Signal::Failure);
        assert_eq!(c(500, ""), Signal::Failure);
        assert_eq!(c(400, "bad"), Signal::ClientError);
        assert_eq!(c(404, ""), Signal::ClientError);
    }

    #[test]
    fn upstream_errors_are_understood() {
        let f = parse_failure(
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(f.kind, Some(ErrorKind::RateLimit));
        assert_eq!(f.message, "slow down");
        assert_eq!(f.code.as_deref(), Some("rate_limit_exceeded"));
        let f = parse_failure(StatusCode::SERVICE_UNAVAILABLE, b"<html>down</html>");
        assert_eq!(f.kind, Some(ErrorKind::Overloaded));
        assert!(f.message.contains("503") && f.message.contains("down"));
    }
}
