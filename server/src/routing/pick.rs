//! Picking a key: hard filters, the best priority tier that has a usable key (1 first, keys
//! without a priority last), then the strategy's order inside it, keys that just failed after
//! their healthy tier-mates; the first key that grants a lease wins. When every key of that tier refuses a lease (its request quota is all reserved by
//! requests in flight, or its half-open probe is out), the next tier is tried. Reads the board
//! only: no mailbox, no lock held across keys.

use std::fmt;

use shared::settings::RoutingStrategy;

use super::bid::{Bid, BidBoard, Lease};
use super::health::Health;
use super::score::{Score, ScoreInputs, TierBest};

/// What a request needs from a key.
#[derive(Debug, Clone, Copy)]
pub struct PickQuery<'a> {
    pub model: &'a str,
    /// The model's configured equivalent, for keys that do not serve `model` itself
    /// (e.g. `gpt-4o` -> `claude-sonnet-4-5` on an Anthropic key).
    pub alias: Option<&'a str>,
    /// Restrict to one provider (the seed's `?provider=` and `/api/proxy/{provider}`).
    pub provider: Option<&'a str>,
    /// Keys already tried by this request.
    pub exclude: &'a [i32],
    /// Only this key, whatever its health (the admin's "test this key").
    pub only_key: Option<i32>,
    /// The conversation, when affinity is on: its previous key is tried first if usable.
    pub conversation: Option<u64>,
    pub strategy: RoutingStrategy,
    pub stream: bool,
    pub now_ms: i64,
}

/// Why a key cannot take this request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    OtherProvider,
    OtherKey,
    ModelNotServed,
    AlreadyTried,
    Disabled,
    QuotaExhausted,
    AuthDead,
    Throttled {
        until_ms: i64,
    },
    Cooling {
        until_ms: i64,
    },
    /// The provider's rate-limit headers said nothing is left until then.
    RateLimited {
        until_ms: i64,
    },
    /// The stored secret does not open for where the key points.
    SealMismatch,
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OtherProvider => f.write_str("another provider was asked for"),
            Self::OtherKey => f.write_str("another key was asked for"),
            Self::ModelNotServed => f.write_str("does not serve this model"),
            Self::AlreadyTried => f.write_str("already tried for this request"),
            Self::Disabled => f.write_str("disabled"),
            Self::QuotaExhausted => f.write_str("quota exhausted"),
            Self::AuthDead => f.write_str("rejected by the provider (401/403)"),
            Self::Throttled { until_ms } => write!(f, "throttled until {until_ms}"),
            Self::Cooling { until_ms } => write!(f, "cooling down after failures until {until_ms}"),
            Self::RateLimited { until_ms } => write!(f, "rate limit used up until {until_ms}"),
            Self::SealMismatch => f.write_str(
                "its stored secret does not open for its provider and base URL (the row was \
                 changed outside api-proxy): enter its api_key again",
            ),
        }
    }
}

impl Filter {
    /// When this key can be tried again by itself, if it will be.
    fn recovers_at(self) -> Option<i64> {
        match self {
            Self::Throttled { until_ms } | Self::RateLimited { until_ms } => Some(until_ms),
            _ => None,
        }
    }
}

impl<'a> PickQuery<'a> {
    /// Whether the key could serve this request if it were healthy.
    pub fn matches(&self, bid: &Bid) -> bool {
        self.provider.is_none_or(|p| bid.profile.provider_id() == p)
            && self.only_key.is_none_or(|k| bid.key_id() == k)
            && self.model_for(bid).is_some()
    }

    /// The model this key would be asked for: the requested one if it serves it, else the alias
    /// if it serves that.
    pub fn model_for(&self, bid: &Bid) -> Option<&'a str> {
        if bid.profile.serves(self.model) {
            Some(self.model)
        } else {
            self.alias.filter(|a| bid.profile.serves(a))
        }
    }

    /// The first hard filter the key fails, if any.
    pub fn filter(&self, bid: &Bid) -> Option<Filter> {
        self.admit(bid).err()
    }

    /// The model the key would serve this request as (the requested one or its equivalent), or
    /// the first hard filter it fails.
    pub fn admit(&self, bid: &Bid) -> Result<&'a str, Filter> {
        if self
            .provider
            .is_some_and(|p| bid.profile.provider_id() != p)
        {
            return Err(Filter::OtherProvider);
        }
        let Some(model) = self.model_for(bid) else {
            return Err(Filter::ModelNotServed);
        };
        if self.exclude.contains(&bid.key_id()) {
            return Err(Filter::AlreadyTried);
        }
        // Before the admin's explicit test too: such a secret is sent nowhere.
        if bid.profile.seal_mismatch {
            return Err(Filter::SealMismatch);
        }
        if let Some(only) = self.only_key {
            return if bid.key_id() == only {
                Ok(model)
            } else {
                Err(Filter::OtherKey)
            };
        }
        if !bid.profile.enabled {
            return Err(Filter::Disabled);
        }
        if bid.quota_exhausted() {
            return Err(Filter::QuotaExhausted);
        }
        match bid.health_at(self.now_ms) {
            Health::Active | Health::HalfOpen => {}
            Health::QuotaExhausted => return Err(Filter::QuotaExhausted),
            Health::AuthDead => return Err(Filter::AuthDead),
            Health::Throttled { until_ms } => return Err(Filter::Throttled { until_ms }),
            Health::Cooling { until_ms } => return Err(Filter::Cooling { until_ms }),
        }
        match bid.rate_limit.exhausted_until() {
            Some(until_ms) if until_ms > self.now_ms => Err(Filter::RateLimited { until_ms }),
            _ => Ok(model),
        }
    }
}

/// What ranking needs of one usable key, computed in one pass over the board without cloning
/// any bid.
struct Candidate {
    id: i32,
    /// Where the key stands before scoring: keys serving the requested model itself (not only
    /// its equivalent) first, then by priority tier.
    rank: (bool, i32),
    weight: u64,
    /// It failed recently ([`Bid::recently_failed`]): after its healthy tier-mates.
    demoted: bool,
    inputs: ScoreInputs,
}

/// One usable key of the tier being ranked.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    id: i32,
    score: Score,
    weight: u64,
    demoted: bool,
}

/// The ids of the usable keys of the best tier, in the strategy's order, with their scores.
/// With `best_first_only`, only the best key is guaranteed in first place (the rest unsorted): the
/// common case needs no sort at all.
pub fn ranked_ids(
    board: &BidBoard,
    query: &PickQuery<'_>,
    advance_cursor: bool,
    best_first_only: bool,
) -> Vec<(i32, Score)> {
    ranked_tier(board, query, advance_cursor, best_first_only, None)
        .1
        .into_iter()
        .map(|r| (r.id, r.score))
        .collect()
}

/// Like [`ranked_ids`], among the tiers after `after_tier` only; also returns the tier ranked,
/// and each key's weight. Every pick runs this over the whole board, so it allocates twice (the
/// candidates and the ranking, each sized once) and sorts only where the strategy needs an order
/// beyond the best key.
fn ranked_tier(
    board: &BidBoard,
    query: &PickQuery<'_>,
    advance_cursor: bool,
    best_first_only: bool,
    after_tier: Option<i32>,
) -> (i32, Vec<Ranked>) {
    let mut usable: Vec<Candidate> = Vec::with_capacity(board.len());
    let mut best_rank = (true, i32::MAX);
    board.for_each(|bid| {
        let tier = tier(bid);
        if after_tier.is_some_and(|t| tier <= t) {
            return;
        }
        let Ok(model) = query.admit(bid) else {
            return;
        };
        // Equivalents stand in only when no usable key serves the requested model itself.
        let rank = (model != query.model, tier);
        best_rank = best_rank.min(rank);
        usable.push(Candidate {
            id: bid.key_id(),
            rank,
            weight: u64::from(bid.profile.weight.max(1)),
            demoted: bid.recently_failed(query.now_ms),
            inputs: ScoreInputs::of(bid, model, query.stream, query.now_ms),
        });
    });
    if usable.is_empty() {
        return (i32::MAX, Vec::new());
    }
    usable.retain(|c| c.rank == best_rank);
    let rotates = rotates(query.strategy);
    if rotates {
        // Turns go round in key id order (a score order breaks its ties by key id itself).
        usable.sort_unstable_by_key(|c| c.id);
    }
    let best = TierBest::of(usable.iter().map(|c| &c.inputs));
    let mut ranked: Vec<Ranked> = usable
        .iter()
        .map(|c| Ranked {
            id: c.id,
            score: best.score(&c.inputs, query.strategy),
            weight: c.weight,
            demoted: c.demoted,
        })
        .collect();
    if rotates {
        let weight = |w: u64| {
            if query.strategy == RoutingStrategy::Weighted {
                w
            } else {
                1
            }
        };
        let sum: u64 = ranked.iter().map(|r| weight(r.weight)).sum();
        let turn = if advance_cursor {
            board.next_turn(query.model)
        } else {
            board.peek_turn(query.model)
        } % sum.max(1);
        let mut acc = 0;
        let first = ranked
            .iter()
            .position(|r| {
                acc += weight(r.weight);
                turn < acc
            })
            .unwrap_or(0);
        ranked.rotate_left(first);
        // Stable: the turn order holds among the healthy keys and among those that just failed.
        if ranked.iter().any(|r| r.demoted) {
            ranked.sort_by_key(|r| r.demoted);
        }
    } else if best_first_only {
        if let Some(best) = (0..ranked.len()).min_by(|&i, &j| by_score(&ranked[i], &ranked[j])) {
            ranked.swap(0, best);
        }
    } else {
        ranked.sort_by(by_score);
    }
    (best_rank.1, ranked)
}

/// Whether the strategy takes turns among the tier's keys (in key id order) instead of ranking
/// them by score.
fn rotates(strategy: RoutingStrategy) -> bool {
    matches!(
        strategy,
        RoutingStrategy::RoundRobin | RoutingStrategy::Weighted
    )
}

/// Keys that just failed last; then higher total first; the lower key id breaks ties, so the
/// order is stable.
fn by_score(a: &Ranked, b: &Ranked) -> std::cmp::Ordering {
    a.demoted
        .cmp(&b.demoted)
        .then_with(|| b.score.total.total_cmp(&a.score.total))
        .then_with(|| a.id.cmp(&b.id))
}

/// The usable keys of the best tier, in the strategy's order, with their scores.
pub fn rank(board: &BidBoard, query: &PickQuery<'_>, advance_cursor: bool) -> Vec<(Bid, Score)> {
    ranked_ids(board, query, advance_cursor, false)
        .into_iter()
        .filter_map(|(id, score)| board.get(id).map(|bid| (bid, score)))
        .collect()
}

fn tier(bid: &Bid) -> i32 {
    bid.profile.priority.unwrap_or(i32::MAX)
}

/// One key in an explanation: why it is filtered, or how it scores.
pub type Explained = (Bid, Option<Filter>, Option<Score>);

/// Every key that could be relevant, why it is filtered or how it scores, and the key `pick`
/// would try first now (without taking a lease or a round-robin turn).
pub fn explain(board: &BidBoard, query: &PickQuery<'_>) -> (Vec<Explained>, Option<i32>) {
    let ranked = rank(board, query, false);
    let winner = ranked.first().map(|(b, _)| b.key_id());
    let mut rows = Vec::new();
    for bid in board.snapshot() {
        match query.filter(&bid) {
            Some(Filter::OtherProvider | Filter::OtherKey) => {}
            Some(f) => rows.push((bid, Some(f), None)),
            None => {
                let score = ranked
                    .iter()
                    .find(|(b, _)| b.key_id() == bid.key_id())
                    .map(|(_, s)| *s);
                rows.push((bid, None, score));
            }
        }
    }
    (rows, winner)
}

/// A key granted to a request.
#[derive(Debug)]
pub struct Picked {
    pub bid: Bid,
    /// The model this key is asked for.
    pub model: String,
    pub lease: Lease,
}

#[derive(Debug)]
pub enum PickResult {
    Picked(Box<Picked>),
    /// No key can serve now; `retry_at` is set when every candidate is only throttled.
    Unavailable {
        retry_at: Option<i64>,
    },
}

pub fn pick(board: &BidBoard, query: &PickQuery<'_>) -> PickResult {
    let mut after_tier = None;
    loop {
        let (tier, ranked) = ranked_tier(board, query, true, true, after_tier);
        if ranked.is_empty() {
            break;
        }
        if let Some(picked) = lease_first(board, query, ranked) {
            return PickResult::Picked(Box::new(picked));
        }
        if tier == i32::MAX {
            break;
        }
        after_tier = Some(tier);
    }
    unavailable(board, query)
}

/// The first key of one tier's ranking that grants a lease.
fn lease_first(board: &BidBoard, query: &PickQuery<'_>, mut ranked: Vec<Ranked>) -> Option<Picked> {
    let scored = !rotates(query.strategy);
    // Affinity: the conversation's previous key goes first, if it is still among the usable keys
    // of the best tier (so a throttled or dead key breaks the affinity at once).
    if let Some(sticky) = query.conversation.and_then(|c| board.affinity(c)) {
        if let Some(pos) = ranked.iter().position(|r| r.id == sticky) {
            let entry = ranked.remove(pos);
            ranked.insert(0, entry);
        }
    }
    for i in 0..ranked.len() {
        if i == 1 && scored {
            // Only the best was put in place; it refused a lease, so the rest go in order.
            ranked[1..].sort_by(by_score);
        }
        let id = ranked[i].id;
        let Some(bid) = board.get(id) else { continue };
        let lease = if query.only_key.is_some() {
            Some(bid.force_lease())
        } else {
            bid.try_lease(query.now_ms)
        };
        if let Some(lease) = lease {
            let model = query.model_for(&bid).unwrap_or(query.model).to_owned();
            if let Some(c) = query.conversation {
                board.remember_affinity(c, bid.key_id());
            }
            return Some(Picked { bid, model, lease });
        }
    }
    None
}

/// No key granted a lease: a 429 with the earliest recovery when every candidate is merely
/// throttled, else a 503.
fn unavailable(board: &BidBoard, query: &PickQuery<'_>) -> PickResult {
    // Nothing usable: is everything merely throttled?
    let mut earliest: Option<i64> = None;
    let mut only_throttled = true;
    let mut any = false;
    board.for_each(|bid| {
        match query.filter(bid) {
            Some(
                Filter::OtherProvider
                | Filter::OtherKey
                | Filter::ModelNotServed
                | Filter::AlreadyTried,
            ) => {}
            Some(f) => {
                any = true;
                match f.recovers_at() {
                    Some(at) => earliest = Some(earliest.map_or(at, |e: i64| e.min(at))),
                    None => only_throttled = false,
                }
            }
            None => {
                // Usable but at capacity (request quota reserved by requests in flight, or the
                // half-open probe taken).
                any = true;
                only_throttled = false;
            }
        }
    });
    PickResult::Unavailable {
        retry_at: (any && only_throttled).then_some(earliest).flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderCatalog;
    use crate::routing::bid::{KeyCounters, KeyProfile, ModelSet};
    use crate::routing::ewma::DecayingAverage;
    use crate::routing::ratelimit::RateLimitInfo;
    use shared::keys::QuotaUnit;
    use std::sync::Arc;

    fn bid(
        id: i32,
        priority: Option<i32>,
        quota: Option<f64>,
        fee: f64,
        latency: Option<f64>,
    ) -> Bid {
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
                priority,
                weight: 1,
                enabled: true,
                cost_per_request: fee,
                quota_unit: QuotaUnit::Requests,
                quota_total: quota.map(|_| 10.0),
                quota_reset: None,
                price_overrides: Default::default(),
                azure_api_version: None,
                azure_deployments: Default::default(),
            }),
            counters: {
                let counters = Arc::new(KeyCounters::default());
                counters.set_budget(QuotaUnit::Requests, quota);
                counters
            },
            health: Health::Active,
            quota_remaining: quota,
            ttfb: None,
            total_latency: latency.map(|v| DecayingAverage { value: v, at_ms: 0 }),
            rate_limit: RateLimitInfo::default(),
            last_failure_ms: None,
            generation: 0,
            seq: 0,
        }
    }

    fn query(strategy: RoutingStrategy, exclude: &[i32]) -> PickQuery<'_> {
        PickQuery {
            model: "gpt-4o",
            alias: None,
            provider: None,
            exclude,
            only_key: None,
            conversation: None,
            strategy,
            stream: false,
            now_ms: 0,
        }
    }

    fn board(bids: Vec<Bid>) -> BidBoard {
        let board = BidBoard::default();
        for b in bids {
            board.publish(b);
        }
        board
    }

    fn pick_id(bids: Vec<Bid>, strategy: RoutingStrategy) -> Option<i32> {
        match pick(&board(bids), &query(strategy, &[])) {
            PickResult::Picked(p) => Some(p.bid.key_id()),
            PickResult::Unavailable { .. } => None,
        }
    }

    #[test]
    fn equal_keys_go_in_key_id_order_whatever_order_the_board_holds_them() {
        // The board is a hash map: its order is not the ids'. Ties must still break by id, both
        // for the single best key a pick looks for and for the full order the next tries use.
        let ids = [907, 13, 512, 4, 300, 77, 1_000, 250];
        let bids = || {
            ids.iter()
                .map(|&id| bid(id, None, None, 0.0, None))
                .collect()
        };
        for strategy in [RoutingStrategy::Balanced, RoutingStrategy::Cost] {
            assert_eq!(pick_id(bids(), strategy), Some(4), "{strategy:?}");
            let order: Vec<i32> = rank(&board(bids()), &query(strategy, &[]), false)
                .iter()
                .map(|(b, _)| b.key_id())
                .collect();
            let mut sorted = ids.to_vec();
            sorted.sort_unstable();
            assert_eq!(order, sorted, "{strategy:?}");
        }
        // When the best refuses a lease, the next is the next id, not the next in the map.
        let board = board(bids());
        board.amend(4, 1, |b| b.health = Health::HalfOpen);
        let _probe = board.get(4).unwrap().try_lease(0).expect("the probe");
        match pick(&board, &query(RoutingStrategy::Balanced, &[])) {
            PickResult::Picked(p) => assert_eq!(p.bid.key_id(), 13),
            PickResult::Unavailable { .. } => panic!("13 is free"),
        }
    }

    #[test]
    fn balanced_prefers_quota_then_cost_then_latency() {
        use RoutingStrategy::Balanced;
        assert_eq!(
            pick_id(
                vec![
                    bid(1, None, Some(2.0), 0.0, None),
                    bid(2, None, Some(9.0), 0.0, None)
                ],
                Balanced
            ),
            Some(2)
        );
        assert_eq!(
            pick_id(
                vec![
                    bid(1, None, None, 0.02, None),
                    bid(2, None, None, 0.01, None)
                ],
                Balanced
            ),
            Some(2)
        );
        assert_eq!(
            pick_id(
                vec![
                    bid(1, None, None, 0.0, Some(900.0)),
                    bid(2, None, None, 0.0, Some(30.0))
                ],
                Balanced
            ),
            Some(2)
        );
        // More quota outweighs a small price difference.
        assert_eq!(
            pick_id(
                vec![
                    bid(1, None, Some(1.0), 0.0, None),
                    bid(2, None, Some(10.0), 0.0001, None)
                ],
                Balanced
            ),
            Some(2)
        );
    }

    #[test]
    fn single_criterion_strategies() {
        let cheap_slow = || bid(1, None, Some(1.0), 0.0, Some(900.0));
        let pricey_fast_full = || bid(2, None, Some(10.0), 0.05, Some(10.0));
        assert_eq!(
            pick_id(
                vec![cheap_slow(), pricey_fast_full()],
                RoutingStrategy::Cost
            ),
            Some(1)
        );
        assert_eq!(
            pick_id(
                vec![cheap_slow(), pricey_fast_full()],
                RoutingStrategy::Latency
            ),
            Some(2)
        );
        assert_eq!(
            pick_id(
                vec![cheap_slow(), pricey_fast_full()],
                RoutingStrategy::Quota
            ),
            Some(2)
        );
    }

    #[test]
    fn priority_tiers_hold_under_every_strategy() {
        for strategy in [
            RoutingStrategy::Balanced,
            RoutingStrategy::Cost,
            RoutingStrategy::Latency,
            RoutingStrategy::RoundRobin,
        ] {
            let tier1 = bid(1, Some(1), Some(1.0), 1.0, Some(5_000.0));
            let tier2 = bid(2, Some(2), None, 0.0, Some(1.0));
            let untiered = bid(3, None, None, 0.0, None);
            assert_eq!(
                pick_id(vec![tier1, tier2, untiered], strategy),
                Some(1),
                "{strategy:?}"
            );
        }
        let mut dead = bid(1, Some(1), None, 0.0, None);
        dead.health = Health::AuthDead;
        assert_eq!(
            pick_id(
                vec![
                    dead,
                    bid(2, Some(2), None, 0.0, None),
                    bid(3, None, None, 0.0, None)
                ],
                RoutingStrategy::Balanced
            ),
            Some(2)
        );
    }

    #[test]
    fn hard_filters() {
        let q = query(RoutingStrategy::Balanced, &[4]);
        let mut b = bid(1, None, None, 0.0, None);
        b.health = Health::Throttled { until_ms: 10 };
        assert_eq!(q.filter(&b), Some(Filter::Throttled { until_ms: 10 }));
        assert_eq!(
            PickQuery { now_ms: 10, ..q }.filter(&b),
            None,
            "throttles end by themselves"
        );
        b.health = Health::Cooling { until_ms: 10 };
        assert_eq!(q.filter(&b), Some(Filter::Cooling { until_ms: 10 }));
        b.health = Health::Active;
        b.rate_limit = RateLimitInfo {
            requests_remaining: Some(0.0),
            reset_at_ms: Some(5),
            ..Default::default()
        };
        assert_eq!(q.filter(&b), Some(Filter::RateLimited { until_ms: 5 }));
        assert_eq!(
            q.filter(&bid(4, None, None, 0.0, None)),
            Some(Filter::AlreadyTried)
        );
        assert_eq!(
            q.filter(&bid(5, None, Some(0.0), 0.0, None)),
            Some(Filter::QuotaExhausted)
        );
        let mut other = bid(6, None, None, 0.0, None);
        Arc::get_mut(&mut other.profile).unwrap().models = ModelSet::from_list(&["mistral".into()]);
        assert_eq!(q.filter(&other), Some(Filter::ModelNotServed));
    }

    #[test]
    fn a_key_that_just_failed_goes_after_its_healthy_tier_mates() {
        // Key 1 is the better key (cheaper) but failed a moment ago.
        let mut failed = bid(1, Some(1), None, 0.0, None);
        failed.last_failure_ms = Some(0);
        let fresh = || bid(2, Some(1), None, 0.01, None);
        let worse_tier = bid(3, Some(2), None, 0.0, None);
        for strategy in [
            RoutingStrategy::Balanced,
            RoutingStrategy::Cost,
            RoutingStrategy::RoundRobin,
        ] {
            let board = board(vec![failed.clone(), fresh(), worse_tier.clone()]);
            let order: Vec<i32> = rank(&board, &query(strategy, &[]), false)
                .iter()
                .map(|(b, _)| b.key_id())
                .collect();
            assert_eq!(
                order,
                [2, 1],
                "{strategy:?}: still in its tier, after key 2"
            );
            for _ in 0..4 {
                match pick(&board, &query(strategy, &[])) {
                    PickResult::Picked(p) => assert_eq!(p.bid.key_id(), 2, "{strategy:?}"),
                    PickResult::Unavailable { .. } => panic!("key 2 is free"),
                }
            }
        }
        // Alone in its tier it still serves (one failure never takes a key out) ...
        let board = board(vec![failed.clone(), worse_tier]);
        match pick(&board, &query(RoutingStrategy::Balanced, &[])) {
            PickResult::Picked(p) => assert_eq!(p.bid.key_id(), 1),
            PickResult::Unavailable { .. } => panic!(),
        }
        // ... and once the failure window has passed it is back in front.
        let later = PickQuery {
            now_ms: crate::routing::health::FAILURE_WINDOW_MS + 1,
            ..query(RoutingStrategy::Cost, &[])
        };
        match pick(&super::tests::board(vec![failed, fresh()]), &later) {
            PickResult::Picked(p) => assert_eq!(p.bid.key_id(), 1),
            PickResult::Unavailable { .. } => panic!(),
        }
    }

    #[test]
    fn all_throttled_reports_the_earliest_recovery() {
        let mut a = bid(1, None, None, 0.0, None);
        a.health = Health::Throttled { until_ms: 500 };
        let mut b = bid(2, None, None, 0.0, None);
        b.health = Health::Throttled { until_ms: 300 };
        match pick(
            &board(vec![a.clone(), b]),
            &query(RoutingStrategy::Balanced, &[]),
        ) {
            PickResult::Unavailable { retry_at } => assert_eq!(retry_at, Some(300)),
            PickResult::Picked(_) => panic!("nothing is usable"),
        }
        let mut dead = bid(3, None, None, 0.0, None);
        dead.health = Health::AuthDead;
        match pick(
            &board(vec![a, dead]),
            &query(RoutingStrategy::Balanced, &[]),
        ) {
            PickResult::Unavailable { retry_at } => {
                assert_eq!(retry_at, None, "not only throttled: 503")
            }
            PickResult::Picked(_) => panic!(),
        }
    }

    #[test]
    fn round_robin_and_weighted_share_traffic() {
        let board = board(vec![
            bid(1, None, None, 0.0, None),
            bid(2, None, None, 0.0, None),
            bid(3, None, None, 0.0, None),
        ]);
        let mut counts = [0; 3];
        for _ in 0..300 {
            if let PickResult::Picked(p) = pick(&board, &query(RoutingStrategy::RoundRobin, &[])) {
                counts[(p.bid.key_id() - 1) as usize] += 1;
            }
        }
        assert_eq!(counts, [100, 100, 100]);
        let mut heavy = bid(1, None, None, 0.0, None);
        Arc::get_mut(&mut heavy.profile).unwrap().weight = 3;
        let board = super::tests::board(vec![heavy, bid(2, None, None, 0.0, None)]);
        let mut counts = [0; 2];
        for _ in 0..400 {
            if let PickResult::Picked(p) = pick(&board, &query(RoutingStrategy::Weighted, &[])) {
                counts[(p.bid.key_id() - 1) as usize] += 1;
            }
        }
        assert_eq!(counts, [300, 100]);
    }

    #[test]
    fn request_quota_is_never_overdrawn_by_concurrent_leases() {
        let b = bid(1, None, Some(2.0), 0.0, None);
        let board = board(vec![b]);
        let q = query(RoutingStrategy::Balanced, &[]);
        let first = pick(&board, &q);
        let second = pick(&board, &q);
        assert!(matches!(first, PickResult::Picked(_)) && matches!(second, PickResult::Picked(_)));
        assert!(
            matches!(pick(&board, &q), PickResult::Unavailable { retry_at: None }),
            "2 in flight = quota"
        );
        drop(first);
        assert!(
            matches!(pick(&board, &q), PickResult::Picked(_)),
            "a finished request frees its slot"
        );
    }

    #[test]
    fn half_open_allows_one_probe() {
        let mut b = bid(1, None, None, 0.0, None);
        b.health = Health::Cooling { until_ms: 10 };
        let board = board(vec![b]);
        let q = PickQuery {
            now_ms: 20,
            ..query(RoutingStrategy::Balanced, &[])
        };
        let probe = pick(&board, &q);
        assert!(matches!(probe, PickResult::Picked(_)));
        assert!(
            matches!(pick(&board, &q), PickResult::Unavailable { .. }),
            "one probe at a time"
        );
    }

    #[test]
    fn a_tier_whose_keys_all_refuse_a_lease_gives_way_to_the_next() {
        // The bid still shows quota left (its actor has not yet heard of the requests in
        // flight), but the exact budget is spent: the next tier serves instead of a 503.
        let reserved = bid(1, Some(1), Some(1.0), 0.0, None);
        let held = reserved
            .try_lease(0)
            .expect("the one request the quota admits");
        let mut probing = bid(2, Some(2), None, 0.0, None);
        probing.health = Health::Cooling { until_ms: 0 };
        let probe = probing.try_lease(0).expect("the half-open probe");
        let board = board(vec![reserved, probing, bid(3, Some(3), None, 0.0, None)]);
        let q = query(RoutingStrategy::Balanced, &[]);
        match pick(&board, &q) {
            PickResult::Picked(p) => assert_eq!(p.bid.key_id(), 3),
            other => panic!("expected tier 3, got {other:?}"),
        }
        drop((held, probe));
        match pick(&board, &q) {
            PickResult::Picked(p) => assert_eq!(p.bid.key_id(), 1, "tier 1 again once freed"),
            other => panic!("expected tier 1, got {other:?}"),
        }
    }

    #[test]
    fn equivalents_only_stand_in_for_missing_models() {
        let mut claude = bid(7, Some(1), None, 0.0, None);
        Arc::get_mut(&mut claude.profile).unwrap().models =
            ModelSet::from_list(&["claude-sonnet-4-5".into()]);
        let openai = bid(8, None, None, 0.0, None);
        let board = board(vec![claude, openai]);
        let q = PickQuery {
            alias: Some("claude-sonnet-4-5"),
            ..query(RoutingStrategy::Balanced, &[])
        };
        match pick(&board, &q) {
            PickResult::Picked(p) => assert_eq!((p.bid.key_id(), p.model.as_str()), (8, "gpt-4o")),
            PickResult::Unavailable { .. } => panic!(),
        }
        // Once the direct key is tried, the equivalent may serve.
        match pick(&board, &PickQuery { exclude: &[8], ..q }) {
            PickResult::Picked(p) => {
                assert_eq!((p.bid.key_id(), p.model.as_str()), (7, "claude-sonnet-4-5"))
            }
            PickResult::Unavailable { .. } => panic!(),
        }
    }

    #[test]
    fn aliases_reach_keys_that_serve_the_equivalent() {
        let mut claude = bid(7, None, None, 0.0, None);
        Arc::get_mut(&mut claude.profile).unwrap().models =
            ModelSet::from_list(&["claude-sonnet-4-5".into()]);
        let board = board(vec![claude]);
        let q = query(RoutingStrategy::Balanced, &[]);
        assert!(matches!(pick(&board, &q), PickResult::Unavailable { .. }));
        match pick(
            &board,
            &PickQuery {
                alias: Some("claude-sonnet-4-5"),
                ..q
            },
        ) {
            PickResult::Picked(p) => assert_eq!(p.model, "claude-sonnet-4-5"),
            PickResult::Unavailable { .. } => panic!("the alias is served"),
        }
    }
}
