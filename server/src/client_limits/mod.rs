//! Limits per client key, enforced exactly under concurrency without a lock shared by all
//! requests: each key's state is its own set of atomics (found through a sharded map), a call
//! takes what it needs with compare-and-swap steps and gives back what it did not use.
//!
//! A call goes through, in order: the key is enabled and not expired (401), the model is on the
//! key's allow-list, aliases resolved (403), a slot of `max_parallel` (429), one request of the
//! `rpm` bucket (429), its estimated tokens from the `tpm` bucket (429), its estimated cost from
//! the budget (402). A refused step gives back what the earlier ones took. When the call ends,
//! the tokens and cost are settled to what the upstream reported; a failed call costs nothing.
//!
//! The estimate ([`Demand`]): prompt tokens by a byte heuristic ([`BYTES_PER_TOKEN`] bytes of
//! request body per token) plus the output allowance (`max_tokens`, else the model's output
//! limit), at the highest prices among the keys that could serve the model.

pub mod bucket;
pub mod budget;
pub mod policy;

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use bytes::BytesMut;
use dashmap::DashMap;
use shared::client_keys::{BudgetPeriod, ClientKeyUsage};

use crate::crypto::sha256_hex;
use crate::db::client_keys::ClientKeyRow;
use crate::routing::TokenUsage;
use bucket::{format_reset, write_reset, BucketState, RateBucket};
use budget::{nanos_to_usd, period_bounds, usd_to_nanos, Budget};
pub use policy::Policy;

/// The status of a call whose client went away (mid-stream, say).
const CLIENT_CLOSED: u16 = 499;

/// Bytes of request body counted as one prompt token by the estimate (English text runs about
/// four bytes a token; JSON framing makes a body longer than its text).
pub const BYTES_PER_TOKEN: u64 = 4;

/// What a call is expected to use: the basis of its reservations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    pub tokens: u64,
    /// Nano-USD.
    pub cost: i64,
}

/// The prompt tokens of a request body of `body_len` bytes, by the byte heuristic.
pub fn prompt_estimate(body_len: usize) -> u64 {
    (body_len as u64).div_ceil(BYTES_PER_TOKEN)
}

/// A refusal by a client key's limits. Every message names the key and the limit.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LimitError {
    #[error("client key `{name}` has expired")]
    Expired { name: String },
    #[error("client key `{name}` was revoked")]
    Revoked { name: String },
    #[error("client key `{name}` is disabled")]
    Disabled { name: String },
    #[error("client key `{name}` may not use model `{model}`")]
    Model { name: String, model: String },
    #[error("client key `{name}` already has {limit} requests in flight (its max_parallel)")]
    Parallel { name: String, limit: u32 },
    #[error(
        "client key `{name}` reached its limit of {} requests per minute; retry in {}",
        .headers.requests.map_or(0, |r| r.limit), format_reset(*retry_after_ms)
    )]
    Requests {
        name: String,
        retry_after_ms: i64,
        headers: RateHeaders,
    },
    #[error(
        "client key `{name}` reached its limit of {} tokens per minute (this request needs about {needed}); retry in {}",
        .headers.tokens.map_or(0, |r| r.limit), format_reset(*retry_after_ms)
    )]
    Tokens {
        name: String,
        needed: u64,
        retry_after_ms: i64,
        headers: RateHeaders,
    },
    #[error(
        "client key `{name}` has spent its {} budget of ${limit_usd:.2}{}",
        period.as_str(),
        resets_in_ms.map_or(String::new(), |ms| format!("; it renews in {}", format_reset(ms)))
    )]
    Budget {
        name: String,
        limit_usd: f64,
        period: BudgetPeriod,
        resets_in_ms: Option<i64>,
    },
}

impl LimitError {
    /// 401 for a key that may not be used at all, 403 for a model, 402 for a spent budget
    /// (not retried by OpenAI's SDKs, unlike 429), 429 for the rate limits.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Expired { .. } | Self::Revoked { .. } | Self::Disabled { .. } => {
                StatusCode::UNAUTHORIZED
            }
            Self::Model { .. } => StatusCode::FORBIDDEN,
            Self::Budget { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::Parallel { .. } | Self::Requests { .. } | Self::Tokens { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    /// OpenAI's error `type` and a stable `code`.
    pub fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::Expired { .. } => ("authentication_error", "client_key_expired"),
            Self::Revoked { .. } => ("authentication_error", "client_key_revoked"),
            Self::Disabled { .. } => ("authentication_error", "client_key_disabled"),
            Self::Model { .. } => ("permission_error", "model_not_allowed"),
            Self::Parallel { .. } => ("rate_limit_error", "too_many_parallel_requests"),
            Self::Requests { .. } => ("rate_limit_error", "rate_limit_exceeded"),
            Self::Tokens { .. } => ("rate_limit_error", "tokens_rate_limit_exceeded"),
            Self::Budget { .. } => ("insufficient_quota", "budget_exceeded"),
        }
    }

    /// Seconds for `Retry-After`, when waiting helps.
    pub fn retry_after_secs(&self) -> Option<u64> {
        let ms = match self {
            Self::Requests { retry_after_ms, .. } | Self::Tokens { retry_after_ms, .. } => {
                *retry_after_ms
            }
            Self::Parallel { .. } => 1000,
            Self::Budget { resets_in_ms, .. } => (*resets_in_ms)?,
            _ => return None,
        };
        Some((ms.max(1) as u64).div_ceil(1000))
    }

    pub fn rate_headers(&self) -> Option<&RateHeaders> {
        match self {
            Self::Requests { headers, .. } | Self::Tokens { headers, .. } => Some(headers),
            _ => None,
        }
    }
}

/// OpenAI's `x-ratelimit-*` headers for the key's buckets that have a limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub requests: Option<BucketState>,
    pub tokens: Option<BucketState>,
}

const REQUEST_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-ratelimit-limit-requests"),
    HeaderName::from_static("x-ratelimit-remaining-requests"),
    HeaderName::from_static("x-ratelimit-reset-requests"),
];
const TOKEN_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-ratelimit-limit-tokens"),
    HeaderName::from_static("x-ratelimit-remaining-tokens"),
    HeaderName::from_static("x-ratelimit-reset-tokens"),
];

impl RateHeaders {
    /// The headers, as typed names and values: on every answer of a limited key, so no name is
    /// parsed at run time and the values share one buffer (one allocation, not one each).
    pub fn pairs(&self) -> impl Iterator<Item = (HeaderName, HeaderValue)> {
        let mut text = BytesMut::with_capacity(64);
        let mut digits = itoa::Buffer::new();
        let value = |text: &mut BytesMut| {
            HeaderValue::from_maybe_shared(text.split().freeze())
                .expect("digits and letters are valid header values")
        };
        let mut pairs = Vec::with_capacity(6);
        for (state, [limit, remaining, reset]) in [
            (self.requests, REQUEST_HEADERS),
            (self.tokens, TOKEN_HEADERS),
        ] {
            if let Some(s) = state {
                text.extend_from_slice(digits.format(s.limit).as_bytes());
                pairs.push((limit, value(&mut text)));
                text.extend_from_slice(digits.format(s.remaining).as_bytes());
                pairs.push((remaining, value(&mut text)));
                write_reset(&mut text, s.reset_ms);
                pairs.push((reset, value(&mut text)));
            }
        }
        pairs.into_iter()
    }
}

/// Counts since the server started (seeded from nothing: the call log has the history).
#[derive(Debug, Default)]
struct Stats {
    calls: AtomicU64,
    errors: AtomicU64,
    limited: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    cost: AtomicU64,
}

/// One client key: its policy and the live state of its limits.
#[derive(Debug)]
pub struct ClientKey {
    pub id: i32,
    policy: RwLock<Arc<Policy>>,
    in_flight: AtomicU32,
    requests: RateBucket,
    tokens: RateBucket,
    budget: Budget,
    stats: Stats,
    /// Spend changed since it was last saved.
    dirty: AtomicBool,
}

impl ClientKey {
    pub fn from_row(row: &ClientKeyRow) -> Self {
        Self {
            id: row.id,
            policy: RwLock::new(Arc::new(Policy::from_row(row))),
            in_flight: AtomicU32::new(0),
            requests: RateBucket::default(),
            tokens: RateBucket::default(),
            budget: Budget::restored(usd_to_nanos(row.spent_usd), row.spent_period_start),
            stats: Stats::default(),
            dirty: AtomicBool::new(false),
        }
    }

    pub fn policy(&self) -> Arc<Policy> {
        self.policy
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn set_policy(&self, policy: Policy) {
        *self
            .policy
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(policy);
    }

    /// The key has a USD budget.
    pub fn has_budget(&self) -> bool {
        self.policy().budget.is_some()
    }

    /// Adopts the spend the instances sharing the database charged this key (see
    /// [`Budget::observe`]).
    pub fn observe_shared_spend(&self, spent_usd: f64, period_start: i64) {
        self.budget.observe(usd_to_nanos(spent_usd), period_start);
    }

    /// Rolls the budget into the period of `now_ms` if it turned; returns that period's start.
    pub fn budget_period(&self, now_ms: i64) -> i64 {
        self.budget.roll(self.policy().period, now_ms);
        self.budget.period_start()
    }

    pub fn name(&self) -> String {
        self.policy().name.clone()
    }

    /// The key may be used at all (401 otherwise).
    pub fn check_usable(&self, now_ms: i64) -> Result<(), LimitError> {
        let policy = self.policy();
        if policy.revoked {
            return Err(LimitError::Revoked {
                name: policy.name.clone(),
            });
        }
        if !policy.enabled {
            return Err(LimitError::Disabled {
                name: policy.name.clone(),
            });
        }
        if policy.expires_at.is_some_and(|at| now_ms >= at) {
            return Err(LimitError::Expired {
                name: policy.name.clone(),
            });
        }
        Ok(())
    }

    /// The spend to save, if it changed since the last time.
    pub fn take_unsaved_spend(&self) -> Option<(i32, f64, i64)> {
        self.dirty.swap(false, Ordering::AcqRel).then(|| {
            (
                self.id,
                nanos_to_usd(self.budget.spent()),
                self.budget.period_start(),
            )
        })
    }

    /// What the key used and what is left of each limit.
    pub fn usage(&self, now_ms: i64) -> ClientKeyUsage {
        let policy = self.policy();
        self.budget.roll(policy.period, now_ms);
        let spent = self.budget.spent();
        let committed = self.budget.committed();
        ClientKeyUsage {
            spent_usd: nanos_to_usd(spent),
            reserved_usd: nanos_to_usd((committed - spent).max(0)),
            budget_left_usd: policy.budget.map(|b| nanos_to_usd((b - committed).max(0))),
            period_started_at: self.budget.period_start(),
            requests_left: policy.rpm.map(|l| self.requests.state(l, now_ms).remaining),
            tokens_left: policy.tpm.map(|l| self.tokens.state(l, now_ms).remaining),
            in_flight: self.in_flight.load(Ordering::Acquire),
            calls: self.stats.calls.load(Ordering::Relaxed),
            errors: self.stats.errors.load(Ordering::Relaxed),
            limited: self.stats.limited.load(Ordering::Relaxed),
            prompt_tokens: self.stats.prompt_tokens.load(Ordering::Relaxed),
            completion_tokens: self.stats.completion_tokens.load(Ordering::Relaxed),
            cost_usd: nanos_to_usd(self.stats.cost.load(Ordering::Relaxed) as i64),
        }
    }
}

/// Every client key by the SHA-256 of its secret (a sharded map: lookups do not contend).
///
/// A key presented before is found again through `by_token`, keyed by two SipHashes of the
/// secret under this process's random keys: a SHA-256 per request was a tenth of what a
/// limited key costs a call. Only keys that matched are remembered (at most one entry per
/// secret that is a key), and never the secret itself.
#[derive(Debug, Clone, Default)]
pub struct ClientKeys {
    by_hash: Arc<DashMap<String, Arc<ClientKey>>>,
    by_token: Arc<DashMap<u128, Arc<ClientKey>>>,
    token_hasher: Arc<TokenHasher>,
}

/// Two independently keyed SipHash-1-3 instances: 128 bits, so telling two secrets apart does
/// not rest on 64.
#[derive(Debug, Default)]
struct TokenHasher(std::hash::RandomState, std::hash::RandomState);

impl TokenHasher {
    fn hash(&self, token: &str) -> u128 {
        (u128::from(self.0.hash_one(token)) << 64) | u128::from(self.1.hash_one(token))
    }
}

impl ClientKeys {
    pub fn load(rows: &[ClientKeyRow]) -> Self {
        let keys = Self::default();
        for row in rows {
            keys.insert(row);
        }
        keys
    }

    pub fn insert(&self, row: &ClientKeyRow) -> Arc<ClientKey> {
        let key = Arc::new(ClientKey::from_row(row));
        // A row inserted again replaces its key: no remembered lookup may keep the old one.
        if self
            .by_hash
            .insert(row.key_hash.clone(), key.clone())
            .is_some()
        {
            self.by_token.clear();
        }
        key
    }

    pub fn by_hash(&self, hash: &str) -> Option<Arc<ClientKey>> {
        self.by_hash.get(hash).map(|k| k.value().clone())
    }

    /// The key whose secret is `token`, if there is one.
    pub fn by_secret(&self, token: &str) -> Option<Arc<ClientKey>> {
        let fast = self.token_hasher.hash(token);
        if let Some(key) = self.by_token.get(&fast) {
            return Some(key.value().clone());
        }
        let key = self.by_hash(&sha256_hex(token))?;
        self.by_token.insert(fast, key.clone());
        Some(key)
    }

    pub fn get(&self, id: i32) -> Option<Arc<ClientKey>> {
        self.by_hash
            .iter()
            .find(|k| k.value().id == id)
            .map(|k| k.value().clone())
    }

    /// Applies a changed row (limits, revocation) to its key, keeping the key's live state.
    pub fn update(&self, row: &ClientKeyRow) {
        if let Some(key) = self.by_hash.get(&row.key_hash) {
            key.set_policy(Policy::from_row(row));
        }
    }

    pub fn all(&self) -> Vec<Arc<ClientKey>> {
        self.by_hash.iter().map(|k| k.value().clone()).collect()
    }

    /// The spend of every key that changed since the last call.
    pub fn unsaved_spend(&self) -> Vec<(i32, f64, i64)> {
        self.by_hash
            .iter()
            .filter_map(|k| k.value().take_unsaved_spend())
            .collect()
    }
}

/// One call made with a client key: counted when it starts, holding what it took from the
/// key's limits until it ends. Dropped without [`ClientCall::finish`] (an error before the call
/// was accounted, a client gone), it counts as an error and gives everything back.
#[derive(Debug)]
pub struct ClientCall {
    key: Arc<ClientKey>,
    policy: Arc<Policy>,
    holds_slot: bool,
    /// Tokens taken from the `tpm` bucket.
    tokens: u64,
    /// Nano-USD reserved from the budget.
    reserved: i64,
    headers: RateHeaders,
    finished: bool,
}

impl ClientCall {
    pub fn start(key: Arc<ClientKey>) -> Self {
        key.stats.calls.fetch_add(1, Ordering::Relaxed);
        let policy = key.policy();
        Self {
            key,
            policy,
            holds_slot: false,
            tokens: 0,
            reserved: 0,
            headers: RateHeaders::default(),
            finished: false,
        }
    }

    pub fn key_handle(&self) -> Arc<ClientKey> {
        self.key.clone()
    }

    pub fn key(&self) -> &ClientKey {
        &self.key
    }

    /// The key's name, from the policy read when the call started (no second read of it).
    pub fn key_name(&self) -> &str {
        &self.policy.name
    }

    pub fn needs_estimate(&self) -> bool {
        self.policy.needs_estimate()
    }

    /// The models a call for `model` (whose equivalent is `alias`) may be routed to: both when
    /// both are allowed, else the allowed one alone, else a 403.
    pub fn allowed_models<'m>(
        &self,
        model: &'m str,
        alias: Option<&'m str>,
    ) -> Result<(&'m str, Option<&'m str>), LimitError> {
        let policy = &self.policy;
        match (policy.allows(model), alias.filter(|a| policy.allows(a))) {
            (true, alias) => Ok((model, alias)),
            (false, Some(alias)) => Ok((alias, None)),
            (false, None) => Err(LimitError::Model {
                name: policy.name.clone(),
                model: model.to_owned(),
            }),
        }
    }

    /// Takes what the call needs from each limit, or nothing and says which limit refused.
    pub fn admit(&mut self, demand: Demand, now_ms: i64) -> Result<(), LimitError> {
        let result = self.take(demand, now_ms);
        if result.is_err() {
            self.key.stats.limited.fetch_add(1, Ordering::Relaxed);
            self.give_back();
        }
        result
    }

    fn take(&mut self, demand: Demand, now_ms: i64) -> Result<(), LimitError> {
        let policy = self.policy.clone();
        let key = &self.key;
        if let Some(limit) = policy.max_parallel {
            let admitted = key
                .in_flight
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < limit).then_some(n + 1)
                })
                .is_ok();
            if !admitted {
                return Err(LimitError::Parallel {
                    name: policy.name.clone(),
                    limit,
                });
            }
        } else {
            key.in_flight.fetch_add(1, Ordering::AcqRel);
        }
        self.holds_slot = true;
        self.headers.tokens = policy.tpm.map(|l| key.tokens.state(l, now_ms));
        if let Some(limit) = policy.rpm {
            match key.requests.try_take(1, limit, now_ms) {
                Ok(state) => self.headers.requests = Some(state),
                Err(refused) => {
                    self.headers.requests = Some(refused.state);
                    return Err(LimitError::Requests {
                        name: policy.name.clone(),
                        retry_after_ms: refused.retry_after_ms,
                        headers: self.headers,
                    });
                }
            }
        }
        if let Some(limit) = policy.tpm {
            // One call may ask for at most a full bucket, or it could never pass.
            let needed = demand.tokens.clamp(1, limit);
            match key.tokens.try_take(needed, limit, now_ms) {
                Ok(state) => {
                    self.tokens = needed;
                    self.headers.tokens = Some(state);
                }
                Err(refused) => {
                    self.headers.tokens = Some(refused.state);
                    return Err(LimitError::Tokens {
                        name: policy.name.clone(),
                        needed,
                        retry_after_ms: refused.retry_after_ms,
                        headers: self.headers,
                    });
                }
            }
        }
        key.budget.roll(policy.period, now_ms);
        if let Some(limit) = policy.budget {
            if !key.budget.try_reserve(demand.cost, limit) {
                let (_, next) = period_bounds(policy.period, now_ms);
                return Err(LimitError::Budget {
                    name: policy.name.clone(),
                    limit_usd: nanos_to_usd(limit),
                    period: policy.period,
                    resets_in_ms: next.map(|n| n - now_ms),
                });
            }
            self.reserved = demand.cost;
        }
        Ok(())
    }

    /// The `x-ratelimit-*` headers for a successful answer.
    pub fn rate_headers(&self) -> &RateHeaders {
        &self.headers
    }

    fn give_back(&mut self) {
        if std::mem::take(&mut self.holds_slot) {
            self.key.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
        let tokens = std::mem::take(&mut self.tokens);
        if let (Some(limit), true) = (self.policy.tpm, tokens > 0) {
            self.key.tokens.adjust(-(tokens as i64), limit);
        }
        let reserved = std::mem::take(&mut self.reserved);
        if reserved != 0 {
            self.key.budget.settle(reserved, 0);
        }
    }

    /// The call ended with `status`, having used `usage` at `cost_usd`: the reservations become
    /// what was really used (nothing for a failure), and the key's counts move. A call its client
    /// abandoned is charged at least its estimate: the upstream may have produced (and billed)
    /// the whole answer, so walking away from a stream must not dodge the budget.
    pub fn finish(mut self, status: u16, usage: &TokenUsage, cost_usd: f64) {
        self.finished = true;
        let stats = &self.key.stats;
        let failed = status >= 400;
        if failed {
            stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        let prompt = usage.prompt.max(0) as u64;
        let completion = usage.completion.max(0) as u64;
        stats.prompt_tokens.fetch_add(prompt, Ordering::Relaxed);
        stats
            .completion_tokens
            .fetch_add(completion, Ordering::Relaxed);
        let cost = match status {
            CLIENT_CLOSED => usd_to_nanos(cost_usd).max(self.reserved),
            _ if failed => 0,
            _ => usd_to_nanos(cost_usd).max(0),
        };
        stats.cost.fetch_add(cost as u64, Ordering::Relaxed);
        if let Some(limit) = self.policy.tpm {
            let used = (prompt + completion) as i64;
            self.key
                .tokens
                .adjust(used - std::mem::take(&mut self.tokens) as i64, limit);
        }
        let reserved = std::mem::take(&mut self.reserved);
        if reserved != 0 || cost != 0 {
            self.key.budget.settle(reserved, cost);
            self.key.dirty.store(true, Ordering::Release);
        }
        self.give_back();
    }
}

impl Drop for ClientCall {
    fn drop(&mut self) {
        if !self.finished {
            self.key.stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;

    fn key(f: impl FnOnce(&mut ClientKeyRow)) -> Arc<ClientKey> {
        let mut row = key_row();
        f(&mut row);
        Arc::new(ClientKey::from_row(&row))
    }

    fn key_row() -> ClientKeyRow {
        ClientKeyRow {
            id: 1,
            name: "team".into(),
            key_hash: "h".into(),
            prefix: "apx-".into(),
            created_at: 0,
            budget_usd: None,
            budget_period: "total".into(),
            rpm: None,
            tpm: None,
            max_parallel: None,
            models: None,
            expires_at: None,
            enabled: true,
            note: None,
            revoked_at: None,
            spent_usd: 0.0,
            spent_period_start: 0,
        }
    }

    #[test]
    fn a_refused_call_gives_back_what_it_took() {
        let key = key(|r| {
            r.max_parallel = Some(5);
            r.rpm = Some(100);
            r.budget_usd = Some(1.0);
        });
        let demand = Demand {
            tokens: 10,
            cost: usd_to_nanos(0.6),
        };
        let mut first = ClientCall::start(key.clone());
        first.admit(demand, T0).unwrap();
        let mut second = ClientCall::start(key.clone());
        assert!(matches!(
            second.admit(demand, T0),
            Err(LimitError::Budget { .. })
        ));
        drop(second);
        assert_eq!(key.in_flight.load(Ordering::Acquire), 1);
        first.finish(200, &TokenUsage::default(), 0.25);
        let usage = key.usage(T0);
        assert_eq!(usage.in_flight, 0);
        assert_eq!(usage.spent_usd, 0.25);
        assert_eq!(usage.budget_left_usd, Some(0.75));
        assert_eq!((usage.calls, usage.errors, usage.limited), (2, 1, 1));
        assert_eq!(usage.requests_left, Some(98));
    }

    #[test]
    fn an_abandoned_call_is_charged_its_estimate() {
        let key = key(|r| r.budget_usd = Some(1.0));
        let demand = Demand {
            tokens: 10,
            cost: usd_to_nanos(0.4),
        };
        let mut call = ClientCall::start(key.clone());
        call.admit(demand, T0).unwrap();
        call.finish(CLIENT_CLOSED, &TokenUsage::default(), 0.0);
        assert_eq!(key.usage(T0).spent_usd, 0.4);
        let mut failed = ClientCall::start(key.clone());
        failed.admit(demand, T0).unwrap();
        failed.finish(502, &TokenUsage::default(), 0.0);
        assert_eq!(key.usage(T0).spent_usd, 0.4, "a failure costs nothing");
    }

    #[test]
    fn parallel_slots_are_exact() {
        let key = key(|r| r.max_parallel = Some(2));
        let mut calls: Vec<_> = (0..3).map(|_| ClientCall::start(key.clone())).collect();
        let admitted: Vec<bool> = calls
            .iter_mut()
            .map(|c| c.admit(Demand::default(), T0).is_ok())
            .collect();
        assert_eq!(admitted, [true, true, false]);
        calls.remove(0);
        let mut again = ClientCall::start(key.clone());
        assert!(again.admit(Demand::default(), T0).is_ok());
    }

    #[test]
    fn models_and_aliases() {
        let key = key(|r| r.models = Some(r#"["gpt-4o-mini*"]"#.into()));
        let call = ClientCall::start(key);
        assert_eq!(
            call.allowed_models("gpt-4o-mini", Some("gpt-4o")).unwrap(),
            ("gpt-4o-mini", None)
        );
        assert_eq!(
            call.allowed_models("cheap", Some("gpt-4o-mini")).unwrap(),
            ("gpt-4o-mini", None)
        );
        assert!(matches!(
            call.allowed_models("gpt-4o", None),
            Err(LimitError::Model { .. })
        ));
    }

    #[test]
    fn a_secret_finds_its_key_again_without_remembering_strangers() {
        let mut row = ClientKeyRow {
            key_hash: sha256_hex("apx-secret"),
            ..key_row()
        };
        let keys = ClientKeys::load(std::slice::from_ref(&row));
        assert!(keys.by_secret("apx-other").is_none());
        assert!(keys.by_token.is_empty(), "a miss is not remembered");
        let first = keys.by_secret("apx-secret").unwrap();
        assert_eq!(keys.by_token.len(), 1);
        assert!(Arc::ptr_eq(&first, &keys.by_secret("apx-secret").unwrap()));
        // A revocation reaches a remembered key: it is the same key.
        row.revoked_at = Some(T0);
        keys.update(&row);
        assert!(keys
            .by_secret("apx-secret")
            .unwrap()
            .check_usable(T0)
            .is_err());
        // A row inserted again replaces the key, and the remembered one with it.
        let replaced = keys.insert(&row);
        assert!(Arc::ptr_eq(
            &replaced,
            &keys.by_secret("apx-secret").unwrap()
        ));
    }

    #[test]
    fn rate_headers_are_openais() {
        let headers = RateHeaders {
            requests: Some(BucketState {
                limit: 60,
                remaining: 59,
                reset_ms: 1000,
            }),
            tokens: Some(BucketState {
                limit: 150_000,
                remaining: 149_000,
                reset_ms: 400,
            }),
        };
        let pairs: Vec<(String, String)> = headers
            .pairs()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let expected = [
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "59"),
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-limit-tokens", "150000"),
            ("x-ratelimit-remaining-tokens", "149000"),
            ("x-ratelimit-reset-tokens", "400ms"),
        ];
        assert_eq!(
            pairs,
            expected.map(|(n, v)| (n.to_owned(), v.to_owned())).to_vec()
        );
        assert_eq!(RateHeaders::default().pairs().count(), 0);
    }

    #[test]
    fn expiry_and_disabling() {
        assert!(key(|r| r.expires_at = Some(T0)).check_usable(T0).is_err());
        assert!(key(|r| r.expires_at = Some(T0 + 1))
            .check_usable(T0)
            .is_ok());
        assert!(matches!(
            key(|r| r.enabled = false).check_usable(T0),
            Err(LimitError::Disabled { .. })
        ));
    }
}
