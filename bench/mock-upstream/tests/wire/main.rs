//! The mock over real HTTP: each vendor's validation, answers and stream event order, and the
//! failure behaviours on the wire.

mod anthropic;
mod azure;
mod embeddings;
mod openai;
mod responses;
mod support;
