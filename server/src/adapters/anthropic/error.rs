//! Anthropic's error shape, `{"type":"error","error":{"type","message"}}`, both ways: an
//! Anthropic key's error read into the canonical [`Failure`], and a canonical failure (or
//! api-proxy's own error) written for a Messages client with Anthropic's statuses (529 for
//! overloaded).

use actix_web::http::StatusCode;
use actix_web::ResponseError;
use bytes::Bytes;

use super::wire::{AnthropicErrorEnvelope, AnthropicErrorEnvelopeOut, AnthropicErrorOut};
use crate::adapters::canonical::{ErrorKind, Failure};
use crate::adapters::{body_says, classify_status, snippet};
use crate::error::ApiError;
use crate::routing::Signal;

/// Anthropic's "overloaded" status; not a standard one.
pub const OVERLOADED: u16 = 529;

/// An Anthropic error type in the canonical vocabulary.
pub(super) fn error_kind(kind: &str) -> Option<ErrorKind> {
    Some(match kind {
        "invalid_request_error" => ErrorKind::InvalidRequest,
        "authentication_error" => ErrorKind::Authentication,
        "billing_error" => ErrorKind::Billing,
        "permission_error" => ErrorKind::Permission,
        "not_found_error" => ErrorKind::NotFound,
        "request_too_large" => ErrorKind::RequestTooLarge,
        "rate_limit_error" => ErrorKind::RateLimit,
        "api_error" => ErrorKind::Api,
        "timeout_error" => ErrorKind::Timeout,
        "overloaded_error" => ErrorKind::Overloaded,
        _ => return None,
    })
}

/// A canonical error kind as Anthropic names it, with its status.
pub(super) fn type_and_status(kind: ErrorKind) -> (&'static str, u16) {
    match kind {
        ErrorKind::InvalidRequest => ("invalid_request_error", 400),
        ErrorKind::Authentication => ("authentication_error", 401),
        ErrorKind::Billing => ("billing_error", 402),
        ErrorKind::Permission => ("permission_error", 403),
        ErrorKind::NotFound => ("not_found_error", 404),
        ErrorKind::RequestTooLarge => ("request_too_large", 413),
        ErrorKind::RateLimit => ("rate_limit_error", 429),
        ErrorKind::Api => ("api_error", 500),
        ErrorKind::Timeout => ("timeout_error", 504),
        ErrorKind::Overloaded => ("overloaded_error", OVERLOADED),
    }
}

/// What a failed Anthropic answer means for the key: an account out of credit answers 400
/// "Your credit balance is too low".
pub fn classify_failure(status: StatusCode, body: &[u8], retry_at: Option<i64>) -> Signal {
    if status.as_u16() == 400 && body_says(body, "credit balance") {
        return Signal::QuotaRejected;
    }
    classify_status(status, retry_at)
}

/// An Anthropic key's error answer.
pub fn parse_failure(status: StatusCode, body: &[u8]) -> Failure {
    match serde_json::from_slice::<AnthropicErrorEnvelope>(body) {
        Ok(envelope) => {
            let message = if envelope.error.message.is_empty() {
                format!("Anthropic returned {}", envelope.error.kind)
            } else {
                envelope.error.message
            };
            Failure {
                status: status.as_u16(),
                kind: error_kind(&envelope.error.kind),
                message,
                code: Some(envelope.error.kind),
            }
        }
        Err(_) => Failure {
            status: status.as_u16(),
            kind: None,
            message: format!(
                "Anthropic returned HTTP {}: {}",
                status.as_u16(),
                snippet(body).trim()
            ),
            code: Some("upstream_error".into()),
        },
    }
}

/// `{"type":"error","error":{"type":kind,"message":message}}`.
pub fn error_body(kind: &str, message: &str) -> Bytes {
    serde_json::to_vec(&AnthropicErrorEnvelopeOut {
        kind: "error",
        error: AnthropicErrorOut { kind, message },
    })
    .expect("error serialises")
    .into()
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY)
}

/// Another vendor's failure, as a Messages client expects it.
pub fn render_failure(failure: &Failure) -> (StatusCode, Bytes) {
    let (kind, code) = match failure.kind {
        Some(kind) => type_and_status(kind),
        None if failure.status == OVERLOADED || failure.status == 503 => {
            type_and_status(ErrorKind::Overloaded)
        }
        None if (400..500).contains(&failure.status) => ("invalid_request_error", failure.status),
        None => ("api_error", 502),
    };
    (status(code), error_body(kind, &failure.message))
}

/// An error answer of an Anthropic key, as it came when it is Anthropic-shaped; else wrapped.
pub fn passthrough_error(upstream: StatusCode, body: &[u8]) -> (StatusCode, Bytes) {
    if serde_json::from_slice::<AnthropicErrorEnvelope>(body)
        .is_ok_and(|e| e.kind == "error" && !e.error.kind.is_empty())
    {
        return (upstream, Bytes::copy_from_slice(body));
    }
    render_failure(&parse_failure(upstream, body))
}

/// api-proxy's own error, in Anthropic's words and statuses.
pub fn render_error(error: &ApiError) -> (StatusCode, Bytes) {
    if let ApiError::Upstream { status, body } = error {
        // Already rendered for this dialect by the call.
        return (*status, body.clone());
    }
    let kind = match error {
        ApiError::BadRequest { .. }
        | ApiError::MethodNotAllowed { .. }
        | ApiError::HeadersTooLarge(_)
        | ApiError::RequestTimeout(_)
        | ApiError::UnsupportedMediaType(_) => ErrorKind::InvalidRequest,
        ApiError::Unauthorized(_) => ErrorKind::Authentication,
        ApiError::Forbidden(_) => ErrorKind::Permission,
        ApiError::NotFound(_) | ApiError::ModelNotFound(_) => ErrorKind::NotFound,
        ApiError::PayloadTooLarge(_) => ErrorKind::RequestTooLarge,
        ApiError::AllKeysThrottled { .. } | ApiError::AuthThrottled { .. } => ErrorKind::RateLimit,
        // No key can take the call now: Anthropic's clients retry an overloaded API.
        ApiError::NoKeyAvailable(_) => ErrorKind::Overloaded,
        ApiError::UpstreamTimeout(_) => ErrorKind::Timeout,
        ApiError::UpstreamConnect(_)
        | ApiError::UpstreamInvalid(_)
        | ApiError::UpstreamKeyRejected(_)
        | ApiError::Storage(_)
        | ApiError::Internal(_)
        | ApiError::Upstream { .. } => ErrorKind::Api,
    };
    let (name, code) = type_and_status(kind);
    // Statuses Anthropic does not use for these keep api-proxy's own.
    let code = match kind {
        ErrorKind::InvalidRequest | ErrorKind::Api => error.status_code().as_u16(),
        _ => code,
    };
    (status(code), error_body(name, &error.client_message()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
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
            c(400, "Your credit balance is too low"),
            Signal::QuotaRejected
        );
        assert_eq!(c(401, ""), Signal::AuthRejected);
        assert_eq!(c(529, ""), Signal::Failure);
        assert_eq!(c(400, "bad"), Signal::ClientError);
    }

    #[test]
    fn own_errors_take_anthropic_types_and_statuses() {
        let (status, body) = render_error(&ApiError::NoKeyAvailable("none".into()));
        assert_eq!(status.as_u16(), 529);
        assert_eq!(
            json(&body),
            serde_json::json!({"type": "error", "error": {"type": "overloaded_error", "message": "none"}})
        );
        let (status, body) = render_error(&ApiError::ModelNotFound("gpt-9".into()));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(json(&body)["error"]["type"], "not_found_error");
        let (status, body) = render_error(&ApiError::PayloadTooLarge("big".into()));
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(json(&body)["error"]["type"], "request_too_large");
        let (status, body) = render_error(&ApiError::Unauthorized("who".into()));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(json(&body)["error"]["type"], "authentication_error");
        let (status, _) = render_error(&ApiError::UnsupportedMediaType("xml".into()));
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let (status, body) = render_error(&ApiError::Internal("/secret/path".into()));
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!json(&body).to_string().contains("/secret/path"));
    }

    #[test]
    fn other_vendors_failures_take_anthropic_types() {
        let failure = |status: u16, kind: Option<ErrorKind>| Failure {
            status,
            kind,
            message: "m".into(),
            code: None,
        };
        let (status, body) = render_failure(&failure(503, Some(ErrorKind::Overloaded)));
        assert_eq!(status.as_u16(), 529);
        assert_eq!(json(&body)["error"]["type"], "overloaded_error");
        let (status, _) = render_failure(&failure(429, Some(ErrorKind::RateLimit)));
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let (status, body) = render_failure(&failure(418, None));
        assert_eq!(status.as_u16(), 418);
        assert_eq!(json(&body)["error"]["type"], "invalid_request_error");
    }

    #[test]
    fn anthropic_errors_pass_through_and_others_are_wrapped() {
        let raw = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
        let (status, body) = passthrough_error(StatusCode::from_u16(529).unwrap(), raw);
        assert_eq!((status.as_u16(), &body[..]), (529, &raw[..]));
        let (status, body) = passthrough_error(StatusCode::BAD_GATEWAY, b"<html>bad</html>");
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert!(json(&body)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("<html>bad</html>"));
    }
}

/// Anthropic errors rendered for OpenAI clients: the composition the chat surface uses.
#[cfg(test)]
mod openai_client_tests {
    use super::*;
    use crate::adapters::openai::error::render_failure as render_openai;
    use serde_json::Value;

    fn translate_error(upstream: StatusCode, body: &[u8]) -> (StatusCode, Bytes) {
        render_openai(&parse_failure(upstream, body))
    }

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
