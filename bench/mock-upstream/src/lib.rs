//! A mock LLM upstream speaking the exact wire formats of OpenAI (chat completions, embeddings,
//! the Responses API), Azure OpenAI (deployment URLs, `api-key`, content-filter annotations) and
//! Anthropic (Messages API), HTTP and SSE, for api-proxy's tests and benchmarks. It records what it receives so tests
//! can check what api-proxy sent, validates requests the way the vendors do (so a translation bug
//! in api-proxy shows up as the vendor's own 400), and can misbehave on purpose (error statuses,
//! stalls, garbage, resets, mid-stream errors).
//!
//! Routing is by path: `…/messages` is Anthropic, `/openai/deployments/…` is Azure, `…/embeddings`,
//! `…/chat/completions` and `…/responses` are OpenAI. Each instance runs its own actix system on
//! its own thread, so it works from any test runtime and from the `mock-upstream` binary alike.

mod anthropic;
mod azure;
mod embeddings;
mod openai;
mod reply;
mod responses;
mod sse;
#[cfg(feature = "tls")]
mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use tokio::sync::Notify;

pub use anthropic::thinking_signature;
pub use embeddings::MOCK_EMBEDDING_DIMENSIONS;
pub use openai::{MOCK_CREATED, MOCK_FINGERPRINT};
pub use reply::{MOCK_REPLY, MOCK_THINKING, MOCK_TOOL_PREAMBLE, MOCK_TOOL_RESULT_REPLY};
pub use responses::{MOCK_REASONING_SUMMARY, MOCK_REASONING_TOKENS};
#[cfg(feature = "tls")]
pub use tls::TEST_CA_PEM;

/// How the mock answers a chat (or embeddings, or Anthropic messages) request.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// A normal answer (streamed when asked) with usage.
    Normal,
    /// This status with the vendor's error body (OpenAI-, Azure- or Anthropic-shaped, by path).
    Status(u16),
    /// This status with exactly this body and content type.
    RawStatus {
        status: u16,
        content_type: String,
        body: String,
    },
    /// Never answers (until the client goes away).
    Stall,
    /// `200` with a body that is not JSON.
    Garbage,
    /// Streams this many chunks, then breaks the connection.
    ResetAfter(usize),
    /// Streams this many chunks, then goes silent.
    StallAfter(usize),
    /// Streams every chunk but ends without `[DONE]` (Anthropic: without `message_stop`).
    NoDone,
    /// Streams this many chunks, then the vendor's in-stream error event, then ends cleanly
    /// (Anthropic: `event: error` with an `overloaded_error`; OpenAI: a `data: {"error":…}` chunk).
    StreamError(usize),
    /// `400` with Azure OpenAI's content-filter error (`code: content_filter`, prompt filtered).
    AzureContentFilter,
    /// Breaks the connection before sending any response header.
    ResetBeforeHeaders,
    /// `200` with an OpenAI answer whose content is this many bytes long.
    LargeBody(usize),
    /// `200` event stream whose events are not JSON.
    InvalidSse,
    /// An OpenAI stream of `chunks` content chunks of `chunk_bytes` bytes each, sent as fast as
    /// the reader takes them (made one at a time, so the mock never holds the whole stream):
    /// shows whether a proxy buffers behind a slow reader.
    Flood { chunks: usize, chunk_bytes: usize },
    /// `200` event stream whose first event never ends: `data: xxx…` without a blank line, in
    /// 64 KiB pieces made as the reader takes them, this many bytes in all, then the body ends.
    EndlessEvent(usize),
}

/// Settings of one mock instance.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub behaviour: Behaviour,
    /// When set, requests must carry this key, else 401 in the vendor's shape: Anthropic only
    /// accepts `x-api-key`, Azure only `api-key`; OpenAI paths take any of Bearer, `api-key` or
    /// `x-api-key`. (Anthropic requires `x-api-key` even when this is unset.)
    pub expected_key: Option<String>,
    /// Content chunks in a streamed answer.
    pub chunks: usize,
    /// Delay between streamed chunks.
    pub chunk_delay: Duration,
    /// Tokens of the prompt reported in usage.
    pub prompt_tokens: u64,
    /// Prompt tokens read from the cache (OpenAI `cached_tokens`, Anthropic
    /// `cache_read_input_tokens`).
    pub cached_tokens: u64,
    /// Prompt tokens written to the cache (Anthropic `cache_creation_input_tokens`).
    pub cache_write_tokens: u64,
    pub workers: usize,
    /// Sent on every response (e.g. rate-limit headers, `retry-after`).
    pub extra_headers: Vec<(String, String)>,
    /// Keep every request for [`MockUpstream::received`]. Benchmarks turn it off: millions of
    /// recorded requests would grow the mock by gigabytes.
    pub record: bool,
    /// Every n-th chat request answers `500` (the soak run's background of upstream errors).
    pub fail_every: Option<u64>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            behaviour: Behaviour::Normal,
            expected_key: None,
            chunks: 5,
            chunk_delay: Duration::ZERO,
            prompt_tokens: 12,
            cached_tokens: 0,
            cache_write_tokens: 0,
            workers: 1,
            extra_headers: Vec::new(),
            record: true,
            fail_every: None,
        }
    }
}

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
    /// The body's bytes exactly as they arrived.
    pub raw_body: bytes::Bytes,
    /// The client's end of the connection it came on: requests from one address shared a
    /// connection.
    pub peer: Option<std::net::SocketAddr>,
    /// `HTTP/1.1` or `HTTP/2.0`: what the client chose (over TLS, by ALPN).
    pub version: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Shared between the handlers and the test.
#[derive(Default)]
pub struct MockState {
    config: Mutex<Option<MockConfig>>,
    received: Mutex<Vec<Received>>,
    /// Streams that ended because the reader went away.
    cancelled: Mutex<usize>,
    cancelled_notify: Notify,
    /// Numbers the ids of answers (`msg_mock…`, `req_mock…`).
    next_id: AtomicU64,
    /// Chat requests seen, for [`MockConfig::fail_every`].
    chats: AtomicU64,
    /// Bytes of [`Behaviour::Flood`] streams handed to the network so far.
    flooded: AtomicU64,
    /// Responses API answers stored (`store` left out or true), by id.
    responses: Mutex<std::collections::HashMap<String, responses::StoredResponse>>,
}

impl MockState {
    pub fn config(&self) -> MockConfig {
        self.config.lock().unwrap().clone().unwrap_or_default()
    }

    fn record(&self, r: Received) {
        self.received.lock().unwrap().push(r);
    }

    /// A fresh number for an answer's ids, unique within this mock.
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn stream_cancelled(&self) {
        *self.cancelled.lock().unwrap() += 1;
        self.cancelled_notify.notify_waiters();
        self.cancelled_notify.notify_one();
    }
}

pub struct MockUpstream {
    pub addr: SocketAddr,
    /// `http`, or `https` for [`MockUpstream::start_tls`].
    scheme: &'static str,
    state: Arc<MockState>,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockUpstream {
    /// Starts on `127.0.0.1:0`.
    pub fn start(config: MockConfig) -> Self {
        Self::start_on("127.0.0.1:0", config)
    }

    pub fn start_on(bind: &str, config: MockConfig) -> Self {
        Self::start_with(bind, config, false)
    }

    /// Starts on `127.0.0.1:0` speaking HTTPS with the test certificate in `tls/` (valid for
    /// `127.0.0.1` and `localhost`, issued by [`TEST_CA_PEM`]), offering `h2` and `http/1.1`.
    #[cfg(feature = "tls")]
    pub fn start_tls(config: MockConfig) -> Self {
        Self::start_with("127.0.0.1:0", config, true)
    }

    fn start_with(bind: &str, config: MockConfig, tls: bool) -> Self {
        let state = Arc::new(MockState::default());
        *state.config.lock().unwrap() = Some(config.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = state.clone();
        let bind = bind.to_owned();
        let thread = std::thread::spawn(move || {
            let system = actix_rt::System::new();
            system.block_on(async move {
                let data = web::Data::from(shared);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .app_data(web::PayloadConfig::default().limit(64 * 1024 * 1024))
                        .default_service(web::to(dispatch))
                })
                .workers(config.workers)
                .disable_signals()
                .shutdown_timeout(0);
                #[cfg(feature = "tls")]
                let server = if tls {
                    server.bind_rustls_0_23(&bind, tls::server_config())
                } else {
                    server.bind(&bind)
                };
                #[cfg(not(feature = "tls"))]
                let server = server.bind(&bind);
                let server = server.expect("mock upstream binds");
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                let _ = server.await;
            });
        });
        let (addr, handle) = rx.recv().expect("mock upstream started");
        Self {
            addr,
            scheme: if tls { "https" } else { "http" },
            state,
            handle,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (`https://` for [`MockUpstream::start_tls`]).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`, an OpenAI base URL.
    pub fn openai_base(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// `http://127.0.0.1:PORT/v1`, an Anthropic base URL (requests go to `…/v1/messages`).
    pub fn anthropic_base(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// `http://127.0.0.1:PORT`, an Azure OpenAI endpoint (requests go to
    /// `/openai/deployments/{deployment}/…?api-version=…`).
    pub fn azure_endpoint(&self) -> String {
        self.url()
    }

    /// The settings now in force.
    pub fn config(&self) -> MockConfig {
        self.state.config()
    }

    /// Replaces all settings (the worker count only applies at start).
    pub fn set_config(&self, config: MockConfig) {
        *self.state.config.lock().unwrap() = Some(config);
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        let mut config = self.state.config();
        config.behaviour = behaviour;
        *self.state.config.lock().unwrap() = Some(config);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.received.lock().unwrap().len()
    }

    /// Bytes of [`Behaviour::Flood`] streams produced so far: a reader that stops reading stops
    /// this count once the buffers between it and the mock are full.
    pub fn flooded_bytes(&self) -> u64 {
        self.state.flooded.load(Ordering::Acquire)
    }

    pub fn cancelled_streams(&self) -> usize {
        *self.state.cancelled.lock().unwrap()
    }

    /// Resolves once at least `n` streams were abandoned by their reader.
    pub async fn wait_cancelled(&self, n: usize) {
        loop {
            let notified = self.state.cancelled_notify.notified();
            if self.cancelled_streams() >= n {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stopping needs a runtime; a small one is enough.
        let _ = std::thread::spawn(move || {
            actix_rt::System::new().block_on(handle.stop(false));
        })
        .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn dispatch(req: HttpRequest, body: web::Bytes, state: web::Data<MockState>) -> HttpResponse {
    let extra = state.config().extra_headers;
    let mut response = respond(req, body, state).await;
    for (name, value) in extra {
        if let (Ok(n), Ok(v)) = (
            actix_web::http::header::HeaderName::from_bytes(name.as_bytes()),
            actix_web::http::header::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

/// Misbehaviours that look the same whatever the vendor.
fn transport_fault(behaviour: &Behaviour) -> Option<HttpResponse> {
    match behaviour {
        Behaviour::ResetBeforeHeaders => Some(HttpResponse::Ok().streaming(futures_util::stream::once(async {
            Err::<bytes::Bytes, _>(std::io::Error::other("mock reset before headers"))
        }))),
        Behaviour::LargeBody(len) => Some(
            HttpResponse::Ok().content_type("application/json").body(
                serde_json::json!({
                    "id": "chatcmpl-large", "object": "chat.completion", "created": MOCK_CREATED, "model": "gpt-4o",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "x".repeat(*len)}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
                })
                .to_string(),
            ),
        ),
        Behaviour::EndlessEvent(total) => {
            const PIECE: usize = 64 * 1024;
            let total = *total;
            let pieces = futures_util::stream::unfold(0usize, move |sent| async move {
                if sent >= total {
                    return None;
                }
                let piece = if sent == 0 {
                    let mut first = b"data: ".to_vec();
                    first.resize(PIECE, b'x');
                    first
                } else {
                    vec![b'x'; PIECE.min(total - sent)]
                };
                let len = piece.len();
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(piece)), sent + len))
            });
            Some(
                HttpResponse::Ok()
                    .content_type("text/event-stream")
                    .streaming(pieces),
            )
        }
        Behaviour::InvalidSse => Some(
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .body("data: {this is not json\n\ndata: [DONE]\n\n"),
        ),
        _ => None,
    }
}

/// A behaviour the request asks for in its last user message: `mock:status=529` answers that
/// status (in the vendor's shape), `mock:stream_error` breaks a stream after two events with the
/// vendor's in-stream error. Lets end-to-end tests that share one mock make single calls fail.
fn requested_behaviour(body: &serde_json::Value) -> Option<Behaviour> {
    let last_user = body["messages"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["role"] == "user")?;
    let text = match &last_user["content"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => return None,
    };
    if text.contains("mock:stream_error") {
        return Some(Behaviour::StreamError(2));
    }
    let status = text.split("mock:status=").nth(1)?;
    let digits: String = status.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().map(Behaviour::Status)
}

async fn respond(req: HttpRequest, body: web::Bytes, state: web::Data<MockState>) -> HttpResponse {
    let parsed: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let mut config = state.config();
    if let Some(behaviour) = requested_behaviour(&parsed) {
        config.behaviour = behaviour;
    }
    if let Some(fault) = transport_fault(&config.behaviour) {
        return fault;
    }
    if let Behaviour::Flood {
        chunks,
        chunk_bytes,
    } = config.behaviour
    {
        return sse::flood(chunks, chunk_bytes, state.into_inner());
    }
    if config.record {
        state.record(Received {
            method: req.method().to_string(),
            peer: req.peer_addr(),
            version: format!("{:?}", req.version()),
            path: req.path().to_owned(),
            query: req.query_string().to_owned(),
            headers: req
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: parsed.clone(),
            raw_body: body.clone(),
        });
    }
    let state = state.into_inner();
    let path = req.path();
    if path.ends_with("/messages/count_tokens") {
        return anthropic::count_tokens(&req, &config, &parsed);
    }
    if path.ends_with("/messages") {
        return anthropic::messages(&req, &config, &parsed, state).await;
    }
    if path.starts_with("/openai/deployments/") {
        return azure::dispatch(&req, &config, &parsed, state).await;
    }
    if path.ends_with("/responses") {
        return responses::create(&req, &config, &parsed, state).await;
    }
    if req.method() == actix_web::http::Method::GET && path.ends_with("/models") {
        if req.headers().contains_key("anthropic-version") {
            return anthropic::models();
        }
        return openai::models();
    }
    let endpoint = if path.ends_with("/chat/completions") {
        Endpoint::Chat
    } else if path.ends_with("/embeddings") {
        Endpoint::Embeddings
    } else {
        return openai::error(
            404,
            "Unknown request URL",
            "invalid_request_error",
            Some("unknown_url"),
        );
    };
    if let Some(expected) = &config.expected_key {
        if !carries_key(&req, expected) {
            return openai::error(
                401,
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                Some("invalid_api_key"),
            );
        }
    }
    if let (Endpoint::Chat, Some(every)) = (endpoint, config.fail_every) {
        if (state.chats.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(every.max(1)) {
            return openai::error(
                500,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
            );
        }
    }
    match endpoint {
        Endpoint::Chat => openai::chat(&config, &parsed, state, openai::Flavour::OpenAi).await,
        Endpoint::Embeddings => embeddings::create(&config, &parsed, None).await,
    }
}

/// The OpenAI-shaped endpoints the mock serves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Endpoint {
    Chat,
    Embeddings,
}

/// OpenAI accepts its key as a Bearer token; the mock is lenient and also takes the Azure and
/// Anthropic headers there (the vendor-specific paths are strict).
fn carries_key(req: &HttpRequest, expected: &str) -> bool {
    let h = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    h("authorization").and_then(|v| v.strip_prefix("Bearer ")) == Some(expected)
        || h("api-key") == Some(expected)
        || h("x-api-key") == Some(expected)
}
