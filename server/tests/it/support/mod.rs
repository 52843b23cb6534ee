//! Shared helpers: `TestApp` (a server on 127.0.0.1:0 in a fresh data folder) and small HTTP
//! helpers. Mock upstreams come from the `mock-upstream` crate.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use api_proxy::app::{start_with_clock, RunningApp};
use api_proxy::clock::Clock;
use api_proxy::config::ServerConfig;
use api_proxy::state::AppState;
use futures_util::StreamExt;
use mock_upstream::{Behaviour, MockConfig, MockUpstream};
use serde_json::{json, Value};
use tempfile::TempDir;

pub mod pg;
pub mod surface;

/// Polls `check` until it holds (no fixed sleeps: a condition another instance or thread makes
/// true), failing after `within` with `what`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";
pub const SECRET: &str = "sk-test-SECRETSECRETSECRET-1234";

pub fn repo_path(rel: &str) -> String {
    format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// Environment for a server in `dir`; `extra` overrides.
pub fn env_for(dir: &TempDir, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("PORT", "0".to_owned()),
        ("WORKERS", "1".to_owned()),
        ("ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("PROVIDERS_DIR", repo_path("configs/providers")),
        ("LOG_FLUSH_MS", "20".to_owned()),
        ("SHUTDOWN_TIMEOUT_SECS", "5".to_owned()),
        (
            "DATABASE_PATH",
            dir.path().join("data/api-proxy.db").display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

pub fn config_for(dir: &TempDir, extra: &[(&str, &str)]) -> ServerConfig {
    let env = env_for(dir, extra);
    ServerConfig::from_lookup(|k| env.get(k).cloned()).expect("test config")
}

pub struct TestApp {
    app: Option<RunningApp>,
    pub dir: Arc<TempDir>,
    pub base: String,
    pub http: awc::Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an OpenAI-shaped error and returns its `code`.
    pub fn error_code(&self) -> Option<&str> {
        let e = &self.body["error"];
        assert!(
            e["message"].is_string(),
            "not an OpenAI error: {}",
            self.text
        );
        assert!(e["type"].is_string(), "not an OpenAI error: {}", self.text);
        e["code"].as_str()
    }
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        Self::start_in(Arc::new(TempDir::new().unwrap()), extra).await
    }

    pub async fn start_in(dir: Arc<TempDir>, extra: &[(&str, &str)]) -> Self {
        Self::start_full(dir, extra, Clock::System).await
    }

    /// A server whose routing clock only moves when the test says so.
    pub async fn start_with_clock(clock: Clock) -> Self {
        Self::start_full(Arc::new(TempDir::new().unwrap()), &[], clock).await
    }

    async fn start_full(dir: Arc<TempDir>, extra: &[(&str, &str)], clock: Clock) -> Self {
        let app = start_with_clock(config_for(&dir, extra), clock)
            .await
            .expect("server starts");
        let base = format!("http://{}", app.addr);
        Self {
            app: Some(app),
            dir,
            base,
            http: awc::Client::builder()
                .timeout(Duration::from_secs(60))
                .finish(),
        }
    }

    pub fn state(&self) -> &AppState {
        &self.app.as_ref().unwrap().state
    }

    /// Graceful stop; returns the data folder for a restart.
    pub async fn stop(mut self) -> Arc<TempDir> {
        self.app.take().unwrap().stop().await;
        self.dir.clone()
    }

    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("data/api-proxy.db")
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        let mut resp = match body {
            Some(b) => req.send_json(&b).await.unwrap(),
            None => req.send().await.unwrap(),
        };
        let bytes = resp.body().limit(64 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        }
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.request(method, path, Some(ADMIN_TOKEN), body).await
    }

    pub async fn chat(&self, body: Value) -> Reply {
        self.request(
            "POST",
            "/v1/chat/completions",
            Some("any-client-key"),
            Some(body),
        )
        .await
    }

    /// Adds a key and returns its id.
    pub async fn add_key(&self, body: Value) -> i64 {
        let r = self.admin("POST", "/api/keys", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_i64().unwrap()
    }

    pub async fn add_openai_key(&self, name: &str, mock: &MockUpstream) -> i64 {
        self.add_key(json!({
            "provider": "openai", "name": name, "api_key": SECRET, "base_url": mock.openai_base()
        }))
        .await
    }

    pub async fn put_settings(&self, body: Value) {
        let r = self.admin("PUT", "/api/settings", Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    /// Streams a chat request and returns the status and every byte received.
    pub async fn stream_chat(&self, body: Value) -> (StatusCode, String) {
        let mut resp = self
            .http
            .post(format!("{}/v1/chat/completions", self.base))
            .send_json(&body)
            .await
            .unwrap();
        let status = resp.status();
        let mut text = String::new();
        while let Some(chunk) = resp.next().await {
            match chunk {
                Ok(bytes) => text.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => break,
            }
        }
        (status, text)
    }

    pub async fn logs(&self) -> Vec<Value> {
        let r = self.admin("GET", "/api/logs?limit=500", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["data"].as_array().unwrap().clone()
    }
}

pub const ANTHROPIC_VERSION: &str = "2023-06-01";

impl TestApp {
    /// `POST path` as Anthropic's SDKs send it: `x-api-key`, `anthropic-version` and `extra`
    /// headers, `body` as these exact bytes.
    pub async fn anthropic_raw(
        &self,
        path: &str,
        body: impl Into<bytes::Bytes>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .insert_header(("x-api-key", "any-client-key"))
            .insert_header(("anthropic-version", ANTHROPIC_VERSION))
            .insert_header(("content-type", "application/json"));
        for (name, value) in extra {
            req = req.append_header((*name, *value));
        }
        let mut resp = req.send_body(body.into()).await.unwrap();
        let bytes = resp.body().limit(64 << 20).await.unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        }
    }

    /// `POST /v1/messages` as Anthropic's SDKs send it (for a stream, the whole SSE text is in
    /// `text`).
    pub async fn messages(&self, body: Value) -> Reply {
        self.anthropic_raw("/v1/messages", body.to_string(), &[])
            .await
    }
}

impl Reply {
    /// Asserts an Anthropic-shaped error and returns its type.
    pub fn anthropic_error_type(&self) -> &str {
        assert_eq!(
            self.body["type"], "error",
            "not an Anthropic error: {}",
            self.text
        );
        assert!(
            self.body["error"]["message"].is_string(),
            "not an Anthropic error: {}",
            self.text
        );
        self.body["error"]["type"].as_str().unwrap()
    }
}

/// A Messages request for `model` saying hello.
pub fn messages_body(model: &str) -> Value {
    json!({"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": "Say hello"}]})
}

/// `(event name, data)` of every event of an Anthropic SSE text.
pub fn anthropic_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .filter_map(|e| {
            let mut name = None;
            let mut data = None;
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                }
                if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).ok();
                }
            }
            Some((name?, data?))
        })
        .collect()
}

pub fn chat_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hello"}]})
}

pub fn stream_body(model: &str) -> Value {
    json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "Say hello"}]})
}

/// The `data:` payloads of an SSE text, in order.
pub fn sse_data(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|event| {
            let lines: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
                .collect();
            (!lines.is_empty()).then(|| lines.join("\n"))
        })
        .collect()
}

/// Assembled `delta.content` of a chat stream.
pub fn assembled(text: &str) -> String {
    sse_data(text)
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// An app whose key `first` (priority 1) answers 500 and whose key `second` (priority 2, with
/// `second_extra`'s fields) answers; the mocks serve as long as the returned pair lives.
pub async fn failing_over_app(second_extra: Value) -> (TestApp, [MockUpstream; 2]) {
    let broken = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(500),
        ..Default::default()
    });
    let healthy = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_key(
        json!({"provider": "openai", "name": "first", "api_key": "sk-first-000000",
        "base_url": broken.openai_base(), "priority": 1}),
    )
    .await;
    let mut second = json!({"provider": "openai", "name": "second", "api_key": "sk-second-00000",
        "base_url": healthy.openai_base(), "priority": 2});
    second
        .as_object_mut()
        .unwrap()
        .extend(second_extra.as_object().unwrap().clone());
    app.add_key(second).await;
    (app, [broken, healthy])
}
