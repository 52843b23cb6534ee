//! A key's *bid*: what it can serve and how fit it is now. Key actors publish bids to the shared
//! [`BidBoard`]; request handlers read the board directly, so picking a key never waits on a
//! mailbox. Per-key atomics ([`KeyCounters`]) live beside the bids for what must be exact under
//! concurrency: requests in flight (so a request quota is never overdrawn by more than those) and
//! the single half-open probe.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use shared::keys::{KeyState, QuotaReset, QuotaUnit};
use shared::providers::{ModelPricing, ProviderFormat};

use super::ewma::DecayingAverage;
use super::health::Health;
use super::ratelimit::RateLimitInfo;
use crate::config::ProviderEntry;

/// Which models a key serves.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSet {
    /// The key's own list (`"*"` in it means any model).
    Listed { models: HashSet<String>, any: bool },
    /// No list on the key: the provider's catalogue.
    Provider,
}

impl ModelSet {
    pub fn from_list(models: &[String]) -> Self {
        if models.is_empty() {
            return Self::Provider;
        }
        Self::Listed {
            any: models.iter().any(|m| m == "*"),
            models: models.iter().filter(|m| *m != "*").cloned().collect(),
        }
    }
}

/// The settled part of a key: rebuilt only when the key is edited.
#[derive(Debug)]
pub struct KeyProfile {
    pub id: i32,
    /// Bound into the secret's ciphertext as associated data.
    pub uid: String,
    pub name: String,
    pub provider: Arc<ProviderEntry>,
    pub base_url: String,
    pub sealed_secret: Vec<u8>,
    pub models: ModelSet,
    pub priority: Option<i32>,
    pub weight: u32,
    pub enabled: bool,
    pub cost_per_request: f64,
    pub quota_unit: QuotaUnit,
    pub quota_total: Option<f64>,
    pub quota_reset: Option<QuotaReset>,
    pub price_overrides: BTreeMap<String, ModelPricing>,
    pub azure_api_version: Option<String>,
    pub azure_deployments: HashMap<String, String>,
}

impl KeyProfile {
    pub fn provider_id(&self) -> &str {
        &self.provider.spec.id
    }

    pub fn format(&self) -> ProviderFormat {
        self.provider.format()
    }

    pub fn serves(&self, model: &str) -> bool {
        match &self.models {
            ModelSet::Listed { models, any } => *any || models.contains(model),
            ModelSet::Provider => self.provider.model(model).is_some(),
        }
    }

    /// Model ids this key lists explicitly, or its provider's.
    pub fn model_ids(&self) -> Vec<String> {
        match &self.models {
            ModelSet::Listed { models, .. } => {
                let mut v: Vec<String> = models.iter().cloned().collect();
                v.sort();
                v
            }
            ModelSet::Provider => self
                .provider
                .spec
                .models
                .iter()
                .map(|m| m.id.clone())
                .collect(),
        }
    }

    /// The prices this key pays for `model`: its own override, else the provider's.
    pub fn pricing(&self, model: &str) -> Option<&ModelPricing> {
        self.price_overrides
            .get(model)
            .or_else(|| self.price_overrides.get("*"))
            .or_else(|| self.provider.model(model).map(|m| &m.pricing))
    }
}

/// Exact per-key counts shared by every request, surviving actor restarts.
#[derive(Debug, Default)]
pub struct KeyCounters {
    in_flight: AtomicI64,
    /// Successful requests whose quota use the key's actor has not yet published.
    unsettled: AtomicI64,
    probe_taken: AtomicBool,
}

impl KeyCounters {
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Acquire)
    }

    /// The actor published the quota use of one successful request.
    pub fn settled(&self) {
        self.unsettled.fetch_sub(1, Ordering::AcqRel);
    }

    /// Reserves a slot; with a request quota, only while in-flight plus not-yet-published
    /// requests stay below what is left.
    fn try_reserve(&self, request_cap: Option<f64>) -> bool {
        let mut current = self.in_flight.load(Ordering::Acquire);
        loop {
            let unsettled = self.unsettled.load(Ordering::Acquire);
            if request_cap.is_some_and(|cap| (current + unsettled) as f64 >= cap) {
                return false;
            }
            match self.in_flight.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    fn release(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// A new health verdict re-arms the half-open probe.
    pub fn rearm_probe(&self) {
        self.probe_taken.store(false, Ordering::Release);
    }
}

/// One key's current offer.
#[derive(Debug, Clone)]
pub struct Bid {
    pub profile: Arc<KeyProfile>,
    pub counters: Arc<KeyCounters>,
    pub health: Health,
    /// `None`: no quota set (unlimited).
    pub quota_remaining: Option<f64>,
    pub ttfb: Option<DecayingAverage>,
    pub total_latency: Option<DecayingAverage>,
    pub rate_limit: RateLimitInfo,
    /// Bumped each time the key's actor restarts.
    pub generation: u64,
}

impl Bid {
    pub fn key_id(&self) -> i32 {
        self.profile.id
    }

    /// The health as of `now` (throttles and cool-downs end by themselves).
    pub fn health_at(&self, now_ms: i64) -> Health {
        match self.health {
            Health::Throttled { until_ms } if now_ms >= until_ms => Health::Active,
            Health::Cooling { until_ms } if now_ms >= until_ms => Health::HalfOpen,
            other => other,
        }
    }

    pub fn quota_exhausted(&self) -> bool {
        self.quota_remaining.is_some_and(|q| q <= 0.0)
    }

    /// The state shown to people.
    pub fn state_at(&self, now_ms: i64) -> (KeyState, Option<i64>) {
        if !self.profile.enabled {
            return (KeyState::Disabled, None);
        }
        if self.quota_exhausted() {
            return (KeyState::QuotaExhausted, None);
        }
        match self.health_at(now_ms) {
            Health::Active => match self.rate_limit.exhausted_until().filter(|u| *u > now_ms) {
                Some(until) => (KeyState::Throttled, Some(until)),
                None => (KeyState::Active, None),
            },
            Health::Throttled { until_ms } => (KeyState::Throttled, Some(until_ms)),
            Health::QuotaExhausted => (KeyState::QuotaExhausted, None),
            Health::AuthDead => (KeyState::AuthDead, None),
            Health::Cooling { until_ms } => (KeyState::Cooling, Some(until_ms)),
            Health::HalfOpen => (KeyState::Probing, None),
        }
    }

    /// The latency that matters for this request, faded by idleness.
    pub fn latency_ms(&self, stream: bool, now_ms: i64) -> Option<f64> {
        let avg = if stream {
            self.ttfb.or(self.total_latency)
        } else {
            self.total_latency.or(self.ttfb)
        };
        avg.map(|a| a.at(now_ms))
    }

    /// Takes a slot on this key for one request (and the probe, when half-open).
    pub fn try_lease(&self, now_ms: i64) -> Option<Lease> {
        let cap = match (self.profile.quota_unit, self.quota_remaining) {
            (QuotaUnit::Requests, Some(remaining)) => Some(remaining),
            _ => None,
        };
        if self.health_at(now_ms) == Health::HalfOpen
            && self.counters.probe_taken.swap(true, Ordering::AcqRel)
        {
            return None;
        }
        if !self.counters.try_reserve(cap) {
            return None;
        }
        Some(Lease {
            counters: self.counters.clone(),
        })
    }
}

/// One request's slot on a key; released when dropped, on every path (success, failure, client
/// gone).
#[derive(Debug)]
pub struct Lease {
    counters: Arc<KeyCounters>,
}

impl Lease {
    /// The request succeeded: its slot stays counted until the key's actor has published the
    /// quota it used (see [`KeyCounters::settled`]).
    pub fn settle(self) {
        self.counters.unsettled.fetch_add(1, Ordering::AcqRel);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.counters.release();
    }
}

/// Every key's latest bid, by key id, plus the round-robin cursors.
#[derive(Debug, Clone, Default)]
pub struct BidBoard {
    bids: Arc<DashMap<i32, Bid>>,
    cursors: Arc<DashMap<String, AtomicU64>>,
}

impl BidBoard {
    pub fn publish(&self, bid: Bid) {
        self.bids.insert(bid.key_id(), bid);
    }

    pub fn withdraw(&self, key_id: i32) {
        self.bids.remove(&key_id);
    }

    pub fn get(&self, key_id: i32) -> Option<Bid> {
        self.bids.get(&key_id).map(|b| b.clone())
    }

    pub fn len(&self) -> usize {
        self.bids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bids.is_empty()
    }

    /// Calls `f` with each bid; no bid is cloned.
    pub fn for_each(&self, mut f: impl FnMut(&Bid)) {
        for entry in self.bids.iter() {
            f(entry.value());
        }
    }

    pub fn snapshot(&self) -> Vec<Bid> {
        let mut all: Vec<Bid> = self.bids.iter().map(|e| e.value().clone()).collect();
        all.sort_by_key(|b| b.key_id());
        all
    }

    /// The next round-robin position for `model`, without taking it.
    pub fn peek_turn(&self, model: &str) -> u64 {
        self.cursors
            .get(model)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The next round-robin position for `model`.
    pub fn next_turn(&self, model: &str) -> u64 {
        if let Some(c) = self.cursors.get(model) {
            return c.fetch_add(1, Ordering::Relaxed);
        }
        self.cursors
            .entry(model.to_owned())
            .or_default()
            .fetch_add(1, Ordering::Relaxed)
    }
}
