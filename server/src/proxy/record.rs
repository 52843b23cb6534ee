//! Accounting for one client request: each attempt's outcome goes to its key's actor, and the
//! request's single call-log row goes to the batch writer, both fire-and-forget.

use std::sync::Arc;
use std::time::Instant;

use crate::actors::KeyRegistry;
use crate::db::call_logs::NewCallLog;
use crate::db::now_ms;
use crate::routing::{call_cost, KeyProfile, Outcome, TokenUsage};
use crate::writer::WriterHandle;

pub struct CallRecord {
    keys: KeyRegistry,
    writer: WriterHandle,
    pub request_id: String,
    started: Instant,
    created_at: i64,
    /// The model requested, then the model actually used by the current attempt.
    pub model: String,
    endpoint: &'static str,
    pub stream: bool,
    client_key_id: Option<i32>,
    pub attempts: i32,
    pub key: Option<Arc<KeyProfile>>,
    attempt_started: Instant,
    ttfb_ms: Option<i64>,
}

impl CallRecord {
    pub fn new(
        keys: KeyRegistry,
        writer: WriterHandle,
        model: String,
        endpoint: &'static str,
        stream: bool,
        client_key_id: Option<i32>,
    ) -> Self {
        let now = Instant::now();
        Self {
            keys,
            writer,
            request_id: new_request_id(),
            started: now,
            created_at: now_ms(),
            model,
            endpoint,
            stream,
            client_key_id,
            attempts: 0,
            key: None,
            attempt_started: now,
            ttfb_ms: None,
        }
    }

    /// A new attempt on `key`, asked for `model` (the requested model or its equivalent).
    pub fn begin_attempt(&mut self, key: Arc<KeyProfile>, model: &str) {
        self.attempts += 1;
        if self.model != model {
            self.model = model.to_owned();
        }
        self.key = Some(key);
        self.attempt_started = Instant::now();
        self.ttfb_ms = None;
    }

    /// The upstream's response head arrived.
    pub fn mark_first_byte(&mut self) {
        self.ttfb_ms = Some(self.attempt_started.elapsed().as_millis() as i64);
    }

    pub fn attempt_ms(&self) -> f64 {
        self.attempt_started.elapsed().as_secs_f64() * 1000.0
    }

    pub fn ttfb_ms(&self) -> Option<i64> {
        self.ttfb_ms
    }

    pub fn cost(&self, usage: &TokenUsage) -> f64 {
        self.key.as_ref().map_or(0.0, |k| {
            call_cost(k.pricing(&self.model), k.cost_per_request, usage)
        })
    }

    /// A failed attempt on the current key (the request may go on with another key).
    pub fn attempt_failed(&self, auth_failed: bool) {
        if let Some(key) = &self.key {
            self.keys.record(
                key.id,
                Outcome {
                    success: false,
                    auth_failed,
                    latency_ms: self.attempt_ms(),
                    tokens: TokenUsage::default(),
                    cost_usd: 0.0,
                    at_ms: now_ms(),
                },
            );
        }
    }

    /// The request is over: record the key's outcome (on success) and write the call log.
    /// `latency_ms` is what feeds the key's latency average.
    pub fn finish(
        self,
        status: u16,
        usage: Option<TokenUsage>,
        error: Option<String>,
        latency_ms: f64,
    ) {
        let usage = usage.unwrap_or_default();
        let cost = self.cost(&usage);
        let success = status < 400;
        if let (Some(key), true) = (&self.key, success) {
            self.keys.record(
                key.id,
                Outcome {
                    success: true,
                    auth_failed: false,
                    latency_ms,
                    tokens: usage,
                    cost_usd: cost,
                    at_ms: now_ms(),
                },
            );
        }
        self.writer.log(NewCallLog {
            created_at: self.created_at,
            request_id: self.request_id,
            key_id: self.key.as_ref().map(|k| k.id),
            key_name: self.key.as_ref().map(|k| k.name.clone()),
            provider: self.key.as_ref().map(|k| k.provider_id().to_owned()),
            model: self.model,
            endpoint: self.endpoint.to_owned(),
            stream: self.stream,
            status: i32::from(status),
            error,
            latency_ms: self.started.elapsed().as_millis() as i64,
            ttfb_ms: self.ttfb_ms,
            prompt_tokens: usage.prompt,
            completion_tokens: usage.completion,
            cached_tokens: usage.cached,
            total_tokens: usage.total(),
            cost_usd: cost,
            attempts: self.attempts,
            client_key_id: self.client_key_id,
        });
    }
}

/// `req_` and 24 hex digits: unique enough to correlate logs, cheap to make.
fn new_request_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut id = String::with_capacity(28);
    id.push_str("req_");
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id
}
