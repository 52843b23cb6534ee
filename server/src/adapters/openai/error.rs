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
/// content-filter details included), completed when it is missing one of `type`, `param` and
/// `code` or carries a code that is not a string (Azure answers 401 with
/// `{"error":{"code":"401","message":…}}`, without `type`), else wrapped with a snippet of what
/// came back.
pub fn error_body_for(status: StatusCode, raw: &[u8]) -> Bytes {
    if is_openai_error(raw) {
        return match complete_error(status, raw) {
            Some(completed) => completed,
            None => Bytes::copy_from_slice(raw),
        };
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
    error_body(
        &message,
        type_for_status(status),
        None,
        Some("upstream_error"),
    )
}

/// OpenAI's error `type` for an upstream status, for an error that names none.
fn type_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// An OpenAI-style error with `type`, `param` and `code` filled in, or `None` when it already has
/// them all (the usual case: then the upstream's bytes are passed on untouched). Every other
/// member (Azure's `innererror`, say) is kept.
fn complete_error(status: StatusCode, raw: &[u8]) -> Option<Bytes> {
    let mut envelope: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(raw).ok()?;
    let error = envelope.get_mut("error")?.as_object_mut()?;
    let mut changed = false;
    if !error.get("type").is_some_and(serde_json::Value::is_string) {
        error.insert("type".into(), type_for_status(status).into());
        changed = true;
    }
    if !error.contains_key("param") {
        error.insert("param".into(), serde_json::Value::Null);
        changed = true;
    }
    match error.get("code") {
        Some(serde_json::Value::String(_) | serde_json::Value::Null) => {}
        // A number (`401`) or anything else: OpenAI's SDKs expect a string.
        Some(other) => {
            let code = match other {
                serde_json::Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            error.insert("code".into(), code.into());
            changed = true;
        }
        None => {
            error.insert("code".into(), serde_json::Value::Null);
            changed = true;
        }
    }
    changed.then(|| {
        serde_json::to_vec(&envelope)
            .expect("a JSON map serialises")
            .into()
    })
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
        let passthrough = br#"{"error":{"message":"Rate limit","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
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
    fn incomplete_openai_errors_are_completed() {
        let json = |b: &Bytes| serde_json::from_slice::<serde_json::Value>(b).unwrap();
        // Azure's 401: no `type`, no `param`.
        let azure = br#"{"error":{"code":"401","message":"Access denied due to invalid subscription key."}}"#;
        let v = json(&error_body_for(StatusCode::UNAUTHORIZED, azure));
        assert_eq!(
            v,
            serde_json::json!({"error": {
                "code": "401", "message": "Access denied due to invalid subscription key.",
                "type": "authentication_error", "param": null
            }})
        );
        // A numeric code becomes a string; other members are kept.
        let numeric = br#"{"error":{"message":"busy","code":503,"innererror":{"x":1}}}"#;
        let v = json(&error_body_for(StatusCode::SERVICE_UNAVAILABLE, numeric));
        assert_eq!(v["error"]["code"], "503");
        assert_eq!(v["error"]["type"], "api_error");
        assert_eq!(v["error"]["innererror"]["x"], 1);
        // The wrapped form names a type too.
        let v = json(&error_body_for(StatusCode::FORBIDDEN, b"nope"));
        assert_eq!(v["error"]["type"], "permission_error");
        for body in [
            &azure[..],
            &numeric[..],
            br#"{"error":{"message":"m","type":"t"}}"#,
        ] {
            let v = json(&error_body_for(StatusCode::BAD_REQUEST, body));
            for field in ["message", "type", "param", "code"] {
                assert!(v["error"].get(field).is_some(), "{field} in {v}");
            }
        }
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
