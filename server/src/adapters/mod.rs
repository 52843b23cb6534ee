//! Wire-format translation, pure functions with their tests beside them. Wire types stay private
//! to their adapter.

pub mod azure;
pub mod openai;
pub mod sse;

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
