//! A key's live state and how one call's outcome changes it. Owned by the key's actor; pure (time
//! is a parameter) so it can be tested without actors or clocks.

use std::sync::Arc;

use shared::keys::{KeyUsage, QuotaUnit};

use super::bid::{Bid, KeyCounters, KeyProfile};
use super::cost::TokenUsage;
use super::ewma::{self, DecayingAverage};
use super::health::{Health, HealthMachine, Signal};
use super::quota::{next_reset, BurnMeter};
use super::ratelimit::RateLimitInfo;
use crate::db::api_keys::{ApiKeyRow, ApiKeyUsage};

/// What happened on one upstream call.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub signal: Signal,
    /// Time to the upstream's response head.
    pub ttfb_ms: Option<f64>,
    /// Time to the end of the answer (successful calls).
    pub total_ms: Option<f64>,
    pub tokens: TokenUsage,
    pub cost_usd: f64,
    /// What the upstream's rate-limit headers said.
    pub rate_limit: Option<RateLimitInfo>,
    /// Unix milliseconds.
    pub at_ms: i64,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.signal == Signal::Success
    }
}

/// What an admin edit changes besides the key's settled profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EditEffects {
    /// The edit clears every verdict (a new secret or address, re-enabled, a passing test).
    pub reset_health: bool,
    /// The edit set the quota: it is taken from the row (else the actor's own count stands).
    pub quota_edited: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyLive {
    pub health: HealthMachine,
    pub quota_remaining: Option<f64>,
    pub quota_reset_at: Option<i64>,
    pub usage: KeyUsage,
    pub ttfb: Option<DecayingAverage>,
    pub total_latency: Option<DecayingAverage>,
    pub rate_limit: RateLimitInfo,
    pub burn: BurnMeter,
}

impl KeyLive {
    pub fn from_row(row: &ApiKeyRow, now_ms: i64) -> Self {
        let verdict = if row.auth_dead {
            Health::AuthDead
        } else if row.quota_rejected {
            Health::QuotaExhausted
        } else {
            Health::Active
        };
        let since = row.last_used_at.unwrap_or(now_ms);
        let mut live = Self {
            health: HealthMachine::new(verdict),
            quota_remaining: row.quota_remaining,
            quota_reset_at: row.quota_reset_at,
            usage: KeyUsage {
                calls: row.total_calls,
                errors: row.total_errors,
                tokens: row.total_tokens,
                cost_usd: row.total_cost_usd,
                latency_ewma_ms: row.latency_ewma_ms,
                ttfb_ewma_ms: row.ttfb_ewma_ms,
                last_used_at: row.last_used_at,
            },
            ttfb: row.ttfb_ewma_ms.map(|v| DecayingAverage {
                value: v,
                at_ms: since,
            }),
            total_latency: row.latency_ewma_ms.map(|v| DecayingAverage {
                value: v,
                at_ms: since,
            }),
            rate_limit: RateLimitInfo::default(),
            burn: BurnMeter::default(),
        };
        live.refill_if_due(
            row.quota_total,
            parse_quota_reset(row.quota_reset.as_deref()),
            now_ms,
        );
        live
    }

    /// The bid this state makes for `profile`, reflecting the outcomes up to `seq`.
    pub fn bid(
        &self,
        profile: Arc<KeyProfile>,
        counters: Arc<KeyCounters>,
        generation: u64,
        seq: u64,
    ) -> Bid {
        Bid {
            profile,
            counters,
            health: self.health.raw(),
            quota_remaining: self.quota_remaining,
            ttfb: self.ttfb,
            total_latency: self.total_latency,
            rate_limit: self.rate_limit,
            last_failure_ms: self.health.last_failure(),
            generation,
            seq,
        }
    }

    /// Adopts an admin edit of the key's row: the one place the edit rules live.
    pub fn apply_edit(&mut self, row: &ApiKeyRow, effects: EditEffects) {
        if effects.quota_edited {
            self.quota_remaining = row.quota_remaining;
            self.quota_reset_at = row.quota_reset_at;
        }
        if effects.reset_health {
            self.health.reset();
        } else if effects.quota_edited && self.quota_remaining.is_none_or(|q| q > 0.0) {
            // Topped up (or the limit removed): the provider's "out of credit" no longer holds.
            self.health.quota_restored();
        }
    }

    /// Refills the quota when its period has turned; returns whether it did.
    pub fn refill_if_due(
        &mut self,
        total: Option<f64>,
        period: Option<shared::keys::QuotaReset>,
        now_ms: i64,
    ) -> bool {
        let Some(period) = period else {
            self.quota_reset_at = None;
            return false;
        };
        match self.quota_reset_at {
            Some(at) if now_ms >= at => {
                self.quota_remaining = total;
                self.quota_reset_at = Some(next_reset(period, now_ms));
                self.health.quota_restored();
                true
            }
            Some(_) => false,
            None => {
                self.quota_reset_at = Some(next_reset(period, now_ms));
                false
            }
        }
    }

    /// Folds one call in. Returns the new health if it changed.
    pub fn apply(&mut self, outcome: &Outcome, unit: QuotaUnit) -> Option<Health> {
        let now = outcome.at_ms;
        let usage = &mut self.usage;
        usage.calls += 1;
        usage.last_used_at = Some(now);
        usage.tokens = usage.tokens.saturating_add(outcome.tokens.total());
        usage.cost_usd += outcome.cost_usd;
        if outcome.succeeded() {
            if let Some(ms) = outcome.ttfb_ms {
                self.ttfb = Some(ewma::fold(self.ttfb, ms, now));
            }
            if let Some(ms) = outcome.total_ms {
                self.total_latency = Some(ewma::fold(self.total_latency, ms, now));
            }
            usage.ttfb_ewma_ms = self.ttfb.map(|a| a.value);
            usage.latency_ewma_ms = self.total_latency.map(|a| a.value);
        } else if outcome.signal != Signal::ClientError {
            usage.errors += 1;
        }
        if let Some(info) = outcome.rate_limit.filter(|i| !i.is_empty()) {
            self.rate_limit = info;
        }
        let spent = match unit {
            QuotaUnit::Requests => f64::from(u8::from(outcome.succeeded())),
            QuotaUnit::Tokens => outcome.tokens.total() as f64,
            QuotaUnit::Usd => outcome.cost_usd,
        };
        self.burn.record(now, spent);
        if let Some(remaining) = self.quota_remaining.as_mut() {
            *remaining = (*remaining - spent).max(0.0);
        }
        self.health.apply(outcome.signal, now)
    }

    pub fn to_usage_row(&self) -> ApiKeyUsage {
        let raw = self.health.raw();
        ApiKeyUsage {
            quota_remaining: self.quota_remaining,
            auth_dead: raw == Health::AuthDead,
            total_calls: self.usage.calls,
            total_errors: self.usage.errors,
            total_tokens: self.usage.tokens,
            total_cost_usd: self.usage.cost_usd,
            latency_ewma_ms: self.usage.latency_ewma_ms,
            ttfb_ewma_ms: self.usage.ttfb_ewma_ms,
            last_used_at: self.usage.last_used_at,
            quota_rejected: raw == Health::QuotaExhausted,
            quota_reset_at: self.quota_reset_at,
        }
    }
}

pub fn parse_quota_unit(text: &str) -> QuotaUnit {
    match text {
        "tokens" => QuotaUnit::Tokens,
        "usd" => QuotaUnit::Usd,
        _ => QuotaUnit::Requests,
    }
}

pub fn quota_unit_name(unit: QuotaUnit) -> &'static str {
    match unit {
        QuotaUnit::Requests => "requests",
        QuotaUnit::Tokens => "tokens",
        QuotaUnit::Usd => "usd",
    }
}

pub fn parse_quota_reset(text: Option<&str>) -> Option<shared::keys::QuotaReset> {
    match text {
        Some("daily") => Some(shared::keys::QuotaReset::Daily),
        Some("monthly") => Some(shared::keys::QuotaReset::Monthly),
        _ => None,
    }
}

pub fn quota_reset_name(period: shared::keys::QuotaReset) -> &'static str {
    match period {
        shared::keys::QuotaReset::Daily => "daily",
        shared::keys::QuotaReset::Monthly => "monthly",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::keys::QuotaReset;

    fn live(quota: Option<f64>) -> KeyLive {
        KeyLive {
            health: HealthMachine::default(),
            quota_remaining: quota,
            quota_reset_at: None,
            usage: KeyUsage::default(),
            ttfb: None,
            total_latency: None,
            rate_limit: RateLimitInfo::default(),
            burn: BurnMeter::default(),
        }
    }

    fn ok(tokens: i64, cost: f64, at_ms: i64) -> Outcome {
        Outcome {
            signal: Signal::Success,
            ttfb_ms: Some(50.0),
            total_ms: Some(100.0),
            tokens: TokenUsage {
                prompt: tokens,
                ..Default::default()
            },
            cost_usd: cost,
            rate_limit: None,
            at_ms,
        }
    }

    #[test]
    fn request_quota_runs_out() {
        let mut k = live(Some(2.0));
        k.apply(&ok(10, 0.0, 1), QuotaUnit::Requests);
        k.apply(&ok(10, 0.0, 2), QuotaUnit::Requests);
        assert_eq!(k.quota_remaining, Some(0.0));
    }

    #[test]
    fn token_and_usd_quotas_count_their_unit() {
        let mut k = live(Some(100.0));
        k.apply(&ok(30, 0.5, 1), QuotaUnit::Tokens);
        assert_eq!(k.quota_remaining, Some(70.0));
        let mut k = live(Some(1.0));
        k.apply(&ok(30, 0.25, 1), QuotaUnit::Usd);
        assert_eq!(k.quota_remaining, Some(0.75));
    }

    #[test]
    fn failures_count_but_do_not_feed_latency() {
        let mut k = live(None);
        let failed = Outcome {
            signal: Signal::AuthRejected,
            ttfb_ms: Some(5.0),
            total_ms: None,
            ..ok(0, 0.0, 1)
        };
        assert_eq!(
            k.apply(&failed, QuotaUnit::Requests),
            Some(Health::AuthDead)
        );
        assert_eq!(k.usage.errors, 1);
        assert_eq!(k.ttfb, None);
        let client = Outcome {
            signal: Signal::ClientError,
            ..ok(0, 0.0, 2)
        };
        k.apply(&client, QuotaUnit::Requests);
        assert_eq!(
            k.usage.errors, 1,
            "a client's mistake is not the key's error"
        );
    }

    #[test]
    fn rate_limit_headers_are_kept() {
        let mut k = live(None);
        let info = RateLimitInfo {
            requests_remaining: Some(3.0),
            requests_limit: Some(100.0),
            ..Default::default()
        };
        k.apply(
            &Outcome {
                rate_limit: Some(info),
                ..ok(1, 0.0, 1)
            },
            QuotaUnit::Requests,
        );
        assert_eq!(k.rate_limit.requests_remaining, Some(3.0));
    }

    fn row(quota_remaining: Option<f64>) -> ApiKeyRow {
        ApiKeyRow {
            id: 1,
            uid: "u".into(),
            provider: "openai".into(),
            name: "k".into(),
            secret_ciphertext: vec![],
            secret_hint: String::new(),
            base_url: None,
            models: "[]".into(),
            priority: None,
            enabled: true,
            cost_per_request: 0.0,
            quota_total: Some(10.0),
            quota_remaining,
            quota_unit: "requests".into(),
            azure_api_version: None,
            azure_deployments: "{}".into(),
            auth_dead: false,
            total_calls: 0,
            total_errors: 0,
            total_tokens: 0,
            total_cost_usd: 0.0,
            latency_ewma_ms: None,
            last_used_at: None,
            created_at: 0,
            updated_at: 0,
            weight: 1,
            quota_reset: None,
            quota_reset_at: None,
            price_overrides: "{}".into(),
            quota_rejected: false,
            ttfb_ewma_ms: None,
            seal_version: 2,
        }
    }

    #[test]
    fn edits_follow_one_set_of_rules() {
        // A top-up lifts "out of credit" but not a dead key.
        let mut k = live(Some(0.0));
        k.health.apply(Signal::QuotaRejected, 0);
        let top_up = EditEffects {
            quota_edited: true,
            ..Default::default()
        };
        k.apply_edit(&row(Some(5.0)), top_up);
        assert_eq!(
            (k.quota_remaining, k.health.raw()),
            (Some(5.0), Health::Active)
        );
        k.health.apply(Signal::AuthRejected, 1);
        k.apply_edit(&row(Some(7.0)), top_up);
        assert_eq!(k.health.raw(), Health::AuthDead);
        // Emptying the quota is no top-up.
        let mut k = live(Some(3.0));
        k.health.apply(Signal::QuotaRejected, 0);
        k.apply_edit(&row(Some(0.0)), top_up);
        assert_eq!(k.health.raw(), Health::QuotaExhausted);
        // A new secret clears every verdict and leaves the quota count alone.
        let mut k = live(Some(3.0));
        k.health.apply(Signal::AuthRejected, 0);
        k.apply_edit(
            &row(Some(9.0)),
            EditEffects {
                reset_health: true,
                ..Default::default()
            },
        );
        assert_eq!(
            (k.quota_remaining, k.health.raw()),
            (Some(3.0), Health::Active)
        );
    }

    #[test]
    fn quota_refills_when_the_period_turns() {
        let mut k = live(Some(0.0));
        k.health.apply(Signal::QuotaRejected, 0);
        assert!(!k.refill_if_due(Some(10.0), Some(QuotaReset::Daily), 1_000));
        let at = k.quota_reset_at.unwrap();
        assert_eq!(at, 86_400_000);
        assert!(k.refill_if_due(Some(10.0), Some(QuotaReset::Daily), at));
        assert_eq!(k.quota_remaining, Some(10.0));
        assert_eq!(k.health.at(at), Health::Active);
        assert_eq!(k.quota_reset_at, Some(2 * 86_400_000));
    }
}
