//! Wire types shared by the api-proxy server and its dashboard.
//!
//! Invariant: serde types only. This crate compiles to `wasm32-unknown-unknown`, so it must never
//! depend on actix, diesel, awc or tokio.

pub mod client_keys;
pub mod health;
pub mod keys;
pub mod live;
pub mod logs;
pub mod providers;
pub mod routes;
pub mod runtime;
pub mod settings;
pub mod stats;
