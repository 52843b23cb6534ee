//! Accounting for one client request: each attempt's outcome goes to its key's actor, and the
//! request's single call-log row (with the attempt trail and the prices charged) goes to the
//! batch writer, both fire-and-forget. The attempt's lease on its key is released when the
//! attempt ends, whichever way it ends.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{HeaderName, HeaderValue};
use serde::Serialize;

use crate::actors::KeyRegistry;
use crate::client_limits::ClientCall;
use crate::clock::Clock;
use crate::db::call_logs::NewCallLog;
use crate::db::Db;
use crate::live_hub::LiveHub;
use crate::metrics::live::CallSummary;
use crate::metrics::prometheus::FinishedCall;
use crate::metrics::Metrics;
use crate::otel::{CallEnd, CallSpan};
use crate::routing::cost::MAX_CALL_TOKENS;
use crate::routing::ratelimit::RateLimitInfo;
use crate::routing::{
    call_cost, KeyProfile, Lease, Outcome, Picked, ResponseOwners, Signal, TokenUsage,
};
use crate::writer::WriterHandle;
use shared::live::LiveCall;

/// One attempt, as the call log keeps it.
#[derive(Debug, Clone, Serialize)]
struct AttemptEntry {
    key_id: i32,
    key_name: String,
    provider: String,
    status: Option<u16>,
    error: Option<String>,
    latency_ms: i64,
}

/// The handles a call's accounting goes to.
#[derive(Clone)]
pub struct Accounting {
    pub keys: KeyRegistry,
    pub writer: WriterHandle,
    pub live: LiveHub,
    pub clock: Clock,
    pub response_owners: ResponseOwners,
    pub metrics: Metrics,
    /// The database other instances share (PostgreSQL): client-key spend is charged there.
    pub shared_db: Option<Db>,
}

pub struct CallRecord {
    keys: KeyRegistry,
    writer: WriterHandle,
    live: LiveHub,
    clock: Clock,
    response_owners: ResponseOwners,
    metrics: Metrics,
    shared_db: Option<Db>,
    /// The id of the answer the upstream stored (Responses API), remembered with its key when
    /// the call succeeds.
    stored_response: Option<String>,
    pub request_id: String,
    started: Instant,
    created_at: i64,
    /// The model requested, then the model actually used by the current attempt.
    pub model: String,
    endpoint: &'static str,
    pub stream: bool,
    client_key_id: Option<i32>,
    client_key_name: Option<String>,
    /// What the call holds of its client key's limits, settled when it ends.
    client: Option<ClientCall>,
    /// Keep this call's row in the call log (`store_call_logs`).
    store_row: bool,
    pub attempts: i32,
    pub key: Option<Arc<KeyProfile>>,
    lease: Option<Lease>,
    attempt_started: Instant,
    ttfb_ms: Option<f64>,
    rate_limit: Option<RateLimitInfo>,
    trail: Vec<AttemptEntry>,
    /// Time spent in finished attempts (waiting on upstreams), for the overhead metric.
    upstream_ms: f64,
    /// The call's trace span, when traces are exported.
    span: Option<CallSpan>,
    finish_reasons: Vec<String>,
}

impl CallRecord {
    pub fn new(
        accounting: Accounting,
        model: String,
        endpoint: &'static str,
        stream: bool,
        client: Option<&ClientCall>,
        store_row: bool,
    ) -> Self {
        let now = Instant::now();
        let Accounting {
            keys,
            writer,
            live,
            clock,
            response_owners,
            metrics,
            shared_db,
        } = accounting;
        Self {
            keys,
            writer,
            live,
            response_owners,
            metrics,
            shared_db,
            stored_response: None,
            created_at: clock.now_ms(),
            clock,
            request_id: new_request_id(),
            started: now,
            model,
            endpoint,
            stream,
            client_key_id: client.map(|c| c.key().id),
            client_key_name: client.map(|c| c.key_name().to_owned()),
            client: None,
            store_row,
            attempts: 0,
            key: None,
            lease: None,
            attempt_started: now,
            ttfb_ms: None,
            rate_limit: None,
            trail: Vec::new(),
            upstream_ms: 0.0,
            span: None,
            finish_reasons: Vec::new(),
        }
    }

    /// Traces the call in `span` (ended with the call).
    pub fn traced(&mut self, span: CallSpan) {
        self.span = Some(span);
    }

    pub fn is_traced(&self) -> bool {
        self.span.is_some()
    }

    /// The answer's finish reasons, for the trace.
    pub fn finish_reasons(&mut self, reasons: Vec<String>) {
        self.finish_reasons = reasons;
    }

    /// The call was admitted by its client key's limits: what it holds is settled in
    /// [`CallRecord::finish`].
    pub fn attach_client(&mut self, client: ClientCall) {
        self.client = Some(client);
    }

    /// OpenAI's `x-ratelimit-*` headers for the client key's limits.
    pub fn rate_headers(&self) -> impl Iterator<Item = (HeaderName, HeaderValue)> {
        self.client
            .as_ref()
            .map(|c| c.rate_headers().pairs())
            .into_iter()
            .flatten()
    }

    /// A new attempt on the picked key (its lease is held until the attempt ends). Returns the
    /// `traceparent` header for the upstream when the call is traced.
    pub fn begin_attempt(&mut self, picked: Picked) -> Option<(HeaderName, HeaderValue)> {
        self.attempts += 1;
        if self.model != picked.model {
            self.model = picked.model;
        }
        let (attempts, model) = (self.attempts, &self.model);
        let traceparent = self
            .span
            .as_mut()
            .map(|span| span.begin_attempt(attempts, &picked.bid.profile, model));
        self.key = Some(picked.bid.profile);
        self.lease = Some(picked.lease);
        self.attempt_started = Instant::now();
        self.ttfb_ms = None;
        self.rate_limit = None;
        traceparent
    }

    /// The upstream's response head arrived; `rate_limit` is what its headers said.
    pub fn mark_first_byte(&mut self, rate_limit: RateLimitInfo) {
        self.ttfb_ms = Some(self.attempt_ms());
        self.rate_limit = Some(rate_limit);
    }

    pub fn attempt_ms(&self) -> f64 {
        self.attempt_started.elapsed().as_secs_f64() * 1000.0
    }

    /// `usage` as it is accounted: every count within `[0, MAX_CALL_TOKENS]`. A count out of
    /// that range (a broken or hostile upstream) is logged, counts only, and clamped.
    pub fn checked_usage(&self, usage: TokenUsage) -> TokenUsage {
        let (clamped, changed) = usage.clamped();
        if changed {
            tracing::warn!(
                request_id = %self.request_id,
                key_id = self.key.as_ref().map(|k| k.id),
                model = %self.model,
                prompt = usage.prompt,
                completion = usage.completion,
                cached = usage.cached,
                cache_write = usage.cache_write,
                reasoning = usage.reasoning,
                "the upstream reported token counts out of range; clamped to [0, {MAX_CALL_TOKENS}]"
            );
        }
        clamped
    }

    pub fn cost(&self, usage: &TokenUsage) -> f64 {
        self.key.as_ref().map_or(0.0, |k| {
            call_cost(k.pricing(&self.model), k.cost_per_request, usage)
        })
    }

    fn push_trail(&mut self, status: Option<u16>, error: Option<String>) {
        if let Some(key) = &self.key {
            self.trail.push(AttemptEntry {
                key_id: key.id,
                key_name: key.name.clone(),
                provider: key.provider_id().to_owned(),
                status,
                error,
                latency_ms: self.attempt_ms() as i64,
            });
        }
    }

    /// A failed attempt on the current key (the request may go on with another key).
    pub fn attempt_failed(&mut self, signal: Signal, status: Option<u16>, error: String) {
        if let Some(key) = &self.key {
            self.keys.record(
                key.id,
                Outcome {
                    signal,
                    ttfb_ms: self.ttfb_ms,
                    total_ms: None,
                    tokens: TokenUsage::default(),
                    cost_usd: 0.0,
                    rate_limit: self.rate_limit,
                    at_ms: self.clock.now_ms(),
                },
            );
        }
        if let Some(span) = &mut self.span {
            span.end_attempt(status, Some(&error));
        }
        self.push_trail(status, Some(error));
        self.upstream_ms += self.attempt_ms();
        self.lease = None;
    }

    /// The attempts so far, for a client's error message: `` `main` (HTTP 401), `backup`
    /// (unreachable) ``.
    pub fn tried_summary(&self) -> String {
        let mut summary = String::new();
        for (i, attempt) in self.trail.iter().enumerate() {
            if i > 0 {
                summary.push_str(", ");
            }
            let outcome = match attempt.status {
                Some(status) => format!("HTTP {status}"),
                None => "no answer".to_owned(),
            };
            summary.push_str(&format!("`{}` ({outcome})", attempt.key_name));
        }
        summary
    }

    /// The upstream stored the answer under `id` (only the current key's account has it).
    pub fn stored_response(&mut self, id: String) {
        self.stored_response = Some(id);
    }

    /// The request is over: record the key's outcome (on success) and write the call log.
    pub fn finish(mut self, status: u16, usage: Option<TokenUsage>, error: Option<String>) {
        let usage = self.checked_usage(usage.unwrap_or_default());
        let cost = self.cost(&usage);
        if let Some(client) = self.client.take() {
            if let Some(db) = &self.shared_db {
                super::shared_quota::charge_client(
                    db,
                    client.key_handle(),
                    cost,
                    self.clock.now_ms(),
                );
            }
            client.finish(status, &usage, cost);
            if let Some(name) = &self.client_key_name {
                self.metrics.client_key_spend(name, cost);
            }
        }
        let success = status < 400;
        if self.lease.is_some() {
            // The attempt that ends with the call (its stream included).
            self.upstream_ms += self.attempt_ms();
        }
        if success {
            if let Some(key) = &self.key {
                if let Some(id) = self.stored_response.take() {
                    self.response_owners
                        .remember(&id, key.id, self.clock.now_ms());
                }
                self.keys.record(
                    key.id,
                    Outcome {
                        signal: Signal::Success,
                        ttfb_ms: self.ttfb_ms,
                        total_ms: Some(self.attempt_ms()),
                        tokens: usage,
                        cost_usd: cost,
                        rate_limit: self.rate_limit,
                        at_ms: self.clock.now_ms(),
                    },
                );
            }
            self.push_trail(Some(status), None);
            if let Some(lease) = self.lease.take() {
                lease.spend();
            }
        } else if status == 499 && self.lease.is_some() {
            self.push_trail(Some(status), error.clone());
        }
        self.lease = None;
        let prices = self
            .key
            .as_ref()
            .map(|k| (k.pricing(&self.model).cloned(), k.cost_per_request));
        let (pricing, per_call) = match prices {
            Some((p, fee)) => (p, Some(fee)),
            None => (None, None),
        };
        let trail = (!self.trail.is_empty())
            .then(|| serde_json::to_string(&self.trail).expect("the trail serialises"));
        let key = self.key.take();
        if let Some(span) = self.span.take() {
            span.end(CallEnd {
                status,
                key: key.as_ref(),
                model: &self.model,
                usage: &usage,
                attempts: self.attempts,
                finish_reasons: std::mem::take(&mut self.finish_reasons),
                error: error.as_deref(),
            });
        }
        let elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let latency_ms = elapsed_ms as i64;
        if self.metrics.is_enabled() {
            let failed: Vec<(&str, &str)> = self
                .trail
                .iter()
                .filter(|a| a.error.is_some())
                .map(|a| (a.key_name.as_str(), a.provider.as_str()))
                .collect();
            self.metrics.call_finished(&FinishedCall {
                key: key.as_deref(),
                model: &self.model,
                endpoint: self.endpoint,
                status,
                usage: &usage,
                cost_usd: cost,
                duration_secs: elapsed_ms / 1000.0,
                ttft_secs: self.ttfb_ms.filter(|_| success).map(|t| t / 1000.0),
                overhead_secs: (elapsed_ms - self.upstream_ms) / 1000.0,
                attempts: self.attempts,
                failed_attempts: &failed,
            });
        }
        let summary = CallSummary {
            status: i32::from(status),
            latency_ms,
            tokens: usage.total(),
            cost_usd: cost,
        };
        self.live
            .call_finished(summary, self.clock.now_ms(), || LiveCall {
                request_id: self.request_id.clone(),
                created_at: self.created_at,
                key_id: key.as_ref().map(|k| i64::from(k.id)),
                key_name: key.as_ref().map(|k| k.name.clone()),
                provider: key.as_ref().map(|k| k.provider_id().to_owned()),
                model: self.model.clone(),
                endpoint: self.endpoint.to_owned(),
                stream: self.stream,
                status: i32::from(status),
                error: error.clone(),
                latency_ms,
                ttfb_ms: self.ttfb_ms.map(|t| t as i64),
                prompt_tokens: usage.prompt,
                completion_tokens: usage.completion,
                cost_usd: cost,
                attempts: self.attempts,
                client_key: self.client_key_name.clone(),
            });
        self.writer.log(
            NewCallLog {
                created_at: self.created_at,
                request_id: std::mem::take(&mut self.request_id),
                key_id: key.as_ref().map(|k| k.id),
                key_name: key.as_ref().map(|k| k.name.clone()),
                provider: key.as_ref().map(|k| k.provider_id().to_owned()),
                model: std::mem::take(&mut self.model),
                endpoint: self.endpoint.to_owned(),
                stream: self.stream,
                status: i32::from(status),
                error,
                latency_ms,
                ttfb_ms: self.ttfb_ms.map(|t| t as i64),
                prompt_tokens: usage.prompt,
                completion_tokens: usage.completion,
                cached_tokens: usage.cached,
                total_tokens: usage.total(),
                cost_usd: cost,
                attempts: self.attempts,
                client_key_id: self.client_key_id,
                attempt_trail: trail,
                price_input: pricing.as_ref().map(|p| p.input),
                price_output: pricing.as_ref().map(|p| p.output),
                price_cached_input: pricing.as_ref().and_then(|p| p.cached_input),
                price_cache_write: pricing.as_ref().and_then(|p| p.cache_write),
                price_per_call: per_call,
            },
            self.store_row,
        );
    }
}

/// `req_` and 24 hex digits: unique enough to correlate logs, cheap to make.
fn new_request_id() -> String {
    use rand::RngCore;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut id = String::with_capacity(28);
    id.push_str("req_");
    for b in bytes {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_prefixed_hex_and_distinct() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_eq!(a.len(), 28);
        assert!(a.starts_with("req_"));
        assert!(a[4..]
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}
