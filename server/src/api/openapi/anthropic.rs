//! Schemas of Anthropic's Messages bodies (`/v1/messages`), for the description only: the proxy
//! forwards these requests as they came to Anthropic keys and reads only `model`, `messages`
//! and `stream`, so the schemas are loose and allow every other field.

use serde_json::Value;
use utoipa::{ToResponse, ToSchema};

/// `POST /v1/messages`: Anthropic's request. Fields not listed here (`thinking`, `tools`,
/// `cache_control`, `metadata`, new betas' fields…) reach Anthropic keys untouched.
#[derive(ToSchema)]
#[schema(example = json!({"model": "claude-sonnet-4-5", "max_tokens": 1024,
    "messages": [{"role": "user", "content": "Hello!"}]}))]
pub struct AnthropicMessagesRequest {
    #[schema(example = "claude-sonnet-4-5")]
    pub model: String,
    /// `{role: user|assistant, content: string | blocks}`.
    pub messages: Vec<Value>,
    #[schema(minimum = 1)]
    pub max_tokens: u32,
    /// Answer as Anthropic's Server-Sent Events.
    pub stream: Option<bool>,
    /// A string or text blocks.
    pub system: Option<Value>,
}

/// `POST /v1/messages/count_tokens`: the Messages request without `max_tokens`.
#[derive(ToSchema)]
pub struct AnthropicCountTokensRequest {
    #[schema(example = "claude-sonnet-4-5")]
    pub model: String,
    pub messages: Vec<Value>,
    pub system: Option<Value>,
    pub tools: Option<Vec<Value>>,
}

/// A `message`: the answer (the upstream's as it came for Anthropic keys; translated otherwise).
#[derive(ToSchema)]
pub struct AnthropicMessage {
    pub id: String,
    /// `message`
    #[schema(rename = "type")]
    pub kind: String,
    pub role: String,
    pub model: String,
    /// Content blocks: `text`, `thinking`, `tool_use`, …
    pub content: Vec<Value>,
    pub stop_reason: Option<String>,
    pub usage: Value,
}

/// One Server-Sent Event of a streamed answer (`text/event-stream`).
#[derive(ToSchema)]
pub struct AnthropicStreamEvent {
    /// `message_start`, `content_block_start` / `_delta` / `_stop`, `message_delta`,
    /// `message_stop`, `ping` or `error`.
    pub event: String,
    /// The event as JSON, its `type` repeated.
    pub data: String,
}

/// `{"input_tokens": n}`.
#[derive(ToSchema)]
pub struct AnthropicTokenCount {
    pub input_tokens: u64,
}

/// `{"type": "error", "error": {"type", "message"}}`.
#[derive(ToSchema)]
#[schema(example = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))]
pub struct AnthropicErrorEnvelope {
    /// `error`
    #[schema(rename = "type")]
    pub kind: String,
    pub error: AnthropicErrorDetail,
}

#[derive(ToSchema)]
pub struct AnthropicErrorDetail {
    /// `invalid_request_error`, `authentication_error`, `not_found_error`, `request_too_large`,
    /// `rate_limit_error`, `api_error`, `timeout_error`, `overloaded_error`, …
    #[schema(rename = "type")]
    pub kind: String,
    pub message: String,
}

/// The answer: a `message`, or with `stream: true` Anthropic's events.
#[derive(ToResponse)]
#[response(headers(
    ("x-api-proxy-key" = String, description = "The name of the key that answered"),
    ("x-api-proxy-provider" = String, description = "Its provider id"),
    ("x-api-proxy-attempts" = u32, description = "Keys tried, this one included"),
    ("x-api-proxy-cost" = String, description = "The call's cost in USD (plain answers only)"),
    ("x-request-id" = String, description = "This call's id in the call log"),
))]
pub enum MessagesAnswer {
    Plain(#[content("application/json")] AnthropicMessage),
    Stream(#[content("text/event-stream")] AnthropicStreamEvent),
}

/// The count: exact from an Anthropic key, else an estimate marked `x-api-proxy-estimate: true`.
#[derive(ToResponse)]
#[response(headers(
    ("x-api-proxy-estimate" = String, description = "`true` when api-proxy estimated the count"),
))]
pub struct CountTokensAnswer(pub AnthropicTokenCount);

/// An error in Anthropic's shape and with its statuses: 400 `invalid_request_error` (bad JSON, a
/// missing field, a `model` over 256 bytes), 401 `authentication_error`, 404 `not_found_error`
/// (no key serves the model), 408 `invalid_request_error` (the body did not arrive within
/// `CLIENT_BODY_TIMEOUT_MS`), 413 `request_too_large`, 415, 429 `rate_limit_error` (with `Retry-After`), 500 `api_error`,
/// 502 `api_error` (upstream unreachable or unreadable, or a stored key rejected by its
/// provider), 504 `timeout_error`, 529
/// `overloaded_error` (no usable key, or the upstream is overloaded); any other status is the
/// upstream's own, relayed.
#[derive(ToResponse)]
pub struct AnthropicError(pub AnthropicErrorEnvelope);

/// The errors of `/v1/messages` and `/v1/messages/count_tokens`.
#[derive(utoipa::IntoResponses)]
pub enum MessagesErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] AnthropicError),
    #[response(status = 401)]
    Unauthorized(#[ref_response] AnthropicError),
    #[response(status = 404)]
    NotFound(#[ref_response] AnthropicError),
    #[response(status = 408)]
    RequestTimeout(#[ref_response] AnthropicError),
    #[response(status = 413)]
    PayloadTooLarge(#[ref_response] AnthropicError),
    #[response(status = 415)]
    UnsupportedMediaType(#[ref_response] AnthropicError),
    #[response(status = 429)]
    RateLimited(#[ref_response] AnthropicError),
    #[response(status = 500)]
    Internal(#[ref_response] AnthropicError),
    #[response(status = 502)]
    BadGateway(#[ref_response] AnthropicError),
    #[response(status = 504)]
    Timeout(#[ref_response] AnthropicError),
    #[response(status = 529)]
    Overloaded(#[ref_response] AnthropicError),
    #[response(status = "default")]
    Upstream(#[ref_response] AnthropicError),
}
