//! A key's health as a state machine, a pure function of (state, outcome, now):
//!
//! ```text
//! active --429 / rate-limit headers--> throttled(until) --until passes--> active
//! active --5xx/529 with Retry-After--> throttled(until) (and counts as a failure)
//! active --quota spent / billing error--> quota_exhausted --reset or top-up--> active
//! active --401/403--> auth_dead --the key is edited--> active
//! active --N failures (5xx, timeouts, connection) within WINDOW--> cooling(until)
//! cooling --until passes--> half_open (one probe) --success--> active
//!                                                 --failure--> cooling (longer)
//! ```
//! One failure never takes a key out (hysteresis); cooling backs off exponentially.

use std::collections::VecDeque;

/// Failures within this window count towards cooling.
pub const FAILURE_WINDOW_MS: i64 = 30_000;
/// Failures within the window that start a cool-down.
pub const FAILURES_TO_COOL: usize = 3;
pub const FIRST_COOL_DOWN_MS: i64 = 5_000;
pub const MAX_COOL_DOWN_MS: i64 = 300_000;
/// A 429 without a usable `Retry-After` throttles for this long.
pub const DEFAULT_THROTTLE_MS: i64 = 1_000;
/// Longest throttle honoured from upstream headers.
pub const MAX_THROTTLE_MS: i64 = 3_600_000;

/// What one call said about the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Success,
    /// 429, with the upstream's recovery time if it gave one (Unix ms).
    RateLimited {
        until_ms: Option<i64>,
    },
    /// 5xx, 529, timeout, connection failure, broken stream.
    Failure,
    /// A failure whose upstream said when to come back (`Retry-After` on a 500, 503 or 529:
    /// "overloaded, retry after N s"). Unix ms.
    Overloaded {
        until_ms: i64,
    },
    /// 401/403.
    AuthRejected,
    /// The provider says the account is out of credit.
    QuotaRejected,
    /// The client's own mistake (400, 404, 422): says nothing about the key.
    ClientError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Active,
    Throttled {
        until_ms: i64,
    },
    QuotaExhausted,
    AuthDead,
    Cooling {
        until_ms: i64,
    },
    /// The cool-down passed: one probe request may go through.
    HalfOpen,
}

/// The verdict a signal forces at once, before the key's actor has applied it: routing must not
/// send the next request to a key that just answered 429 or 401, or said "overloaded, retry
/// after N s".
pub fn immediate_verdict(signal: Signal, now_ms: i64) -> Option<Health> {
    match signal {
        Signal::RateLimited { until_ms } => Some(Health::Throttled {
            until_ms: until_ms
                .filter(|u| *u > now_ms)
                .map_or(now_ms + DEFAULT_THROTTLE_MS, |u| {
                    u.min(now_ms + MAX_THROTTLE_MS)
                }),
        }),
        Signal::Overloaded { until_ms } => (until_ms > now_ms).then_some(Health::Throttled {
            until_ms: until_ms.min(now_ms + MAX_THROTTLE_MS),
        }),
        Signal::AuthRejected => Some(Health::AuthDead),
        Signal::QuotaRejected => Some(Health::QuotaExhausted),
        Signal::Success | Signal::Failure | Signal::ClientError => None,
    }
}

/// A failure whose upstream gave an explicit `Retry-After` (`retry_after`, Unix ms) is
/// [`Signal::Overloaded`]: the key is not tried again before then. Other signals are unchanged
/// (a 429's own recovery time is already in [`Signal::RateLimited`]).
pub fn with_retry_after(signal: Signal, retry_after: Option<i64>) -> Signal {
    match (signal, retry_after) {
        (Signal::Failure, Some(until_ms)) => Signal::Overloaded { until_ms },
        (other, _) => other,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthMachine {
    state: Health,
    failures: VecDeque<i64>,
    /// Consecutive cool-downs, for the back-off.
    cool_downs: u32,
}

impl Default for HealthMachine {
    fn default() -> Self {
        Self::new(Health::Active)
    }
}

impl HealthMachine {
    pub fn new(state: Health) -> Self {
        Self {
            state,
            failures: VecDeque::new(),
            cool_downs: 0,
        }
    }

    /// The state as of `now` (time-based exits applied).
    pub fn at(&self, now_ms: i64) -> Health {
        match self.state {
            Health::Throttled { until_ms } if now_ms >= until_ms => Health::Active,
            Health::Cooling { until_ms } if now_ms >= until_ms => Health::HalfOpen,
            other => other,
        }
    }

    /// Applies one call's signal; returns the new state if it changed.
    pub fn apply(&mut self, signal: Signal, now_ms: i64) -> Option<Health> {
        let before = self.at(now_ms);
        self.state = before;
        while self
            .failures
            .front()
            .is_some_and(|t| now_ms - t > FAILURE_WINDOW_MS)
        {
            self.failures.pop_front();
        }
        match signal {
            Signal::Success => {
                self.failures.clear();
                self.cool_downs = 0;
                if matches!(
                    before,
                    Health::HalfOpen | Health::Cooling { .. } | Health::Throttled { .. }
                ) {
                    self.state = Health::Active;
                }
            }
            Signal::RateLimited { .. } => {
                if !matches!(before, Health::AuthDead | Health::QuotaExhausted) {
                    self.state = immediate_verdict(signal, now_ms).unwrap_or(before);
                }
            }
            Signal::Overloaded { .. } => {
                self.failures.push_back(now_ms);
                if !matches!(before, Health::AuthDead | Health::QuotaExhausted) {
                    if let Some(throttle) = immediate_verdict(signal, now_ms) {
                        self.state = throttle;
                    }
                }
            }
            Signal::Failure => {
                self.failures.push_back(now_ms);
                let trip = before == Health::HalfOpen || self.failures.len() >= FAILURES_TO_COOL;
                if trip && !matches!(before, Health::AuthDead | Health::QuotaExhausted) {
                    let backoff = FIRST_COOL_DOWN_MS
                        .saturating_mul(1 << self.cool_downs.min(10))
                        .min(MAX_COOL_DOWN_MS);
                    self.cool_downs += 1;
                    self.failures.clear();
                    self.state = Health::Cooling {
                        until_ms: now_ms + backoff,
                    };
                }
            }
            Signal::AuthRejected => self.state = Health::AuthDead,
            Signal::QuotaRejected => self.state = Health::QuotaExhausted,
            Signal::ClientError => {
                if before == Health::HalfOpen {
                    // The probe reached a working upstream.
                    self.state = Health::Active;
                    self.cool_downs = 0;
                }
            }
        }
        (self.state != before).then_some(self.state)
    }

    /// An admin edit (new secret, re-enabled, quota topped up) clears every verdict.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Adopts a verdict another instance reached on the same key (a shared database): a dead or
    /// exhausted key is so here too; a throttle holds until its deadline unless one here holds
    /// longer. Returns the new state if it changed.
    pub fn adopt(&mut self, verdict: Health, now_ms: i64) -> Option<Health> {
        let before = self.at(now_ms);
        let after = match (before, verdict) {
            (Health::AuthDead, _) => Health::AuthDead,
            (_, Health::AuthDead) => Health::AuthDead,
            (Health::QuotaExhausted, _) | (_, Health::QuotaExhausted) => Health::QuotaExhausted,
            (current, Health::Throttled { until_ms } | Health::Cooling { until_ms })
                if until_ms > now_ms =>
            {
                match current {
                    Health::Throttled { until_ms: mine } | Health::Cooling { until_ms: mine }
                        if mine >= until_ms =>
                    {
                        current
                    }
                    _ => Health::Throttled { until_ms },
                }
            }
            (current, _) => current,
        };
        self.state = after;
        (after != before).then_some(after)
    }

    /// Leaves `QuotaExhausted` (quota reset or topped up).
    pub fn quota_restored(&mut self) {
        if self.state == Health::QuotaExhausted {
            self.state = Health::Active;
        }
    }

    pub fn raw(&self) -> Health {
        self.state
    }

    /// The latest failure counted towards cooling (none after a success or a cool-down); how
    /// recent it must be to matter is the reader's call ([`crate::routing::Bid::recently_failed`]).
    pub fn last_failure(&self) -> Option<i64> {
        self.failures.back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_of_other_instances_are_adopted_when_they_weigh_more() {
        let mut h = HealthMachine::default();
        assert_eq!(
            h.adopt(Health::Throttled { until_ms: 5_000 }, 1_000),
            Some(Health::Throttled { until_ms: 5_000 })
        );
        // An earlier deadline or a past one changes nothing.
        assert_eq!(h.adopt(Health::Throttled { until_ms: 3_000 }, 1_000), None);
        assert_eq!(h.adopt(Health::Cooling { until_ms: 900 }, 1_000), None);
        assert_eq!(h.at(5_000), Health::Active);
        assert_eq!(h.adopt(Health::AuthDead, 1_000), Some(Health::AuthDead));
        // Nothing but an edit brings a dead key back.
        assert_eq!(h.adopt(Health::Throttled { until_ms: 9_000 }, 1_000), None);
        assert_eq!(h.adopt(Health::Active, 1_000), None);
        let mut h = HealthMachine::default();
        assert_eq!(
            h.adopt(Health::QuotaExhausted, 0),
            Some(Health::QuotaExhausted)
        );
    }

    #[test]
    fn rate_limit_throttles_until_the_given_time_then_recovers() {
        let mut h = HealthMachine::default();
        assert_eq!(
            h.apply(
                Signal::RateLimited {
                    until_ms: Some(5_000)
                },
                1_000
            ),
            Some(Health::Throttled { until_ms: 5_000 })
        );
        assert_eq!(h.at(4_999), Health::Throttled { until_ms: 5_000 });
        assert_eq!(h.at(5_000), Health::Active);
        let mut h = HealthMachine::default();
        h.apply(Signal::RateLimited { until_ms: None }, 1_000);
        assert_eq!(h.at(1_000 + DEFAULT_THROTTLE_MS), Health::Active);
    }

    #[test]
    fn one_failure_does_not_cool_but_a_storm_does() {
        let mut h = HealthMachine::default();
        assert_eq!(h.apply(Signal::Failure, 0), None);
        assert_eq!(h.apply(Signal::Failure, 1_000), None);
        assert_eq!(
            h.apply(Signal::Failure, 2_000),
            Some(Health::Cooling {
                until_ms: 2_000 + FIRST_COOL_DOWN_MS
            })
        );
        // Failures spread beyond the window do not add up.
        let mut h = HealthMachine::default();
        h.apply(Signal::Failure, 0);
        h.apply(Signal::Failure, FAILURE_WINDOW_MS + 1);
        assert_eq!(h.apply(Signal::Failure, FAILURE_WINDOW_MS + 2), None);
    }

    #[test]
    fn half_open_probe_decides() {
        let mut h = HealthMachine::default();
        for t in 0..3 {
            h.apply(Signal::Failure, t);
        }
        let until = 2 + FIRST_COOL_DOWN_MS;
        assert_eq!(h.at(until), Health::HalfOpen);
        // A failed probe cools again, for twice as long.
        assert_eq!(
            h.apply(Signal::Failure, until),
            Some(Health::Cooling {
                until_ms: until + 2 * FIRST_COOL_DOWN_MS
            })
        );
        let again = until + 2 * FIRST_COOL_DOWN_MS;
        assert_eq!(h.at(again), Health::HalfOpen);
        assert_eq!(h.apply(Signal::Success, again), Some(Health::Active));
        assert_eq!(
            h.apply(Signal::Failure, again + 1),
            None,
            "back to a clean slate"
        );
    }

    #[test]
    fn auth_and_quota_verdicts_stick_until_reset() {
        let mut h = HealthMachine::default();
        h.apply(Signal::AuthRejected, 0);
        h.apply(Signal::RateLimited { until_ms: None }, 1);
        h.apply(Signal::Success, 2);
        assert_eq!(h.at(10_000_000), Health::AuthDead);
        h.reset();
        assert_eq!(h.at(0), Health::Active);
        h.apply(Signal::QuotaRejected, 0);
        assert_eq!(h.at(1), Health::QuotaExhausted);
        h.quota_restored();
        assert_eq!(h.at(1), Health::Active);
    }

    #[test]
    fn retry_after_on_a_failure_throttles_until_then() {
        assert_eq!(
            with_retry_after(Signal::Failure, Some(31_000)),
            Signal::Overloaded { until_ms: 31_000 }
        );
        assert_eq!(with_retry_after(Signal::Failure, None), Signal::Failure);
        assert_eq!(
            with_retry_after(Signal::ClientError, Some(31_000)),
            Signal::ClientError,
            "only failures become overloads"
        );
        let mut h = HealthMachine::default();
        assert_eq!(
            h.apply(Signal::Overloaded { until_ms: 31_000 }, 1_000),
            Some(Health::Throttled { until_ms: 31_000 })
        );
        assert_eq!(h.at(30_999), Health::Throttled { until_ms: 31_000 });
        assert_eq!(h.at(31_000), Health::Active);
        assert_eq!(
            h.last_failure(),
            Some(1_000),
            "it still counts as a failure"
        );
        // A Retry-After already past (or a bogus one) leaves only the failure.
        let mut h = HealthMachine::default();
        assert_eq!(h.apply(Signal::Overloaded { until_ms: 500 }, 1_000), None);
        assert_eq!(
            immediate_verdict(Signal::Overloaded { until_ms: i64::MAX }, 0),
            Some(Health::Throttled {
                until_ms: MAX_THROTTLE_MS
            }),
            "capped like a 429's"
        );
        // It never revives a dead key.
        let mut h = HealthMachine::new(Health::AuthDead);
        h.apply(Signal::Overloaded { until_ms: 5_000 }, 0);
        assert_eq!(h.at(1), Health::AuthDead);
    }

    #[test]
    fn a_success_forgets_the_last_failure() {
        let mut h = HealthMachine::default();
        h.apply(Signal::Failure, 7);
        assert_eq!(h.last_failure(), Some(7));
        h.apply(Signal::Success, 8);
        assert_eq!(h.last_failure(), None);
    }

    #[test]
    fn client_errors_say_nothing_about_the_key() {
        let mut h = HealthMachine::default();
        h.apply(Signal::Failure, 0);
        h.apply(Signal::Failure, 1);
        assert_eq!(h.apply(Signal::ClientError, 2), None);
        assert_eq!(h.at(3), Health::Active);
    }
}
