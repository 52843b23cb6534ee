//! Anthropic errors (`{"type":"error","error":{"type","message"}}`) -> OpenAI's shape and status.

use actix_web::http::StatusCode;
use bytes::Bytes;

use super::wire::AnthropicErrorEnvelope;
use crate::error::error_body;

/// Maps an Anthropic error type to the status and OpenAI error type a client expects.
pub(super) fn classify(kind: &str, upstream: StatusCode) -> (StatusCode, &'static str) {
    match kind {
        "invalid_request_error" => (StatusCode::BAD_REQUEST, "invalid_request_error"),
        "authentication_error" => (StatusCode::UNAUTHORIZED, "authentication_error"),
        "permission_error" => (StatusCode::FORBIDDEN, "permission_error"),
        "not_found_error" => (StatusCode::NOT_FOUND, "invalid_request_error"),
        "request_too_large" => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error"),
        "rate_limit_error" => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"),
        "overloaded_error" => (StatusCode::SERVICE_UNAVAILABLE, "server_error"),
        "api_error" => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        // 529 is Anthropic's "overloaded"; it is not a standard status.
        _ if upstream.as_u16() == 529 => (StatusCode::SERVICE_UNAVAILABLE, "server_error"),
        _ if upstream.is_client_error() => (upstream, "invalid_request_error"),
        _ => (StatusCode::BAD_GATEWAY, "server_error"),
    }
}

/// The status and OpenAI-shaped body for an Anthropic error response.
pub fn translate_error(upstream: StatusCode, body: &[u8]) -> (StatusCode, Bytes) {
    match serde_json::from_slice::<AnthropicErrorEnvelope>(body) {
        Ok(envelope) => {
            let (status, kind) = classify(&envelope.error.kind, upstream);
            let message = if envelope.error.message.is_empty() {
                format!("Anthropic returned {}", envelope.error.kind)
            } else {
                envelope.error.message
            };
            (
                status,
                error_body(&message, kind, None, Some(&envelope.error.kind)),
            )
        }
        Err(_) => {
            let (status, kind) = classify("", upstream);
            let snippet: String = String::from_utf8_lossy(body).chars().take(300).collect();
            let message = format!(
                "Anthropic returned HTTP {}: {}",
                upstream.as_u16(),
                snippet.trim()
            );
            (
                status,
                error_body(&message, kind, None, Some("upstream_error")),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn check(status: u16, kind: &str, expect: u16) -> Value {
        let body =
            format!(r#"{{"type":"error","error":{{"type":"{kind}","message":"m-{kind}"}}}}"#);
        let (got, out) = translate_error(StatusCode::from_u16(status).unwrap(), body.as_bytes());
        assert_eq!(got.as_u16(), expect, "{kind}");
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["error"]["message"], format!("m-{kind}"));
        assert_eq!(v["error"]["code"], kind);
        v
    }

    #[test]
    fn statuses_follow_the_error_type() {
        check(529, "overloaded_error", 503);
        check(429, "rate_limit_error", 429);
        check(401, "authentication_error", 401);
        check(403, "permission_error", 403);
        check(400, "invalid_request_error", 400);
        check(404, "not_found_error", 404);
        check(413, "request_too_large", 413);
        check(500, "api_error", 500);
        assert_eq!(
            check(429, "rate_limit_error", 429)["error"]["type"],
            "rate_limit_error"
        );
    }

    #[test]
    fn non_json_errors_are_wrapped() {
        let (status, body) = translate_error(StatusCode::from_u16(529).unwrap(), b"overloaded");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"]["message"].as_str().unwrap().contains("529"));
    }
}
