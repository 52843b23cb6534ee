//! Wire-format translation, pure functions with their tests beside them. Wire types stay private
//! to their adapter.

pub mod anthropic;
pub mod azure;
pub mod openai;
pub mod openai_wire;
pub mod sse;

#[cfg(test)]
mod robustness;

use bytes::BytesMut;

use crate::routing::TokenUsage;

/// What a streamed event did to the stream.
#[derive(Debug, PartialEq)]
pub enum StreamStep {
    Continue,
    /// The stream completed normally (`[DONE]` was written).
    Done,
    /// The upstream reported an error or sent something unusable.
    Failed(String),
}

/// Turns each complete upstream SSE event into what the client receives (OpenAI chunks).
pub trait StreamTranslator {
    /// Appends the client's bytes for `event` to `out`.
    fn translate(&mut self, event: &[u8], out: &mut BytesMut) -> StreamStep;
    /// Usage seen so far.
    fn usage(&self) -> Option<TokenUsage>;
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
