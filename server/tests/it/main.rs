//! Integration tests: the real server (in-process, or the built binary for process-level tests)
//! against mock upstreams on 127.0.0.1 speaking the vendors' wire formats.

mod admin;
mod admin_auth;
mod anthropic;
mod bad_input;
mod cli;
mod client_access;
mod client_limits;
mod clients;
mod cross_site;
mod dashboard_api;
mod faults;
mod fleet;
mod golden;
mod key_binding;
mod key_recovery;
mod key_rotation;
mod messages;
mod metrics;
mod openapi;
mod persistence;
mod postgres;
mod process;
mod proxy;
mod responses;
mod routing;
mod scale;
mod secrets;
mod streaming;
mod supervision;
mod support;
mod tls;
mod traces;
