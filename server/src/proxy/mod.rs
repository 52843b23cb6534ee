//! The request path for proxied calls: pick a key from the bid board, build the upstream request
//! for that key's provider, send it, fail over to the next key on a retryable failure (only before
//! any byte reached the client), and account for the call.

pub mod chat;
pub mod models;
pub mod record;
pub mod stream;
pub mod target;

pub use chat::{chat_completions, ChatCall, Operation};
