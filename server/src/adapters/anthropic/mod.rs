//! Anthropic Messages API <-> OpenAI chat, both directions, non-streamed and streamed.
//!
//! Traps this adapter handles (each has broken another gateway): `system` lifted out of
//! `messages`; consecutive same-role turns merged; `tool` messages become `tool_result` blocks in a
//! user turn with the same id; `tool_use.input` is an object while OpenAI's `arguments` is a
//! string; OpenAI-only fields are dropped rather than forwarded (Anthropic rejects them);
//! `temperature` is clamped to Anthropic's 0..1; `message_delta.usage.output_tokens` is a running
//! total; `input_tokens` excludes cached tokens; tool block indexes are remapped to OpenAI's
//! 0-based tool-call indexes; an empty first `input_json_delta` is skipped; an `error` event or a
//! truncated stream is an error, never a clean `[DONE]`.

mod error;
mod request;
mod response;
mod stream;
mod wire;

pub use error::translate_error;
pub use request::{translate_request, RequestDefaults};
pub use response::translate_response;
pub use stream::AnthropicStreamTranslator;

/// The Messages API path below the provider's base URL.
pub const MESSAGES_OPERATION: &str = "messages";
