//! Rolling live statistics for the dashboard: calls per second over 10 s, success rate and latency
//! percentiles over the last minute, and running totals (today and all time). Updated once per
//! finished call (one short lock), read once per second by the snapshot task.

use std::sync::Mutex;

use shared::live::LiveSnapshot;

use super::LatencyHistogram;

const WINDOW_SECS: usize = 60;

/// What the live statistics need of a finished call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallSummary {
    pub status: i32,
    pub latency_ms: i64,
    pub tokens: i64,
    pub cost_usd: f64,
}
const RATE_SECS: i64 = 10;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Default)]
struct Second {
    /// Unix second this slot holds.
    at: i64,
    calls: u64,
    errors: u64,
    latency: LatencyHistogram,
}

#[derive(Debug, Default)]
struct Inner {
    seconds: Vec<Second>,
    day: i64,
    calls_today: i64,
    tokens_today: i64,
    cost_today: f64,
    calls_total: i64,
    tokens_total: i64,
    cost_total: f64,
}

#[derive(Debug, Default)]
pub struct LiveStats {
    inner: Mutex<Inner>,
}

/// Totals to start from (read from the rollups at start-up).
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub calls_today: i64,
    pub tokens_today: i64,
    pub cost_today: f64,
    pub calls_total: i64,
    pub tokens_total: i64,
    pub cost_total: f64,
}

impl LiveStats {
    pub fn new(totals: Totals, now_ms: i64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                seconds: vec![Second::default(); WINDOW_SECS],
                day: now_ms.div_euclid(DAY_MS),
                calls_today: totals.calls_today,
                tokens_today: totals.tokens_today,
                cost_today: totals.cost_today,
                calls_total: totals.calls_total,
                tokens_total: totals.tokens_total,
                cost_total: totals.cost_total,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, call: &CallSummary, now_ms: i64) {
        let tokens = call.tokens;
        let mut s = self.lock();
        roll_day(&mut s, now_ms);
        let sec = now_ms.div_euclid(1000);
        let slot = &mut s.seconds[sec.rem_euclid(WINDOW_SECS as i64) as usize];
        if slot.at != sec {
            *slot = Second {
                at: sec,
                ..Default::default()
            };
        }
        slot.calls += 1;
        if call.status >= 400 {
            slot.errors += 1;
        } else {
            slot.latency.record(call.latency_ms);
        }
        s.calls_today += 1;
        s.tokens_today = s.tokens_today.saturating_add(tokens);
        s.cost_today += call.cost_usd;
        s.calls_total += 1;
        s.tokens_total = s.tokens_total.saturating_add(tokens);
        s.cost_total += call.cost_usd;
    }

    pub fn snapshot(&self, now_ms: i64, in_flight: i64) -> LiveSnapshot {
        let mut s = self.lock();
        roll_day(&mut s, now_ms);
        let now_sec = now_ms.div_euclid(1000);
        let (mut recent, mut calls, mut errors) = (0u64, 0u64, 0u64);
        let mut latency = LatencyHistogram::default();
        for slot in &s.seconds {
            let age = now_sec - slot.at;
            if !(0..WINDOW_SECS as i64).contains(&age) {
                continue;
            }
            calls += slot.calls;
            errors += slot.errors;
            latency.merge(&slot.latency);
            if age < RATE_SECS {
                recent += slot.calls;
            }
        }
        LiveSnapshot {
            at: now_ms,
            requests_per_second: recent as f64 / RATE_SECS as f64,
            success_rate: if calls == 0 {
                1.0
            } else {
                (calls - errors) as f64 / calls as f64
            },
            latency_p50_ms: latency.percentile(0.5),
            latency_p95_ms: latency.percentile(0.95),
            in_flight,
            calls_today: s.calls_today,
            tokens_today: s.tokens_today,
            cost_today_usd: s.cost_today,
            calls_total: s.calls_total,
            tokens_total: s.tokens_total,
            cost_total_usd: s.cost_total,
            // The database's state is not a call statistic: the hub adds it.
            database_fault: None,
            instance_only: false,
        }
    }
}

fn roll_day(s: &mut Inner, now_ms: i64) {
    let day = now_ms.div_euclid(DAY_MS);
    if day != s.day {
        s.day = day;
        s.calls_today = 0;
        s.tokens_today = 0;
        s.cost_today = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(status: i32, latency_ms: i64) -> CallSummary {
        CallSummary {
            status,
            latency_ms,
            tokens: 15,
            cost_usd: 0.5,
        }
    }

    #[test]
    fn rates_and_totals() {
        let t0 = 10 * DAY_MS + 5_000;
        let stats = LiveStats::new(
            Totals {
                calls_total: 100,
                ..Default::default()
            },
            t0,
        );
        for i in 0..20 {
            stats.record(&call(200, 100), t0 + i * 100);
        }
        stats.record(&call(500, 1), t0 + 2_000);
        let snap = stats.snapshot(t0 + 2_500, 3);
        assert!(
            (snap.requests_per_second - 2.1).abs() < 1e-9,
            "{}",
            snap.requests_per_second
        );
        assert!((snap.success_rate - 20.0 / 21.0).abs() < 1e-9);
        assert!(snap.latency_p50_ms.unwrap() >= 100);
        assert_eq!(snap.calls_total, 121);
        assert_eq!(snap.calls_today, 21);
        assert_eq!(snap.tokens_today, 21 * 15);
        assert_eq!(snap.in_flight, 3);
        // Later, the window empties and a new day starts.
        let later = stats.snapshot(t0 + DAY_MS, 0);
        assert_eq!(later.requests_per_second, 0.0);
        assert_eq!(later.success_rate, 1.0);
        assert_eq!(later.calls_today, 0);
        assert_eq!(later.calls_total, 121);
    }
}
