//! A key's *bid*: what it can serve and how fit it is now. Key actors publish bids to the shared
//! [`BidBoard`]; request handlers read the board directly, so picking a key never waits on a
//! mailbox. Per-key atomics ([`KeyCounters`]) live beside the bids for what must be exact under
//! concurrency: requests in flight (so a request quota is never overdrawn by more than those) and
//! the single half-open probe.
//!
//! One rule decides what the board holds: every bid carries the sequence number of the newest
//! call outcome it reflects ([`Bid::seq`], numbered by the key's outcome inbox). A key's actor
//! publishes whole bids; the request path only amends one with the verdict of a call it just
//! finished (a 429, a 401), stamped with that call's number. The board keeps whichever reflects
//! the newer outcome, so an actor's publish computed before that call (a *stale* publish) is
//! dropped instead of wiping the verdict, and an amendment the actor has already folded in is
//! ignored instead of undoing a later recovery.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use shared::keys::{KeyState, QuotaReset, QuotaUnit};
use shared::providers::{ModelPricing, ModelSpec, ProviderFormat};

use super::ewma::DecayingAverage;
use super::health::{Health, FAILURE_WINDOW_MS};
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
    /// Where the secret may go ([`crate::crypto::SecretBinding::aad`]), to open it with.
    pub secret_aad: Vec<u8>,
    /// The sealed secret does not open for this key's binding: its row was changed outside
    /// api-proxy (or the master key is another). Never routed to; the admin enters the key again.
    pub seal_mismatch: bool,
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
        self.pricing_with(model, || self.provider.model(model))
    }

    /// [`KeyProfile::pricing`] with the model's spec from `spec` (looked up already, say).
    pub fn pricing_with<'a>(
        &'a self,
        model: &str,
        spec: impl FnOnce() -> Option<&'a ModelSpec>,
    ) -> Option<&'a ModelPricing> {
        self.price_overrides
            .get(model)
            .or_else(|| self.price_overrides.get("*"))
            .or_else(|| spec().map(|m| &m.pricing))
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
    /// The key was deleted: the board takes no more bids for it.
    retired: AtomicBool,
    /// The quota lives in a database shared with other instances, which takes each request
    /// from it atomically: the budget here does not limit.
    shared_quota: AtomicBool,
    /// Requests taken from the shared quota ahead of use (a lease), not yet used.
    leased: AtomicI64,
    /// One request at a time takes a new lease; the others wait for it and draw on it.
    lease_lock: Arc<tokio::sync::Mutex<()>>,
    /// When a request last drew on the lease (Unix ms): an idle lease goes back.
    lease_drawn_at: AtomicI64,
}

const UNLIMITED: i64 = i64::MAX;

impl Default for KeyCounters {
    fn default() -> Self {
        Self {
            in_flight: AtomicI64::new(0),
            budget: AtomicI64::new(UNLIMITED),
            probe_taken: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            shared_quota: AtomicBool::new(false),
            leased: AtomicI64::new(0),
            lease_lock: Arc::default(),
            lease_drawn_at: AtomicI64::new(0),
        }
    }
}

impl KeyCounters {
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Acquire)
    }

    /// The quota is taken from a shared database per request (see [`KeyCounters::shared_quota`]).
    pub fn share_quota(&self) {
        self.shared_quota.store(true, Ordering::Release);
        self.budget.store(UNLIMITED, Ordering::Release);
    }

    /// Takes one request from this instance's lease of the shared quota, if it holds any.
    pub fn draw_leased(&self, now_ms: i64) -> bool {
        let drawn = self
            .leased
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n > 0).then(|| n - 1)
            })
            .is_ok();
        if drawn {
            self.lease_drawn_at.store(now_ms, Ordering::Release);
        }
        drawn
    }

    /// Adds requests taken from the shared quota (a new lease, or one a request did not use).
    pub fn add_leased(&self, n: i64, now_ms: i64) {
        self.leased.fetch_add(n, Ordering::AcqRel);
        self.lease_drawn_at.store(now_ms, Ordering::Release);
    }

    pub fn leased(&self) -> i64 {
        self.leased.load(Ordering::Acquire)
    }

    /// Empties the lease if nothing drew on it since `idle_before` (all of it when `None`);
    /// returns the requests to give back to the shared quota.
    pub fn take_back_lease(&self, idle_before: Option<i64>) -> i64 {
        if idle_before.is_some_and(|t| self.lease_drawn_at.load(Ordering::Acquire) >= t) {
            return 0;
        }
        self.leased.swap(0, Ordering::AcqRel)
    }

    /// Held while a request takes a new lease: the requests that find the lease empty meanwhile
    /// wait for it rather than each querying the database (one query per call on one hot row
    /// is what leases avoid).
    pub async fn lock_leasing(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.lease_lock.clone().lock_owned().await
    }

    /// The lease lock if nobody holds it (a lease taken ahead of need, off the request's path).
    pub fn try_lock_leasing(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.lease_lock.clone().try_lock_owned().ok()
    }

    /// Sets the request budget from the quota left (requests in flight will spend theirs).
    pub fn set_budget(&self, unit: QuotaUnit, remaining: Option<f64>) {
        let budget = match (unit, remaining) {
            _ if self.shared_quota.load(Ordering::Acquire) => UNLIMITED,
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

    /// The key was deleted: any publish still on its way is refused by the board.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
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
    /// When the key last failed (5xx, timeout, connection), if no success came since: it then
    /// ranks below its tier-mates for a while (see [`Bid::recently_failed`]).
    pub last_failure_ms: Option<i64>,
    /// Bumped each time the key's actor restarts.
    pub generation: u64,
    /// The newest call outcome this bid reflects (see the module docs).
    pub seq: u64,
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

    /// A failure without a success since, within the health machine's failure window: the key
    /// still serves (one failure never takes a key out) but goes after its healthy tier-mates.
    pub fn recently_failed(&self, now_ms: i64) -> bool {
        self.last_failure_ms
            .is_some_and(|at| now_ms - at <= FAILURE_WINDOW_MS)
    }

    /// The state shown to people.
    pub fn state_at(&self, now_ms: i64) -> (KeyState, Option<i64>) {
        if !self.profile.enabled {
            return (KeyState::Disabled, None);
        }
        if self.profile.seal_mismatch {
            return (KeyState::SealedMismatch, None);
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
            refund: None,
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
            refund: None,
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
    refund: Option<SharedRefund>,
}

/// Gives a request taken from a shared quota back, when the request did not use it.
pub struct SharedRefund(Box<dyn FnOnce() + Send + Sync>);

impl std::fmt::Debug for SharedRefund {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedRefund")
    }
}

impl Lease {
    /// The request succeeded: it used its share of the quota.
    pub fn spend(mut self) {
        self.spent = true;
    }

    /// The request also took one from a shared quota: `refund` gives it back unless spent.
    pub fn refund_shared_with(&mut self, refund: impl FnOnce() + Send + Sync + 'static) {
        self.refund = Some(SharedRefund(Box::new(refund)));
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.counters.in_flight.fetch_sub(1, Ordering::AcqRel);
        if self.budgeted && !self.spent {
            self.counters.refund_budget();
        }
        if let Some(SharedRefund(refund)) = self.refund.take() {
            if !self.spent {
                refund();
            }
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
/// Models with a round-robin cursor; beyond this the cursors start over (a key that serves any
/// model name would otherwise let clients grow the map without end, one name at a time).
pub const MAX_CURSORS: usize = 4096;

impl BidBoard {
    /// Puts a key's bid on the board, unless the board already holds one that reflects a newer
    /// outcome (`seq`) or the key was retired: returns whether it landed. Only the key's actor
    /// publishes (and the registry, once, when the key is born).
    pub fn publish(&self, bid: Bid) -> bool {
        let entry = self.bids.entry(bid.key_id());
        // Checked under the entry's lock, which `withdraw` takes too: a publish that raced the
        // retirement either lands before the withdrawal (and is removed by it) or sees the flag.
        if bid.counters.is_retired() {
            return false;
        }
        match entry {
            Entry::Occupied(held) if held.get().seq > bid.seq => false,
            Entry::Occupied(mut held) => {
                held.insert(bid);
                true
            }
            Entry::Vacant(slot) => {
                slot.insert(bid);
                true
            }
        }
    }

    /// Takes a retired key's bid off the board (see [`KeyCounters::retire`]).
    pub fn withdraw(&self, key_id: i32) {
        self.bids.remove(&key_id);
    }

    /// The request path's immediate verdict on a published bid, for the call numbered `seq`:
    /// applied only if the bid does not reflect that call yet (returns whether it was). The
    /// key's actor folds the same call in and publishes the authoritative state soon after.
    pub fn amend(&self, key_id: i32, seq: u64, change: impl FnOnce(&mut Bid)) -> bool {
        match self.bids.get_mut(&key_id) {
            Some(mut bid) if bid.seq < seq => {
                change(&mut bid);
                bid.seq = seq;
                true
            }
            _ => false,
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
        if self.cursors.len() >= MAX_CURSORS {
            self.cursors.clear();
        }
        self.cursors
            .entry(model.to_owned())
            .or_default()
            .fetch_add(1, Ordering::Relaxed)
    }

    /// Models with a round-robin cursor now.
    pub fn cursor_count(&self) -> usize {
        self.cursors.len()
    }

    /// Conversations remembered for affinity now.
    pub fn affinity_count(&self) -> usize {
        self.affinity.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keyed_by_client_input_are_bounded() {
        let board = BidBoard::default();
        for i in 0..MAX_CURSORS * 3 {
            board.next_turn(&format!("model-{i}"));
            assert!(board.cursor_count() <= MAX_CURSORS);
        }
        // A model seen again after the reset starts its turns over, and counts on.
        let last = format!("model-{}", MAX_CURSORS * 3 - 1);
        assert_eq!(board.next_turn(&last), 1);
        for i in 0..(MAX_AFFINITIES as u64 + 10) {
            board.remember_affinity(i, 1);
        }
        assert!(board.affinity_count() <= MAX_AFFINITIES);
        assert_eq!(board.affinity(MAX_AFFINITIES as u64 + 9), Some(1));
    }
    use crate::config::ProviderCatalog;

    fn bid(id: i32, seq: u64, counters: Arc<KeyCounters>) -> Bid {
        let catalog = ProviderCatalog::load(None).unwrap();
        Bid {
            profile: Arc::new(KeyProfile {
                id,
                secret_aad: vec![],
                seal_mismatch: false,
                name: format!("k{id}"),
                provider: catalog.get("openai").unwrap().clone(),
                base_url: "http://127.0.0.1:1".into(),
                sealed_secret: vec![],
                models: ModelSet::Provider,
                priority: None,
                weight: 1,
                enabled: true,
                cost_per_request: 0.0,
                quota_unit: QuotaUnit::Requests,
                quota_total: None,
                quota_reset: None,
                price_overrides: Default::default(),
                azure_api_version: None,
                azure_deployments: Default::default(),
            }),
            counters,
            health: Health::Active,
            quota_remaining: None,
            ttfb: None,
            total_latency: None,
            rate_limit: RateLimitInfo::default(),
            last_failure_ms: None,
            generation: 0,
            seq,
        }
    }

    fn budget(counters: &KeyCounters) -> i64 {
        counters.budget.load(Ordering::Acquire)
    }

    #[test]
    fn a_shared_quota_lease_is_drawn_once_per_request_and_given_back_when_idle() {
        let counters = KeyCounters::default();
        assert!(!counters.draw_leased(0));
        counters.add_leased(3, 100);
        assert!(counters.draw_leased(200));
        assert_eq!(counters.leased(), 2);
        // Drawn on at 200: not idle since 150, idle since 300.
        assert_eq!(counters.take_back_lease(Some(150)), 0);
        assert_eq!(counters.take_back_lease(Some(300)), 2);
        assert!(!counters.draw_leased(400));
        let taking = counters.lease_lock.try_lock().expect("free");
        assert!(
            counters.lease_lock.try_lock().is_err(),
            "one lease at a time"
        );
        drop(taking);
    }

    #[test]
    fn the_budget_is_taken_atomically_and_never_overdrawn() {
        let counters = Arc::new(KeyCounters::default());
        counters.set_budget(QuotaUnit::Requests, Some(1_000.0));
        let b = bid(1, 0, counters.clone());
        let leases = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..400 {
                        if let Some(lease) = b.try_lease(0) {
                            leases.lock().unwrap().push(lease);
                        }
                    }
                });
            }
        });
        let leases = leases.into_inner().unwrap();
        assert_eq!(leases.len(), 1_000, "exactly the quota, from 1,600 tries");
        assert_eq!(budget(&counters), 0);
        assert_eq!(counters.in_flight(), 1_000);
        assert!(b.try_lease(0).is_none());
        // The budget counts requests in flight as spent: a reset keeps them out of it.
        counters.set_budget(QuotaUnit::Requests, Some(1_200.0));
        assert_eq!(budget(&counters), 200);
        // Quotas in tokens or USD are not leased per request.
        counters.set_budget(QuotaUnit::Tokens, Some(0.0));
        assert!(b.try_lease(0).is_some());
    }

    #[test]
    fn a_dropped_lease_refunds_its_budget_and_a_spent_one_does_not() {
        let counters = Arc::new(KeyCounters::default());
        counters.set_budget(QuotaUnit::Requests, Some(2.0));
        let b = bid(1, 0, counters.clone());
        let failed = b.try_lease(0).unwrap();
        let served = b.try_lease(0).unwrap();
        assert!(
            b.try_lease(0).is_none(),
            "both requests of the quota are out"
        );
        drop(failed);
        assert_eq!(
            budget(&counters),
            1,
            "a failed request gives its share back"
        );
        served.spend();
        assert_eq!(budget(&counters), 1, "a served one keeps it");
        assert_eq!(counters.in_flight(), 0, "both slots are free again");
        // The admin's test of a key takes no budget and gives none back.
        drop(b.force_lease());
        assert_eq!(budget(&counters), 1);
        // Unlimited stays unlimited through refunds (no overflow).
        let unlimited = Arc::new(KeyCounters::default());
        drop(bid(2, 0, unlimited.clone()).try_lease(0).unwrap());
        assert_eq!(budget(&unlimited), UNLIMITED);
    }

    #[test]
    fn a_stale_publish_does_not_wipe_a_newer_verdict() {
        let board = BidBoard::default();
        let counters = Arc::new(KeyCounters::default());
        assert!(board.publish(bid(1, 4, counters.clone())));
        // A call numbered 5 answered 429: the request path throttles the key at once.
        let throttled = Health::Throttled { until_ms: 9_000 };
        assert!(board.amend(1, 5, |b| b.health = throttled));
        // The key's actor publishes a state it computed before call 5 (outcomes up to 4).
        assert!(!board.publish(bid(1, 4, counters.clone())), "dropped");
        assert_eq!(board.get(1).unwrap().health, throttled);
        // Once it has folded call 5 in, its publish lands.
        let mut current = bid(1, 5, counters.clone());
        current.health = throttled;
        assert!(board.publish(current));
        // An amendment the actor already reflects is ignored: it cannot undo a later recovery.
        assert!(board.publish(bid(1, 6, counters.clone())));
        assert!(!board.amend(1, 5, |b| b.health = throttled));
        assert_eq!(board.get(1).unwrap().health, Health::Active);
        assert_eq!(board.get(1).unwrap().seq, 6);
        // Amending a key that is not on the board does nothing.
        assert!(!board.amend(2, 1, |b| b.health = throttled));
        assert!(board.get(2).is_none());
    }

    #[test]
    fn a_retired_key_stays_off_the_board() {
        let board = BidBoard::default();
        let counters = Arc::new(KeyCounters::default());
        assert!(board.publish(bid(1, 0, counters.clone())));
        counters.retire();
        board.withdraw(1);
        assert!(
            !board.publish(bid(1, 9, counters)),
            "a publish still on its way"
        );
        assert!(board.is_empty());
    }
}
