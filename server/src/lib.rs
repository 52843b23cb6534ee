//! api-proxy: a local, lightweight, secure OpenAI-compatible LLM gateway.
//!
//! Request path: `api` (thin handlers) -> `proxy` (pick a key from the bid board, translate, call
//! upstream, fail over, account) -> `adapters` (pure wire-format translation) -> `upstream` (awc).
//! Accounting goes back to the key actors (`actors`) as fire-and-forget messages and to the batch
//! `writer`; nothing on the request path waits on a mailbox or the database.

pub mod actors;
pub mod adapters;
pub mod api;
pub mod app;
pub mod bootstrap;
pub mod cli;
pub mod client_limits;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod fleet_sync;
pub mod key_rotation;
pub mod key_seal;
pub mod key_store;
pub mod live_hub;
pub mod metrics;
pub mod open_files;
pub mod otel;
pub mod proxy;
pub mod routing;
pub mod state;
pub mod upstream;
pub mod upstream_tls;
pub mod writer;
