//! The responses the description reuses: the proxied answers, and one error response per status,
//! each an OpenAI-shaped [`ErrorEnvelope`]. The error statuses are those of
//! `ApiError::status_code`; a handler lists only the ones it can produce.

use utoipa::ToResponse;

use super::openai::{
    OpenAiChatCompletion, OpenAiChatStreamEvent, OpenAiEmbeddingList, OpenAiResponse,
    OpenAiResponsesStreamEvent,
};
use crate::error::ErrorEnvelope;

/// The upstream's answer: a `chat.completion`, or with `stream: true` its `chat.completion.chunk`s
/// as Server-Sent Events ending in `data: [DONE]`.
#[derive(ToResponse)]
#[response(headers(
    ("x-api-proxy-key" = String, description = "The name of the key that answered"),
    ("x-api-proxy-provider" = String, description = "Its provider id"),
    ("x-api-proxy-attempts" = u32, description = "Keys tried, this one included"),
    ("x-api-proxy-cost" = String, description = "The call's cost in USD (plain answers only)"),
    ("x-request-id" = String, description = "This call's id in the call log"),
))]
pub enum ChatCompletionAnswer {
    Plain(#[content("application/json")] OpenAiChatCompletion),
    Stream(#[content("text/event-stream")] OpenAiChatStreamEvent),
}

/// The upstream's answer: a `response` object, or with `stream: true` its events as Server-Sent
/// Events ending in `response.completed`.
#[derive(ToResponse)]
#[response(headers(
    ("x-api-proxy-key" = String, description = "The name of the key that answered"),
    ("x-api-proxy-provider" = String, description = "Its provider id"),
    ("x-api-proxy-attempts" = u32, description = "Keys tried, this one included"),
    ("x-api-proxy-cost" = String, description = "The call's cost in USD (plain answers only)"),
    ("x-request-id" = String, description = "This call's id in the call log"),
))]
pub enum ResponsesAnswer {
    Plain(#[content("application/json")] OpenAiResponse),
    Stream(#[content("text/event-stream")] OpenAiResponsesStreamEvent),
}

/// The upstream's embeddings.
#[derive(ToResponse)]
#[response(headers(
    ("x-api-proxy-key" = String, description = "The name of the key that answered"),
    ("x-api-proxy-provider" = String, description = "Its provider id"),
    ("x-api-proxy-attempts" = u32, description = "Keys tried, this one included"),
    ("x-api-proxy-cost" = String, description = "The call's cost in USD"),
    ("x-request-id" = String, description = "This call's id in the call log"),
))]
pub struct EmbeddingsAnswer(pub OpenAiEmbeddingList);

/// The request is invalid: bad JSON, a missing or wrong field or query parameter
/// (`invalid_request_error`; `param` names the field).
#[derive(ToResponse)]
pub struct BadRequest(pub ErrorEnvelope<'static>);

/// The admin token (on `/api`) or the client key (on `/v1`, when required) is missing or wrong
/// (`invalid_api_key`).
#[derive(ToResponse)]
#[response(headers(("WWW-Authenticate" = String, description = "`Bearer`")))]
pub struct Unauthorized(pub ErrorEnvelope<'static>);

/// No such resource (`not_found`), or no key serves the model (`model_not_found`).
#[derive(ToResponse)]
pub struct NotFound(pub ErrorEnvelope<'static>);

/// The body is larger than the limit (`request_too_large`): 1 MiB for admin requests,
/// `BODY_LIMIT_BYTES` for proxied ones.
#[derive(ToResponse)]
pub struct PayloadTooLarge(pub ErrorEnvelope<'static>);

/// The body did not arrive within `CLIENT_BODY_TIMEOUT_MS` (`request_timeout`).
#[derive(ToResponse)]
pub struct RequestTimeout(pub ErrorEnvelope<'static>);

/// The body's `Content-Type` is not JSON (`unsupported_media_type`).
#[derive(ToResponse)]
pub struct UnsupportedMediaType(pub ErrorEnvelope<'static>);

/// Every key that could serve the model is rate-limited (`all_keys_rate_limited`).
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds until the first of those keys recovers")))]
pub struct AllKeysRateLimited(pub ErrorEnvelope<'static>);

/// Too many failed admin authentications from this address within a minute
/// (`too_many_failed_authentications`); whatever the token, wait for `Retry-After`.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds until this address may try again")))]
pub struct TooManyFailedAuthentications(pub ErrorEnvelope<'static>);

/// An internal failure (`internal_error`); the details go to the server's log, not to the client.
#[derive(ToResponse)]
pub struct InternalError(pub ErrorEnvelope<'static>);

/// The change could not be saved: the database is read-only (`database_read_only`), locked by
/// another process (`database_busy`, with `Retry-After`) or on a full disk (`database_full`).
/// Proxied calls are still served.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait, for `database_busy`")))]
pub struct StorageUnavailable(pub ErrorEnvelope<'static>);

/// The upstream could not be reached (`upstream_unreachable`), its answer could not be read or
/// was not JSON (`upstream_invalid_response`), or the provider rejected the stored key (401 or
/// 403) and no other key served (`upstream_key_rejected`, naming the key and every key tried).
#[derive(ToResponse)]
pub struct BadGateway(pub ErrorEnvelope<'static>);

/// Keys serve the model but none is usable now: disabled, out of quota, rejected by the provider
/// or cooling down (`no_available_key`); or the key whose account stored the response named by
/// `previous_response_id` cannot serve now.
#[derive(ToResponse)]
pub struct NoAvailableKey(pub ErrorEnvelope<'static>);

/// The upstream sent no response headers within `first_byte_timeout_ms` (`upstream_timeout`).
#[derive(ToResponse)]
pub struct GatewayTimeout(pub ErrorEnvelope<'static>);

/// An error the upstream answered with and that was not retried (or was the last one), relayed
/// with the upstream's status: its own OpenAI-shaped body, Anthropic's translated to that shape,
/// anything else wrapped with code `upstream_error`.
#[derive(ToResponse)]
pub struct UpstreamError(pub ErrorEnvelope<'static>);

/// The errors of a proxied call (`/v1/chat/completions`, `/v1/embeddings`, `/v1/responses` and
/// the seed's paths).
#[derive(utoipa::IntoResponses)]
pub enum ProxyErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] BadRequest),
    #[response(status = 401)]
    Unauthorized(#[ref_response] Unauthorized),
    #[response(status = 404)]
    NotFound(#[ref_response] NotFound),
    #[response(status = 408)]
    RequestTimeout(#[ref_response] RequestTimeout),
    #[response(status = 413)]
    PayloadTooLarge(#[ref_response] PayloadTooLarge),
    #[response(status = 415)]
    UnsupportedMediaType(#[ref_response] UnsupportedMediaType),
    #[response(status = 429)]
    AllKeysRateLimited(#[ref_response] AllKeysRateLimited),
    #[response(status = 500)]
    InternalError(#[ref_response] InternalError),
    #[response(status = 502)]
    BadGateway(#[ref_response] BadGateway),
    #[response(status = 503)]
    NoAvailableKey(#[ref_response] NoAvailableKey),
    #[response(status = 504)]
    GatewayTimeout(#[ref_response] GatewayTimeout),
    #[response(status = "default")]
    UpstreamError(#[ref_response] UpstreamError),
}
