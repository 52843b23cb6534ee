//! OpenAI's Responses API, as clients speak it on `/v1/responses` (the `openai` SDKs'
//! `client.responses`, Codex-style agents).
//!
//! A key whose provider serves the Responses API natively (`native_responses` in its provider
//! file: OpenAI's) gets the client's bytes with only `model` rewritten for an alias, and its
//! answer and stream come back unchanged (`relay.rs`); `previous_response_id` and `store` then
//! work as OpenAI defines them, and the call loop sends a follow-up to the key whose account
//! stored the response it names. Every other key (Anthropic, chat-only OpenAI-format vendors,
//! Azure deployments) gets the request translated through the canonical model (`request.rs`)
//! and its answer rendered back as a `response` object (`response.rs`) or its event stream
//! (`stream_render.rs`); what only OpenAI stores or runs (`previous_response_id`, hosted tools,
//! uploaded files…) is refused for those keys with a 400 that says why.
//!
//! Traps this dialect handles: `input` may be a bare string; a message item may leave out its
//! `type`; `function_call.arguments` is a JSON string; `text.format`'s schema is flat where
//! chat nests it; the stream has no `[DONE]` and ends with `response.completed` (or
//! `.incomplete` / `.failed`), every event numbered by `sequence_number`; an OpenAI answer is
//! stored by default (`store` left out means true), so its id is remembered unless it says
//! `store: false`; errors are OpenAI's shape on this surface too.

pub mod relay;
pub mod request;
pub mod response;
pub mod stream_render;
mod wire;

use actix_web::http::StatusCode;
use bytes::Bytes;
use serde_json::value::RawValue;

use super::canonical::{self, Failure};
use super::{
    openai, AdapterError, AnswerSummary, ClientDialect, EventRenderer, InvalidResponse,
    RenderContext, RequestHead, Rewrite, StreamTranslator, Wire,
};
use crate::error::ApiError;
pub use relay::ResponsesStreamRelay;
pub use stream_render::ResponsesEventRenderer;

/// `POST /v1/responses`.
pub struct ResponsesDialect;

pub static RESPONSES: ResponsesDialect = ResponsesDialect;

/// `name` as a string: `None` when absent or `null`.
fn string_member(
    head: &RequestHead<'_>,
    name: &'static str,
) -> Result<Option<String>, AdapterError> {
    match head.member(name).map(RawValue::get) {
        None | Some("null") => Ok(None),
        Some(raw) => serde_json::from_str::<String>(raw)
            .map(Some)
            .map_err(|_| AdapterError::new(format!("`{name}` must be a string"), Some(name))),
    }
}

impl ResponsesDialect {
    /// The routing view of a Responses request: `model` is required, `input` (when given) is a
    /// string or a list of items.
    pub fn parse_head(body: &[u8]) -> Result<RequestHead<'_>, AdapterError> {
        let mut head = RequestHead::parse(body)?;
        head.read_stream()?;
        if let Some(input) = head.member("input") {
            let raw = input.get();
            if !(raw.starts_with('"') || raw.starts_with('[') || raw == "null") {
                return Err(AdapterError::new(
                    "`input` must be a string or an array of input items",
                    Some("input"),
                ));
            }
        }
        head.continues = string_member(&head, "previous_response_id")?;
        Ok(head)
    }
}

impl ClientDialect for ResponsesDialect {
    fn wire(&self) -> Wire {
        Wire::OpenAiResponses
    }

    fn endpoint(&self) -> &'static str {
        "responses"
    }

    fn parse<'a>(&self, body: &'a [u8]) -> Result<RequestHead<'a>, AdapterError> {
        Self::parse_head(body)
    }

    fn passthrough_body(&self, head: &RequestHead<'_>, model: &str) -> Option<Vec<u8>> {
        // The final `response` object always carries the usage: nothing to ask for.
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
        Box::new(ResponsesStreamRelay::default())
    }

    fn passthrough_error(&self, status: StatusCode, body: &[u8]) -> (StatusCode, Bytes) {
        (status, openai::error::error_body_for(status, body))
    }

    fn passthrough_stored_response(&self, body: &[u8]) -> Option<String> {
        serde_json::from_slice(body)
            .ok()
            .and_then(|answer| relay::stored_id(&answer))
    }

    fn requires_native(&self, body: &[u8]) -> Option<AdapterError> {
        // A request that does not parse is not refused here: its translation says what is wrong.
        request::read(body)
            .ok()
            .and_then(|r| request::requires_native(&r))
    }

    fn to_canonical(&self, body: &[u8]) -> Result<Option<canonical::Request>, AdapterError> {
        request::to_canonical(request::read(body)?).map(Some)
    }

    fn render_response(&self, response: canonical::Response, context: &RenderContext) -> Vec<u8> {
        response::render(response, context)
    }

    fn stream_renderer(&self, context: RenderContext) -> Box<dyn EventRenderer> {
        Box::new(ResponsesEventRenderer::new(context))
    }

    fn render_failure(&self, failure: &Failure) -> (StatusCode, Bytes) {
        openai::error::render_failure(failure)
    }

    fn render_error(&self, error: &ApiError) -> (StatusCode, Bytes) {
        openai::error::render_error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_requests_need_a_model_and_a_usable_input() {
        let head = ResponsesDialect::parse_head(
            br#"{"model":"fast","input":"hi","stream":true,"previous_response_id":"resp_9","x_new":{"a":1}}"#,
        )
        .unwrap();
        assert!(head.stream);
        assert_eq!(head.continues.as_deref(), Some("resp_9"));
        // Only the model changes; fields api-proxy does not know go through untouched.
        let body = RESPONSES.passthrough_body(&head, "gpt-4o").unwrap();
        assert_eq!(
            body,
            br#"{"model":"gpt-4o","input":"hi","stream":true,"previous_response_id":"resp_9","x_new":{"a":1}}"#
        );
        assert!(RESPONSES.passthrough_body(&head, "fast").is_none());
        assert!(
            ResponsesDialect::parse_head(br#"{"model":"m","previous_response_id":null}"#)
                .unwrap()
                .continues
                .is_none()
        );
        for (body, param) in [
            (&br#"{"input":"hi"}"#[..], "model"),
            (br#"{"model":"m","input":7}"#, "input"),
            (
                br#"{"model":"m","previous_response_id":1}"#,
                "previous_response_id",
            ),
            (br#"{"model":"m","stream":"yes"}"#, "stream"),
        ] {
            assert_eq!(
                ResponsesDialect::parse_head(body).unwrap_err().param,
                Some(param)
            );
        }
    }

    #[test]
    fn stored_answers_are_known_by_their_id() {
        assert_eq!(
            RESPONSES
                .passthrough_stored_response(br#"{"id":"resp_1","object":"response","store":true}"#)
                .as_deref(),
            Some("resp_1")
        );
        assert_eq!(
            RESPONSES.passthrough_stored_response(br#"{"id":"resp_1","store":false}"#),
            None
        );
        assert_eq!(RESPONSES.passthrough_stored_response(b"nope"), None);
    }
}
