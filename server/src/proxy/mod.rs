//! The request path for proxied calls: pick a key from the bid board, build the upstream request
//! for that key's dialect (the client's bytes when it speaks the client's, a translation
//! otherwise), send it, fail over to the next key on a retryable failure (only before any byte
//! reached the client), and account for the call. Nothing here knows a dialect by name.

pub mod call;
pub mod continuation;
pub mod count_tokens;
pub mod demand;
pub mod models;
pub mod record;
pub mod scrub;
pub mod shared_quota;
pub mod stream;
pub mod target;

pub use call::{proxy_call, Call};
