//! Scoring usable keys. Hard filters come first (see [`Filter`]); the strategy then ranks what is
//! left inside the best priority tier. Every component is normalised to 0..=1 over the tier
//! (1 is best), so weights mean the same whatever the prices and latencies are.
//!
//! `balanced` = 0.4 × quota left + 0.3 × cheapness + 0.2 × speed + 0.1 × rate-limit headroom:
//! the seed's order (most quota, then cheapest, then fastest) as one function.

use shared::settings::RoutingStrategy;

use super::bid::Bid;

pub const QUOTA_WEIGHT: f64 = 0.4;
pub const COST_WEIGHT: f64 = 0.3;
pub const LATENCY_WEIGHT: f64 = 0.2;
pub const HEADROOM_WEIGHT: f64 = 0.1;
/// A single-criterion strategy breaks ties with the others at this weight.
const TIE_BREAK: f64 = 0.001;
/// A typical call, for comparing prices: 1,000 prompt and 300 completion tokens.
const TYPICAL_PROMPT_TOKENS: f64 = 1_000.0;
const TYPICAL_COMPLETION_TOKENS: f64 = 300.0;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Score {
    pub quota: f64,
    pub cost: f64,
    pub latency: f64,
    pub headroom: f64,
    pub total: f64,
    pub estimated_cost_usd: f64,
    pub latency_ms: Option<f64>,
}

/// Estimated USD for a typical call of `model` on this key.
pub fn estimated_cost(bid: &Bid, model: &str) -> f64 {
    let tokens = bid.profile.pricing(model).map_or(0.0, |p| {
        (TYPICAL_PROMPT_TOKENS * p.input + TYPICAL_COMPLETION_TOKENS * p.output) / 1_000_000.0
    });
    bid.profile.cost_per_request + tokens
}

pub fn quota_fraction(bid: &Bid) -> f64 {
    match (bid.quota_remaining, bid.profile.quota_total) {
        (None, _) => 1.0,
        (Some(remaining), Some(total)) if total > 0.0 => (remaining / total).clamp(0.0, 1.0),
        (Some(remaining), _) => {
            if remaining > 0.0 {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// What scoring needs of one key, read off its bid once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreInputs {
    pub cost: f64,
    pub latency: Option<f64>,
    pub quota: f64,
    pub headroom: f64,
}

impl ScoreInputs {
    pub fn of(bid: &Bid, model: &str, stream: bool, now_ms: i64) -> Self {
        Self {
            cost: estimated_cost(bid, model),
            latency: bid.latency_ms(stream, now_ms),
            quota: quota_fraction(bid),
            headroom: bid.rate_limit.headroom(),
        }
    }
}

/// What a tier's scores are relative to: its cheapest estimated cost and its lowest latency.
#[derive(Debug, Clone, Copy)]
pub struct TierBest {
    min_cost: f64,
    min_latency: f64,
}

impl TierBest {
    pub fn of<'a>(tier: impl IntoIterator<Item = &'a ScoreInputs>) -> Self {
        tier.into_iter().fold(
            Self {
                min_cost: f64::INFINITY,
                min_latency: f64::INFINITY,
            },
            |best, i| Self {
                min_cost: best.min_cost.min(i.cost),
                min_latency: i
                    .latency
                    .map_or(best.min_latency, |l| best.min_latency.min(l)),
            },
        )
    }

    /// One key's score under `strategy`, relative to the tier's best.
    pub fn score(&self, i: &ScoreInputs, strategy: RoutingStrategy) -> Score {
        let cost = (self.min_cost + 1e-9) / (i.cost + 1e-9);
        // Unknown latency scores as the best, so new keys get tried.
        let latency = i
            .latency
            .map_or(1.0, |l| (self.min_latency + 1.0) / (l + 1.0));
        let (quota, headroom) = (i.quota, i.headroom);
        let total = match strategy {
            RoutingStrategy::Balanced | RoutingStrategy::RoundRobin | RoutingStrategy::Weighted => {
                QUOTA_WEIGHT * quota
                    + COST_WEIGHT * cost
                    + LATENCY_WEIGHT * latency
                    + HEADROOM_WEIGHT * headroom
            }
            RoutingStrategy::Cost => cost + TIE_BREAK * (latency + quota),
            RoutingStrategy::Quota => quota + TIE_BREAK * (cost + latency),
            RoutingStrategy::Latency => latency + TIE_BREAK * (cost + quota),
        };
        Score {
            quota,
            cost,
            latency,
            headroom,
            total,
            estimated_cost_usd: i.cost,
            latency_ms: i.latency,
        }
    }
}
