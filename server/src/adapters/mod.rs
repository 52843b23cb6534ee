//! Dialects: every wire format api-proxy speaks, on both sides, as pure functions over one
//! [`canonical`] model, with their tests beside them. Wire types stay private to their dialect.
//!
//! - A [`ClientDialect`] is what a client speaks on one surface (`/v1/chat/completions`,
//!   `/v1/embeddings`, `/v1/messages`, `/v1/responses`): it parses the request into the canonical
//!   model and renders canonical answers, stream events and errors back in its own words.
//! - An [`UpstreamDialect`] is what a provider's keys speak (OpenAI, Azure, Anthropic and every
//!   vendor file that names one of those formats): it builds its request from the canonical one,
//!   parses its answers, stream events and errors into the canonical model, and says what a
//!   failure means for the key ([`UpstreamDialect::classify_failure`]).
//! - When the upstream speaks the client's [`Wire`] natively, nothing is converted: the client's
//!   bytes go up with only `model` rewritten (an alias) and the answer comes back as it came,
//!   read only for usage (the client dialect's `passthrough_*` methods).
//!
//! The call loop (`proxy::call`) holds a `&dyn ClientDialect` and asks [`upstream_dialect`] for
//! the key's side; it never matches on a format. Adding a dialect: see the README's
//! Architecture section.

pub mod anthropic;
pub mod azure;
pub mod canonical;
pub mod json_check;
pub mod openai;
pub mod request_head;
pub mod responses;
pub mod sse;
pub mod token_estimate;
pub mod tokens;
pub mod translated;

#[cfg(test)]
mod robustness;

use std::borrow::Cow;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use bytes::{Bytes, BytesMut};
use shared::providers::{ProviderFormat, ProviderSpec};

use crate::error::ApiError;
use crate::routing::{KeyProfile, Signal, TokenUsage};
use canonical::{Failure, StreamEvent, StreamFailure};
pub use request_head::{RequestHead, Rewrite};

/// A request/answer format on the wire. A client dialect speaks one; an upstream dialect may
/// speak several natively (then calls in them pass through untranslated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAiChat,
    OpenAiEmbeddings,
    AnthropicMessages,
    OpenAiResponses,
}

/// What a streamed event did to the stream.
#[derive(Debug, PartialEq)]
pub enum StreamStep {
    Continue,
    /// The stream completed normally (the client's terminator was written).
    Done,
    /// The upstream reported an error or sent something unusable.
    Failed(StreamFailure),
}

/// Turns each complete upstream SSE event into what the client receives.
pub trait StreamTranslator {
    /// Appends the client's bytes for `event` to `out`.
    fn translate(&mut self, event: &[u8], out: &mut BytesMut) -> StreamStep;
    /// Usage seen so far.
    fn usage(&self) -> Option<TokenUsage>;
    /// Appends the client's error event for a stream that ends in `failure`.
    fn write_failure(&self, failure: &StreamFailure, out: &mut BytesMut);
    /// The id under which the upstream stored this answer, once seen (Responses API).
    fn stored_response(&self) -> Option<String> {
        None
    }
}

impl<T: StreamTranslator + ?Sized> StreamTranslator for Box<T> {
    fn translate(&mut self, event: &[u8], out: &mut BytesMut) -> StreamStep {
        (**self).translate(event, out)
    }
    fn usage(&self) -> Option<TokenUsage> {
        (**self).usage()
    }
    fn write_failure(&self, failure: &StreamFailure, out: &mut BytesMut) {
        (**self).write_failure(failure, out)
    }
    fn stored_response(&self) -> Option<String> {
        (**self).stored_response()
    }
}

/// Reads an upstream's stream events into canonical ones.
pub trait EventParser {
    /// Appends the canonical events `raw` (one whole SSE event) holds.
    fn parse(&mut self, raw: &[u8], events: &mut Vec<StreamEvent>) -> Result<(), StreamFailure>;
    /// Usage seen so far.
    fn usage(&self) -> Option<TokenUsage>;
}

/// Writes canonical stream events in a client's words.
pub trait EventRenderer {
    /// Appends `event`'s bytes; true once the stream is complete (its terminator written).
    fn render(&mut self, event: StreamEvent, out: &mut BytesMut) -> bool;
    fn render_failure(&self, failure: &StreamFailure, out: &mut BytesMut);
}

/// What a client dialect needs to render a translated answer.
#[derive(Debug, Clone)]
pub struct RenderContext {
    /// The model the call was routed to.
    pub model: String,
    /// Unix seconds, for dialects that date their answers.
    pub created: i64,
    /// The client asked for the final usage chunk (OpenAI chat).
    pub include_usage: bool,
    /// The client's request, for dialects whose answers repeat its settings (the Responses
    /// API's answer echoes `tools`, `instructions`, `temperature` …).
    pub request: Bytes,
}

/// What an upstream dialect needs to build its request.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamContext<'a> {
    /// The model the key is asked for.
    pub model: &'a str,
    /// The model's output limit, for dialects that require one (Anthropic's `max_tokens`).
    pub max_output_tokens: u32,
    pub provider: &'a ProviderSpec,
}

/// A client's side of a call.
pub trait ClientDialect: Sync {
    fn wire(&self) -> Wire;
    /// The call log's `endpoint`, e.g. `chat/completions`.
    fn endpoint(&self) -> &'static str;
    /// The request's routing view; errors are the client's fault (400).
    fn parse<'a>(&self, body: &'a [u8]) -> Result<RequestHead<'a>, AdapterError>;
    /// Client headers an upstream of the same wire must receive as they are.
    fn forwarded_headers(&self, _headers: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
        Vec::new()
    }

    /// The body for an upstream of this wire, or `None` to send the client's bytes.
    fn passthrough_body(&self, head: &RequestHead<'_>, model: &str) -> Option<Vec<u8>>;
    /// The usage of an upstream answer of this wire, and its finish reasons when
    /// `finish_reasons` (checking that it is a JSON object).
    fn passthrough_summary<'a>(
        &self,
        body: &'a [u8],
        finish_reasons: bool,
    ) -> Result<AnswerSummary<'a>, InvalidResponse>;
    fn passthrough_stream(&self, head: &RequestHead<'_>) -> Box<dyn StreamTranslator>;
    /// An upstream error of this wire: as it came when it is in the dialect's shape.
    fn passthrough_error(&self, status: StatusCode, body: &[u8]) -> (StatusCode, Bytes);
    /// The id under which the upstream stored this answer of this wire, if it did (Responses
    /// API), so a follow-up naming it goes to the same key.
    fn passthrough_stored_response(&self, _body: &[u8]) -> Option<String> {
        None
    }
    /// Why this request can only be served by a key that speaks this wire natively (it names
    /// something only that API stores or runs, e.g. `previous_response_id`), if it can. Keys
    /// that would need a translation are then skipped, and this is the error when none is left.
    fn requires_native(&self, _body: &[u8]) -> Option<AdapterError> {
        None
    }

    /// The canonical request; `Ok(None)` when this API has no translation (embeddings).
    fn to_canonical(&self, body: &[u8]) -> Result<Option<canonical::Request>, AdapterError>;
    fn render_response(&self, response: canonical::Response, context: &RenderContext) -> Vec<u8>;
    fn stream_renderer(&self, context: RenderContext) -> Box<dyn EventRenderer>;
    /// An upstream's error, in this dialect's shape and status.
    fn render_failure(&self, failure: &Failure) -> (StatusCode, Bytes);
    /// One of api-proxy's own errors, in this dialect's shape and status.
    fn render_error(&self, error: &ApiError) -> (StatusCode, Bytes);
}

/// A provider's side of a call.
pub trait UpstreamDialect: Sync {
    /// The path (below the key's base URL) that serves `wire` natively, if this provider has it.
    fn native_operation(&self, wire: Wire, provider: &ProviderSpec) -> Option<&'static str>;
    /// The path translated calls go to.
    fn operation(&self) -> &'static str;
    fn build_request(
        &self,
        request: &canonical::Request,
        context: &UpstreamContext<'_>,
    ) -> Result<Vec<u8>, AdapterError>;
    fn parse_response(&self, body: &[u8]) -> Result<canonical::Response, InvalidResponse>;
    fn stream_parser(&self, context: &RenderContext) -> Box<dyn EventParser>;
    fn parse_failure(&self, status: StatusCode, body: &[u8]) -> Failure;
    /// What a failed answer says about the key.
    fn classify_failure(&self, status: StatusCode, body: &[u8], retry_at: Option<i64>) -> Signal;
    /// The full URL of `operation` for `model` on this key.
    fn url(&self, profile: &KeyProfile, _model: &str, operation: &str) -> String {
        // Built by hand: `format!` is a measurable share of a call at this point.
        let mut url = String::with_capacity(profile.base_url.len() + 1 + operation.len());
        url.push_str(&profile.base_url);
        url.push('/');
        url.push_str(operation);
        url
    }
}

/// The registration of upstream dialects: the one place a provider format is matched.
pub fn upstream_dialect(format: ProviderFormat) -> &'static dyn UpstreamDialect {
    match format {
        ProviderFormat::Openai => &openai::OPENAI_UPSTREAM,
        ProviderFormat::Azure => &azure::AZURE_UPSTREAM,
        ProviderFormat::Anthropic => &anthropic::ANTHROPIC_UPSTREAM,
    }
}

/// What a failed answer means for the key by its status alone (the vendors agree on these);
/// dialects refine it with their vendor's words.
pub fn classify_status(status: StatusCode, retry_at: Option<i64>) -> Signal {
    match status.as_u16() {
        401 | 403 => Signal::AuthRejected,
        402 => Signal::QuotaRejected,
        429 => Signal::RateLimited { until_ms: retry_at },
        408 | 409 => Signal::Failure,
        s if s >= 500 => Signal::Failure,
        _ => Signal::ClientError,
    }
}

/// Whether `needle` occurs in `body`.
pub fn body_says(body: &[u8], needle: &str) -> bool {
    memchr::memmem::find(body, needle.as_bytes()).is_some()
}

/// The first 300 characters of a body, for messages.
pub fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(300).collect()
}

/// A request the client sent that cannot be forwarded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct AdapterError {
    pub message: String,
    /// The offending request field, if one is to blame.
    pub param: Option<&'static str>,
}

impl AdapterError {
    pub fn new(message: impl Into<String>, param: Option<&'static str>) -> Self {
        Self {
            message: message.into(),
            param,
        }
    }
}

/// What is read from a non-streamed answer passed through as it came, in one pass over it
/// (which also checks that it is the JSON object its dialect promises).
#[derive(Debug, Default, PartialEq)]
pub struct AnswerSummary<'a> {
    pub usage: Option<TokenUsage>,
    /// `gen_ai.response.finish_reasons`: OpenAI's `choices[].finish_reason`, Anthropic's
    /// `stop_reason`, the Responses API's `status`.
    pub finish_reasons: Vec<Cow<'a, str>>,
}

/// The upstream's body is not the JSON object its dialect promises.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidResponse;
