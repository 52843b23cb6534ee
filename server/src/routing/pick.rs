//! Ranking bids (the seed's order): usable keys only, then priority tier (1 first, keys without a
//! priority last), most quota left, lowest cost, lowest latency, and the lowest id as a stable
//! tie-break.

use std::cmp::Ordering;

use super::bid::{Bid, BidBoard};

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
}

impl<'a> PickQuery<'a> {
    /// Whether the key could serve this request if it were healthy.
    pub fn matches(&self, bid: &Bid) -> bool {
        self.provider.is_none_or(|p| bid.profile.provider_id() == p)
            && self.model_for(bid).is_some()
    }

    /// The model name this key would be asked for: the requested one if it serves it, else the
    /// alias if it serves that.
    pub fn model_for(&self, bid: &Bid) -> Option<&'a str> {
        if bid.profile.serves(self.model) {
            Some(self.model)
        } else {
            self.alias.filter(|a| bid.profile.serves(a))
        }
    }
}

/// Estimated price of one call, for ranking only: the fee plus 1k input and 1k output tokens.
fn estimated_cost(bid: &Bid, model: &str) -> f64 {
    let tokens = bid
        .profile
        .pricing(model)
        .map_or(0.0, |p| (p.input + p.output) / 1000.0);
    bid.profile.cost_per_request + tokens
}

/// `Less` means `a` is the better key.
pub fn compare(a: &Bid, b: &Bid, model: &str) -> Ordering {
    let tier = |bid: &Bid| bid.profile.priority.unwrap_or(i32::MAX);
    let quota = |bid: &Bid| bid.quota_remaining.unwrap_or(f64::INFINITY);
    let latency = |bid: &Bid| bid.latency_ewma_ms.unwrap_or(0.0);
    tier(a)
        .cmp(&tier(b))
        .then_with(|| quota(b).total_cmp(&quota(a)))
        .then_with(|| estimated_cost(a, model).total_cmp(&estimated_cost(b, model)))
        .then_with(|| latency(a).total_cmp(&latency(b)))
        .then_with(|| a.key_id().cmp(&b.key_id()))
}

/// The best usable key for `query`, if any.
pub fn pick_best(board: &BidBoard, query: &PickQuery<'_>) -> Option<Bid> {
    let mut winner: Option<Bid> = None;
    board.for_each(|bid| {
        if !bid.usable() || query.exclude.contains(&bid.key_id()) || !query.matches(bid) {
            return;
        }
        if winner.as_ref().is_none_or(|w| {
            compare(bid, w, query.model_for(bid).unwrap_or(query.model)) == Ordering::Less
        }) {
            winner = Some(bid.clone());
        }
    });
    winner
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderCatalog;
    use crate::routing::bid::{KeyProfile, ModelSet};
    use shared::keys::{KeyState, QuotaUnit};
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
                uid: format!("u{id}"),
                name: format!("k{id}"),
                provider: catalog.get("openai").unwrap().clone(),
                base_url: "http://127.0.0.1:1".into(),
                sealed_secret: vec![],
                models: ModelSet::Provider,
                priority,
                cost_per_request: fee,
                quota_unit: QuotaUnit::Requests,
                azure_api_version: None,
                azure_deployments: Default::default(),
            }),
            state: KeyState::Active,
            quota_remaining: quota,
            latency_ewma_ms: latency,
            generation: 0,
        }
    }

    fn pick(bids: Vec<Bid>, exclude: &[i32]) -> Option<i32> {
        let board = BidBoard::default();
        for b in bids {
            board.publish(b);
        }
        pick_best(
            &board,
            &PickQuery {
                model: "gpt-4o",
                alias: None,
                provider: None,
                exclude,
            },
        )
        .map(|b| b.key_id())
    }

    #[test]
    fn most_quota_then_cheapest_then_fastest() {
        assert_eq!(
            pick(
                vec![
                    bid(1, None, Some(5.0), 0.0, None),
                    bid(2, None, Some(9.0), 0.0, None)
                ],
                &[]
            ),
            Some(2)
        );
        assert_eq!(
            pick(
                vec![
                    bid(1, None, None, 0.02, None),
                    bid(2, None, None, 0.01, None)
                ],
                &[]
            ),
            Some(2)
        );
        assert_eq!(
            pick(
                vec![
                    bid(1, None, None, 0.0, Some(90.0)),
                    bid(2, None, None, 0.0, Some(30.0))
                ],
                &[]
            ),
            Some(2)
        );
    }

    #[test]
    fn aliases_reach_keys_that_serve_the_equivalent() {
        let mut claude = bid(7, None, None, 0.0, None);
        Arc::get_mut(&mut claude.profile).unwrap().models =
            ModelSet::from_list(&["claude-sonnet-4-5".into()]);
        let board = BidBoard::default();
        board.publish(claude);
        let query = |alias| PickQuery {
            model: "gpt-4o",
            alias,
            provider: None,
            exclude: &[],
        };
        assert!(pick_best(&board, &query(None)).is_none());
        let found = pick_best(&board, &query(Some("claude-sonnet-4-5"))).unwrap();
        assert_eq!(
            query(Some("claude-sonnet-4-5")).model_for(&found),
            Some("claude-sonnet-4-5")
        );
    }

    #[test]
    fn priority_tier_comes_first() {
        assert_eq!(
            pick(
                vec![
                    bid(1, Some(2), None, 0.0, None),
                    bid(2, Some(1), Some(1.0), 0.5, None)
                ],
                &[]
            ),
            Some(2)
        );
        assert_eq!(
            pick(
                vec![
                    bid(1, None, None, 0.0, None),
                    bid(2, Some(3), Some(1.0), 0.5, None)
                ],
                &[]
            ),
            Some(2)
        );
    }

    #[test]
    fn unusable_excluded_and_unserved_keys_are_skipped() {
        let mut dead = bid(1, Some(1), None, 0.0, None);
        dead.state = KeyState::AuthDead;
        assert_eq!(
            pick(vec![dead, bid(2, None, None, 0.0, None)], &[]),
            Some(2)
        );
        assert_eq!(
            pick(
                vec![bid(1, None, None, 0.0, None), bid(2, None, None, 0.0, None)],
                &[1]
            ),
            Some(2)
        );
        let mut other = bid(3, None, None, 0.0, None);
        Arc::get_mut(&mut other.profile).unwrap().models = ModelSet::from_list(&["mistral".into()]);
        assert_eq!(pick(vec![other], &[]), None);
    }
}
