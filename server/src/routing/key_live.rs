//! A key's live state and how one call's outcome changes it. Owned by the key's actor; pure so it
//! can be tested without actors or clocks.

use shared::keys::{KeyState, KeyUsage, QuotaUnit};

use std::sync::Arc;

use super::bid::{Bid, KeyProfile};
use super::cost::TokenUsage;
use super::ewma;
use crate::db::api_keys::{ApiKeyRow, ApiKeyUsage};

/// What happened on one upstream call.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The call produced a usable answer.
    pub success: bool,
    /// The upstream rejected the key itself (401/403).
    pub auth_failed: bool,
    pub latency_ms: f64,
    pub tokens: TokenUsage,
    pub cost_usd: f64,
    /// Unix milliseconds.
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyLive {
    pub enabled: bool,
    pub auth_dead: bool,
    pub quota_unit: QuotaUnit,
    pub quota_remaining: Option<f64>,
    pub usage: KeyUsage,
}

impl KeyLive {
    pub fn from_row(row: &ApiKeyRow) -> Self {
        Self {
            enabled: row.enabled,
            auth_dead: row.auth_dead,
            quota_unit: parse_quota_unit(&row.quota_unit),
            quota_remaining: row.quota_remaining,
            usage: KeyUsage {
                calls: row.total_calls,
                errors: row.total_errors,
                tokens: row.total_tokens,
                cost_usd: row.total_cost_usd,
                latency_ewma_ms: row.latency_ewma_ms,
                last_used_at: row.last_used_at,
            },
        }
    }

    pub fn state(&self) -> KeyState {
        if !self.enabled {
            KeyState::Disabled
        } else if self.auth_dead {
            KeyState::AuthDead
        } else if self.quota_remaining.is_some_and(|q| q <= 0.0) {
            KeyState::QuotaExhausted
        } else {
            KeyState::Active
        }
    }

    /// The bid this state makes for `profile`.
    pub fn bid(&self, profile: Arc<KeyProfile>, generation: u64) -> Bid {
        Bid {
            profile,
            state: self.state(),
            quota_remaining: self.quota_remaining,
            latency_ewma_ms: self.usage.latency_ewma_ms,
            generation,
        }
    }

    pub fn apply(&mut self, outcome: &Outcome) {
        let usage = &mut self.usage;
        usage.calls += 1;
        usage.last_used_at = Some(outcome.at_ms);
        usage.tokens += outcome.tokens.total();
        usage.cost_usd += outcome.cost_usd;
        if outcome.success {
            usage.latency_ewma_ms = Some(ewma::update(
                usage.latency_ewma_ms,
                outcome.latency_ms,
                ewma::LATENCY_ALPHA,
            ));
        } else {
            usage.errors += 1;
        }
        if outcome.auth_failed {
            self.auth_dead = true;
        }
        if let Some(remaining) = self.quota_remaining.as_mut() {
            let spent = match self.quota_unit {
                QuotaUnit::Requests => f64::from(u8::from(outcome.success)),
                QuotaUnit::Tokens => outcome.tokens.total() as f64,
                QuotaUnit::Usd => outcome.cost_usd,
            };
            *remaining = (*remaining - spent).max(0.0);
        }
    }

    pub fn to_usage_row(&self) -> ApiKeyUsage {
        ApiKeyUsage {
            quota_remaining: self.quota_remaining,
            auth_dead: self.auth_dead,
            total_calls: self.usage.calls,
            total_errors: self.usage.errors,
            total_tokens: self.usage.tokens,
            total_cost_usd: self.usage.cost_usd,
            latency_ewma_ms: self.usage.latency_ewma_ms,
            last_used_at: self.usage.last_used_at,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn live(unit: QuotaUnit, quota: Option<f64>) -> KeyLive {
        KeyLive {
            enabled: true,
            auth_dead: false,
            quota_unit: unit,
            quota_remaining: quota,
            usage: KeyUsage::default(),
        }
    }

    fn ok(tokens: i64, cost: f64) -> Outcome {
        Outcome {
            success: true,
            auth_failed: false,
            latency_ms: 100.0,
            tokens: TokenUsage {
                prompt: tokens,
                ..Default::default()
            },
            cost_usd: cost,
            at_ms: 1,
        }
    }

    #[test]
    fn request_quota_runs_out() {
        let mut k = live(QuotaUnit::Requests, Some(2.0));
        k.apply(&ok(10, 0.0));
        assert_eq!(k.state(), KeyState::Active);
        k.apply(&ok(10, 0.0));
        assert_eq!(k.quota_remaining, Some(0.0));
        assert_eq!(k.state(), KeyState::QuotaExhausted);
    }

    #[test]
    fn token_and_usd_quotas_count_their_unit() {
        let mut k = live(QuotaUnit::Tokens, Some(100.0));
        k.apply(&ok(30, 0.5));
        assert_eq!(k.quota_remaining, Some(70.0));
        let mut k = live(QuotaUnit::Usd, Some(1.0));
        k.apply(&ok(30, 0.25));
        assert_eq!(k.quota_remaining, Some(0.75));
    }

    #[test]
    fn auth_failure_kills_the_key_and_errors_count() {
        let mut k = live(QuotaUnit::Requests, None);
        k.apply(&Outcome {
            success: false,
            auth_failed: true,
            ..ok(0, 0.0)
        });
        assert_eq!(k.state(), KeyState::AuthDead);
        assert_eq!(k.usage.errors, 1);
        assert_eq!(
            k.usage.latency_ewma_ms, None,
            "failures do not feed latency"
        );
    }
}
