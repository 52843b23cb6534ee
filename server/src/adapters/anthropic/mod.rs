//! Anthropic's Messages API, as clients speak it on `/v1/messages` (Claude Code, the `anthropic`
//! SDKs) and as Anthropic keys answer it.
//!
//! Traps this dialect handles (each has broken another gateway): `system` lives outside
//! `messages`; consecutive same-role turns must be merged; tool results are `tool_result` blocks
//! of a user turn and come first in it; `tool_use.input` is an object while OpenAI's `arguments`
//! is a string; `temperature` is 0..1; `message_delta.usage.output_tokens` is a running total;
//! `input_tokens` excludes cached tokens; tool block indexes are not tool-call indexes; an empty
//! first `input_json_delta` is sent; an `error` event or a truncated stream is an error, never a
//! clean end; thinking blocks must come back with their signatures untouched (the passthrough
//! never parses them); new betas add fields and block types nobody can list in advance (the
//! passthrough forwards them, and `anthropic-beta`, as received).

mod client_request;
pub mod error;
pub mod relay;
pub mod request;
pub mod response;
pub mod stream;
pub mod stream_render;
mod wire;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use bytes::Bytes;
use shared::providers::ProviderSpec;

use super::canonical::{self, Failure};
use super::{
    AdapterError, AnswerSummary, ClientDialect, EventParser, EventRenderer, InvalidResponse,
    RenderContext, RequestHead, Rewrite, StreamTranslator, UpstreamContext, UpstreamDialect, Wire,
};
use crate::error::ApiError;
use crate::routing::Signal;
pub use relay::AnthropicStreamRelay;
pub use stream::AnthropicEventParser;
pub use stream_render::AnthropicEventRenderer;

/// The Messages API path below an Anthropic base URL.
pub const MESSAGES_OPERATION: &str = "messages";
/// The token counting path below an Anthropic base URL.
pub const COUNT_TOKENS_OPERATION: &str = "messages/count_tokens";

/// Client headers an Anthropic key receives as the client sent them.
const FORWARDED_HEADERS: [&str; 2] = ["anthropic-version", "anthropic-beta"];

/// `POST /v1/messages`.
pub struct MessagesDialect;

pub static MESSAGES: MessagesDialect = MessagesDialect;

impl MessagesDialect {
    /// The routing view of a Messages request: `model` and `messages` are required.
    pub fn parse_head(body: &[u8]) -> Result<RequestHead<'_>, AdapterError> {
        let mut head = RequestHead::parse(body)?;
        head.require_array("messages")?;
        head.read_stream()?;
        Ok(head)
    }
}

/// `anthropic-version` and `anthropic-beta` as the client sent them (a header given several
/// times is joined with commas, which Anthropic reads the same).
pub fn forwarded_headers(headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    for name in FORWARDED_HEADERS {
        let mut values = headers.get_all(name).filter_map(|v| v.to_str().ok());
        let Some(first) = values.next() else {
            continue;
        };
        let joined = values.fold(first.to_owned(), |mut all, v| {
            all.push(',');
            all.push_str(v);
            all
        });
        if let Ok(value) = HeaderValue::from_str(&joined) {
            out.push((HeaderName::from_static(name), value));
        }
    }
    out
}

impl ClientDialect for MessagesDialect {
    fn wire(&self) -> Wire {
        Wire::AnthropicMessages
    }

    fn endpoint(&self) -> &'static str {
        "messages"
    }

    fn parse<'a>(&self, body: &'a [u8]) -> Result<RequestHead<'a>, AdapterError> {
        Self::parse_head(body)
    }

    fn forwarded_headers(&self, headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
        forwarded_headers(headers)
    }

    fn passthrough_body(&self, head: &RequestHead<'_>, model: &str) -> Option<Vec<u8>> {
        head.rewrite(Rewrite {
            model: Some(model),
            request_usage: false,
        })
    }

    fn passthrough_summary<'a>(
        &self,
        body: &'a [u8],
        _finish_reasons: bool,
    ) -> Result<AnswerSummary<'a>, InvalidResponse> {
        relay::response_summary(body)
    }

    fn passthrough_stream(&self, _head: &RequestHead<'_>) -> Box<dyn StreamTranslator> {
        Box::new(AnthropicStreamRelay::default())
    }

    fn passthrough_error(&self, status: StatusCode, body: &[u8]) -> (StatusCode, Bytes) {
        error::passthrough_error(status, body)
    }

    fn to_canonical(&self, body: &[u8]) -> Result<Option<canonical::Request>, AdapterError> {
        client_request::to_canonical(body).map(Some)
    }

    fn render_response(&self, response: canonical::Response, _context: &RenderContext) -> Vec<u8> {
        response::render(&response)
    }

    fn stream_renderer(&self, context: RenderContext) -> Box<dyn EventRenderer> {
        Box::new(AnthropicEventRenderer::new(context))
    }

    fn render_failure(&self, failure: &Failure) -> (StatusCode, Bytes) {
        error::render_failure(failure)
    }

    fn render_error(&self, error: &ApiError) -> (StatusCode, Bytes) {
        error::render_error(error)
    }
}

/// Keys of Anthropic-format providers.
pub struct AnthropicUpstream;

pub static ANTHROPIC_UPSTREAM: AnthropicUpstream = AnthropicUpstream;

impl UpstreamDialect for AnthropicUpstream {
    fn native_operation(&self, wire: Wire, _provider: &ProviderSpec) -> Option<&'static str> {
        match wire {
            Wire::AnthropicMessages => Some(MESSAGES_OPERATION),
            Wire::OpenAiChat | Wire::OpenAiEmbeddings | Wire::OpenAiResponses => None,
        }
    }

    fn operation(&self) -> &'static str {
        MESSAGES_OPERATION
    }

    fn build_request(
        &self,
        request: &canonical::Request,
        context: &UpstreamContext<'_>,
    ) -> Result<Vec<u8>, AdapterError> {
        request::from_canonical(request, context)
    }

    fn parse_response(&self, body: &[u8]) -> Result<canonical::Response, InvalidResponse> {
        response::parse(body)
    }

    fn stream_parser(&self, _context: &RenderContext) -> Box<dyn EventParser> {
        Box::new(AnthropicEventParser::default())
    }

    fn parse_failure(&self, status: StatusCode, body: &[u8]) -> Failure {
        error::parse_failure(status, body)
    }

    fn classify_failure(&self, status: StatusCode, body: &[u8], retry_at: Option<i64>) -> Signal {
        error::classify_failure(status, body, retry_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_betas_are_forwarded_as_sent() {
        let mut headers = HeaderMap::new();
        headers.append(
            HeaderName::from_static("anthropic-beta"),
            HeaderValue::from_static("interleaved-thinking-2025-05-14"),
        );
        headers.append(
            HeaderName::from_static("anthropic-beta"),
            HeaderValue::from_static("brand-new-beta-2099-01-01"),
        );
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static("2023-06-01"),
        );
        headers.insert(
            HeaderName::from_static("x-api-key"),
            HeaderValue::from_static("client-secret"),
        );
        let forwarded = forwarded_headers(&headers);
        assert_eq!(
            forwarded,
            [
                (
                    HeaderName::from_static("anthropic-version"),
                    HeaderValue::from_static("2023-06-01")
                ),
                (
                    HeaderName::from_static("anthropic-beta"),
                    HeaderValue::from_static(
                        "interleaved-thinking-2025-05-14,brand-new-beta-2099-01-01"
                    )
                )
            ]
        );
    }

    #[test]
    fn messages_requests_need_model_and_messages() {
        assert!(
            MessagesDialect::parse_head(br#"{"model":"m","max_tokens":1,"messages":[]}"#).is_ok()
        );
        assert_eq!(
            MessagesDialect::parse_head(br#"{"model":"m"}"#)
                .unwrap_err()
                .param,
            Some("messages")
        );
        let head = MessagesDialect::parse_head(
            br#"{"model":"a","stream":true,"messages":[],"container":{"x":1}}"#,
        )
        .unwrap();
        assert!(head.stream);
        let body = MESSAGES.passthrough_body(&head, "b").unwrap();
        assert_eq!(
            body,
            br#"{"model":"b","stream":true,"messages":[],"container":{"x":1}}"#
        );
        assert!(MESSAGES.passthrough_body(&head, "a").is_none());
    }
}
