//! Sending a request upstream with awc: one client per HTTP worker (awc's client is not `Send`),
//! no redirects (a redirect could carry a key to another host), only the headers api-proxy chose
//! (the client's own headers, its bearer included, are never forwarded), and a first-byte deadline.

use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use awc::error::SendRequestError;
use bytes::Bytes;

pub const USER_AGENT: &str = concat!("api-proxy/", env!("CARGO_PKG_VERSION"));

/// Concurrent upstream connections per HTTP worker.
pub const MAX_UPSTREAM_CONNECTIONS: usize = 25_000;

/// The largest non-streamed upstream body api-proxy reads.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Where and how to send one upstream request.
pub struct UpstreamTarget {
    pub url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The key in plaintext, kept only to scrub it from anything the upstream sends back.
    pub secret: crate::crypto::Secret,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("the upstream did not answer within {0:?}")]
    Timeout(Duration),
    #[error("could not reach the upstream: {0}")]
    Connect(String),
    #[error("the upstream broke the exchange: {0}")]
    Protocol(String),
}

pub fn build_client(
    connect_timeout: Duration,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> awc::Client {
    awc::Client::builder()
        // awc allows only 100 connections per client unless told otherwise: thousands of
        // concurrent streams must not queue behind them.
        .connector(
            awc::Connector::new()
                .rustls_0_23(tls)
                .timeout(connect_timeout)
                .limit(MAX_UPSTREAM_CONNECTIONS),
        )
        .disable_redirects()
        .disable_timeout()
        .no_default_headers()
        .add_default_header((actix_web::http::header::USER_AGENT, USER_AGENT))
        .finish()
}

pub async fn send(
    client: &awc::Client,
    target: &UpstreamTarget,
    body: Bytes,
    first_byte: Duration,
) -> Result<awc::ClientResponse, UpstreamError> {
    let mut request = client
        .post(&target.url)
        .timeout(first_byte)
        .insert_header((actix_web::http::header::CONTENT_TYPE, "application/json"));
    for (name, value) in &target.headers {
        request = request.insert_header((name.clone(), value.clone()));
    }
    request.send_body(body).await.map_err(|e| match e {
        SendRequestError::Timeout => UpstreamError::Timeout(first_byte),
        SendRequestError::Connect(c) => UpstreamError::Connect(c.to_string()),
        other => UpstreamError::Protocol(other.to_string()),
    })
}
