//! OpenAI's chat completions and embeddings, as clients speak them on `/v1/chat/completions` and
//! `/v1/embeddings`, and as OpenAI-format upstreams (OpenAI, DeepSeek, OpenRouter, Ollama and
//! every vendor file with `"format": "openai"`; Azure adds its URLs in `azure.rs`) answer them.

pub mod error;
pub mod relay;
pub mod request;
pub mod response;
pub mod stream_parse;
pub mod stream_render;
mod wire;

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
pub use relay::{chunk_usage, response_summary, ChunkUsage, OpenAiStreamRelay};
pub use stream_parse::ChunkParser;
pub use stream_render::ChunkRenderer;

/// `POST /v1/chat/completions`.
pub struct ChatDialect;

/// `POST /v1/embeddings`: passed through to OpenAI-format keys only (no other vendor has it).
pub struct EmbeddingsDialect;

pub static CHAT: ChatDialect = ChatDialect;
pub static EMBEDDINGS: EmbeddingsDialect = EmbeddingsDialect;

impl ChatDialect {
    /// The routing view of a chat request: `model` and `messages` are required.
    pub fn parse_head(body: &[u8]) -> Result<RequestHead<'_>, AdapterError> {
        let mut head = RequestHead::parse(body)?;
        head.require_array("messages")?;
        head.read_stream()?;
        head.read_include_usage();
        Ok(head)
    }
}

impl ClientDialect for ChatDialect {
    fn wire(&self) -> Wire {
        Wire::OpenAiChat
    }

    fn endpoint(&self) -> &'static str {
        "chat/completions"
    }

    fn parse<'a>(&self, body: &'a [u8]) -> Result<RequestHead<'a>, AdapterError> {
        Self::parse_head(body)
    }

    fn passthrough_body(&self, head: &RequestHead<'_>, model: &str) -> Option<Vec<u8>> {
        head.rewrite(Rewrite {
            model: Some(model),
            request_usage: true,
        })
    }

    fn passthrough_summary<'a>(
        &self,
        body: &'a [u8],
        finish_reasons: bool,
    ) -> Result<AnswerSummary<'a>, InvalidResponse> {
        response_summary(body, finish_reasons)
    }

    fn passthrough_stream(&self, head: &RequestHead<'_>) -> Box<dyn StreamTranslator> {
        Box::new(OpenAiStreamRelay::new(!head.include_usage))
    }

    fn passthrough_error(&self, status: StatusCode, body: &[u8]) -> (StatusCode, Bytes) {
        (status, error::error_body_for(status, body))
    }

    fn to_canonical(&self, body: &[u8]) -> Result<Option<canonical::Request>, AdapterError> {
        request::to_canonical(body).map(Some)
    }

    fn render_response(&self, response: canonical::Response, context: &RenderContext) -> Vec<u8> {
        response::render(response, context)
    }

    fn stream_renderer(&self, context: RenderContext) -> Box<dyn EventRenderer> {
        Box::new(ChunkRenderer::new(context))
    }

    fn render_failure(&self, failure: &Failure) -> (StatusCode, Bytes) {
        error::render_failure(failure)
    }

    fn render_error(&self, error: &ApiError) -> (StatusCode, Bytes) {
        error::render_error(error)
    }
}

impl EmbeddingsDialect {
    /// The routing view of an embeddings request: `model` and `input` are required.
    pub fn parse_head(body: &[u8]) -> Result<RequestHead<'_>, AdapterError> {
        let head = RequestHead::parse(body)?;
        head.require("input")?;
        Ok(head)
    }
}

impl ClientDialect for EmbeddingsDialect {
    fn wire(&self) -> Wire {
        Wire::OpenAiEmbeddings
    }

    fn endpoint(&self) -> &'static str {
        "embeddings"
    }

    fn parse<'a>(&self, body: &'a [u8]) -> Result<RequestHead<'a>, AdapterError> {
        Self::parse_head(body)
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
        finish_reasons: bool,
    ) -> Result<AnswerSummary<'a>, InvalidResponse> {
        response_summary(body, finish_reasons)
    }

    fn passthrough_stream(&self, _head: &RequestHead<'_>) -> Box<dyn StreamTranslator> {
        Box::new(OpenAiStreamRelay::new(true))
    }

    fn passthrough_error(&self, status: StatusCode, body: &[u8]) -> (StatusCode, Bytes) {
        (status, error::error_body_for(status, body))
    }

    fn to_canonical(&self, _body: &[u8]) -> Result<Option<canonical::Request>, AdapterError> {
        Ok(None)
    }

    fn render_response(&self, response: canonical::Response, context: &RenderContext) -> Vec<u8> {
        response::render(response, context)
    }

    fn stream_renderer(&self, context: RenderContext) -> Box<dyn EventRenderer> {
        Box::new(ChunkRenderer::new(context))
    }

    fn render_failure(&self, failure: &Failure) -> (StatusCode, Bytes) {
        error::render_failure(failure)
    }

    fn render_error(&self, error: &ApiError) -> (StatusCode, Bytes) {
        error::render_error(error)
    }
}

/// Keys of OpenAI-format providers.
pub struct OpenAiUpstream;

pub static OPENAI_UPSTREAM: OpenAiUpstream = OpenAiUpstream;

/// The chat path below an OpenAI-format base URL.
pub const CHAT_OPERATION: &str = "chat/completions";
/// The embeddings path below an OpenAI-format base URL.
pub const EMBEDDINGS_OPERATION: &str = "embeddings";
/// The Responses API path below an OpenAI base URL (providers with `native_responses`).
pub const RESPONSES_OPERATION: &str = "responses";

/// What every OpenAI-format upstream serves natively.
pub fn native_operation(wire: Wire) -> Option<&'static str> {
    match wire {
        Wire::OpenAiChat => Some(CHAT_OPERATION),
        Wire::OpenAiEmbeddings => Some(EMBEDDINGS_OPERATION),
        Wire::AnthropicMessages | Wire::OpenAiResponses => None,
    }
}

impl UpstreamDialect for OpenAiUpstream {
    /// Chat and embeddings everywhere; the Responses API where the provider file says so.
    fn native_operation(&self, wire: Wire, provider: &ProviderSpec) -> Option<&'static str> {
        match wire {
            Wire::OpenAiResponses => provider.native_responses.then_some(RESPONSES_OPERATION),
            _ => native_operation(wire),
        }
    }

    fn operation(&self) -> &'static str {
        CHAT_OPERATION
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
        Box::new(ChunkParser::default())
    }

    fn parse_failure(&self, status: StatusCode, body: &[u8]) -> Failure {
        error::parse_failure(status, body)
    }

    fn classify_failure(&self, status: StatusCode, body: &[u8], retry_at: Option<i64>) -> Signal {
        error::classify_failure(status, body, retry_at)
    }
}
