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
    Listed { models: ModelIds, any: bool },
    /// No list on the key: the provider's catalogue.
    Provider,
}

/// Model ids, hashed with foldhash: every pick looks a model up in each key's set, and SipHash
/// made those lookups most of the cost of picking among many keys. The ids come from the admin,
/// so std's protection against chosen colliding keys is not needed here.
pub type ModelIds = HashSet<String, foldhash::fast::RandomState>;

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
#[derive(Debug)]
pub struct KeyCounters {
    in_flight: AtomicI64,
    /// Requests the key's quota still admits, counting those in flight as spent
    /// ([`UNLIMITED`] when the quota is not counted in requests).
    budget: AtomicI64,
    probe_taken: AtomicBool,
}

const UNLIMITED: i64 = i64::MAX;

impl Default for KeyCounters {
    fn default() -> Self {
        Self {
            in_flight: AtomicI64::new(0),
            budget: AtomicI64::new(UNLIMITED),
            probe_taken: AtomicBool::new(false),
        }
    }
}

impl KeyCounters {
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Sets the request budget from the quota left (requests in flight will spend theirs).
    pub fn set_budget(&self, unit: QuotaUnit, remaining: Option<f64>) {
        let budget = match (unit, remaining) {
            (QuotaUnit::Requests, Some(r)) => (r.max(0.0).floor() as i64 - self.in_flight()).max(0),
            _ => UNLIMITED,
        };
        self.budget.store(budget, Ordering::Release);
    }

    /// Takes one request from the budget, atomically: under any concurrency the quota is never
    /// overdrawn.
    fn take_budget(&self) -> bool {
        let mut current = self.budget.load(Ordering::Acquire);
        loop {
            if current == UNLIMITED {
                return true;
            }
            if current <= 0 {
                return false;
            }
            match self.budget.compare_exchange_weak(
                current,
                current - 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    fn refund_budget(&self) {
        let _ = self
            .budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                // Not `then_some`: it would compute `b + 1` for UNLIMITED too, and overflow.
                if b == UNLIMITED {
                    None
                } else {
                    Some(b + 1)
                }
            });
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

    /// A slot regardless of quota and probe (the admin's explicit test of this key).
    pub fn force_lease(&self) -> Lease {
        self.counters.in_flight.fetch_add(1, Ordering::AcqRel);
        Lease {
            counters: self.counters.clone(),
            budgeted: false,
            spent: false,
        }
    }

    /// Takes a slot on this key for one request (and the probe, when half-open).
    pub fn try_lease(&self, now_ms: i64) -> Option<Lease> {
        if self.health_at(now_ms) == Health::HalfOpen
            && self.counters.probe_taken.swap(true, Ordering::AcqRel)
        {
            return None;
        }
        if !self.counters.take_budget() {
            return None;
        }
        self.counters.in_flight.fetch_add(1, Ordering::AcqRel);
        Some(Lease {
            counters: self.counters.clone(),
            budgeted: true,
            spent: false,
        })
    }
}

/// One request's slot on a key, released when dropped on every path (success, failure, client
/// gone); its quota budget is refunded unless the request [spent](Lease::spend) it.
#[derive(Debug)]
pub struct Lease {
    counters: Arc<KeyCounters>,
    budgeted: bool,
    spent: bool,
}

impl Lease {
    /// The request succeeded: it used its share of the quota.
    pub fn spend(mut self) {
        self.spent = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.counters.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.budgeted && !self.spent {
            self.counters.refund_budget();
        }
    }
}

/// A concurrent map by key id, hashed with foldhash: every request looks keys up in these, and
/// SipHash's protection against chosen colliding keys is not needed for ids the database made.
pub type IdMap<K, V> = DashMap<K, V, foldhash::fast::RandomState>;

/// Every key's latest bid, by key id, plus the round-robin cursors.
#[derive(Debug, Clone)]
pub struct BidBoard {
    bids: Arc<IdMap<i32, Bid>>,
    cursors: Arc<DashMap<String, AtomicU64>>,
    /// Conversation hash -> the key that served it. SipHash: clients choose what is hashed.
    affinity: Arc<DashMap<u64, i32>>,
}

/// Shards of the bid map. Every pick walks all of them (a read lock each) and only key actors
/// write, a few times a second each, so few shards: dashmap's default, four per core, was about
/// 1% of a call's CPU in the walk alone.
const BID_SHARDS: usize = 2;

impl Default for BidBoard {
    fn default() -> Self {
        Self {
            bids: Arc::new(DashMap::with_hasher_and_shard_amount(
                Default::default(),
                BID_SHARDS,
            )),
            cursors: Arc::default(),
            affinity: Arc::default(),
        }
    }
}

/// Conversations remembered for affinity; beyond this the memory starts over.
const MAX_AFFINITIES: usize = 100_000;

impl BidBoard {
    pub fn publish(&self, bid: Bid) {
        self.bids.insert(bid.key_id(), bid);
    }

    pub fn withdraw(&self, key_id: i32) {
        self.bids.remove(&key_id);
    }

    /// Changes a published bid in place (the request path's immediate verdicts; the key's actor
    /// publishes the authoritative state right after).
    pub fn amend(&self, key_id: i32, change: impl FnOnce(&mut Bid)) {
        if let Some(mut bid) = self.bids.get_mut(&key_id) {
            change(&mut bid);
        }
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

    /// Whether any bid satisfies `f`; stops at the first that does.
    pub fn any(&self, mut f: impl FnMut(&Bid) -> bool) -> bool {
        self.bids.iter().any(|entry| f(entry.value()))
    }

    pub fn snapshot(&self) -> Vec<Bid> {
        let mut all: Vec<Bid> = self.bids.iter().map(|e| e.value().clone()).collect();
        all.sort_by_key(|b| b.key_id());
        all
    }

    pub fn affinity(&self, conversation: u64) -> Option<i32> {
        self.affinity.get(&conversation).map(|k| *k)
    }

    pub fn remember_affinity(&self, conversation: u64, key_id: i32) {
        if self.affinity.len() >= MAX_AFFINITIES {
            self.affinity.clear();
        }
        self.affinity.insert(conversation, key_id);
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
