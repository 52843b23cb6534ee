//! A per-minute token bucket in one atomic: the generic cell rate algorithm (GCRA). The bucket
//! stores the *theoretical arrival time* (`tat`): the instant at which everything admitted so far
//! would have drained at the steady rate of `limit` per minute. A request of `n` units is
//! admitted when, after adding `n` intervals, the backlog (`tat - now`) is at most one minute;
//! a single compare-and-swap makes the check and the take one step, so under any concurrency at
//! most `limit` units pass in a burst from a full bucket, and exactly `limit` when each asks
//! for one unit (for limits below about 245 000 per minute, where the integer interval is exact
//! enough). Time is a parameter (`now_ms`).

use std::sync::atomic::{AtomicI64, Ordering};

/// The window every limit is expressed in, in nanoseconds.
const WINDOW_NS: i64 = 60_000_000_000;
const NS_PER_MS: i64 = 1_000_000;

/// What a bucket looks like after a take (or a refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketState {
    pub limit: u64,
    /// Units that could be taken right now.
    pub remaining: u64,
    /// Milliseconds until the bucket is full again.
    pub reset_ms: i64,
}

/// Refused: the bucket would take this long to hold the units asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after_ms: i64,
    pub state: BucketState,
}

#[derive(Debug, Default)]
pub struct RateBucket {
    /// Nanoseconds since the Unix epoch.
    tat: AtomicI64,
}

fn interval(limit: u64) -> i64 {
    (WINDOW_NS / limit.max(1) as i64).max(1)
}

impl RateBucket {
    /// Takes `n` units of a bucket of `limit` per minute, or says how long until it could.
    pub fn try_take(&self, n: u64, limit: u64, now_ms: i64) -> Result<BucketState, Refused> {
        let step = interval(limit);
        let cost = step.saturating_mul(n as i64);
        let now = now_ms.saturating_mul(NS_PER_MS);
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let next = tat.max(now).saturating_add(cost);
            if next - now > WINDOW_NS {
                return Err(Refused {
                    retry_after_ms: ceil_ms(next - now - WINDOW_NS),
                    state: state_at(tat, now, step, limit),
                });
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(state_at(next, now, step, limit)),
                Err(actual) => tat = actual,
            }
        }
    }

    /// Corrects an earlier take by `delta` units (negative gives units back, positive takes
    /// more without checking: used to settle an estimate to what was really used).
    pub fn adjust(&self, delta: i64, limit: u64) {
        self.tat
            .fetch_add(interval(limit).saturating_mul(delta), Ordering::AcqRel);
    }

    pub fn state(&self, limit: u64, now_ms: i64) -> BucketState {
        state_at(
            self.tat.load(Ordering::Acquire),
            now_ms.saturating_mul(NS_PER_MS),
            interval(limit),
            limit,
        )
    }
}

fn state_at(tat: i64, now: i64, step: i64, limit: u64) -> BucketState {
    let backlog = (tat - now).clamp(0, WINDOW_NS);
    BucketState {
        limit,
        remaining: (((WINDOW_NS - backlog) / step) as u64).min(limit),
        reset_ms: ceil_ms(backlog),
    }
}

fn ceil_ms(ns: i64) -> i64 {
    (ns + NS_PER_MS - 1).div_euclid(NS_PER_MS)
}

/// OpenAI's way of writing a reset time: `250ms`, `1s`, `6m0s`.
pub fn format_reset(ms: i64) -> String {
    let mut text = Vec::new();
    write_reset(&mut text, ms);
    String::from_utf8(text).expect("digits and letters")
}

/// [`format_reset`] into `out`: OpenAI's `6m0s`, `12s` or `250ms`. Without `format!`: it is
/// written into every answer of a rate-limited key.
pub fn write_reset(out: &mut impl Extend<u8>, ms: i64) {
    let mut digits = itoa::Buffer::new();
    let mut put = |n: i64, unit: &[u8]| {
        out.extend(digits.format(n).bytes());
        out.extend(unit.iter().copied());
    };
    if ms < 1000 {
        return put(ms.max(0), b"ms");
    }
    let secs = (ms + 999) / 1000;
    if secs < 60 {
        put(secs, b"s");
    } else {
        put(secs / 60, b"m");
        put(secs % 60, b"s");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;

    #[test]
    fn a_burst_passes_exactly_the_limit() {
        for limit in [1, 7, 10, 60, 1000] {
            let bucket = RateBucket::default();
            let passed = (0..limit * 3)
                .filter(|_| bucket.try_take(1, limit, T0).is_ok())
                .count();
            assert_eq!(passed as u64, limit);
        }
    }

    #[test]
    fn refills_at_the_steady_rate() {
        let bucket = RateBucket::default();
        for _ in 0..60 {
            bucket.try_take(1, 60, T0).unwrap();
        }
        let refused = bucket.try_take(1, 60, T0).unwrap_err();
        assert_eq!(refused.retry_after_ms, 1000);
        assert_eq!(refused.state.remaining, 0);
        assert_eq!(refused.state.reset_ms, 60_000);
        assert!(bucket.try_take(1, 60, T0 + 999).is_err());
        let after = bucket.try_take(1, 60, T0 + 1000).unwrap();
        assert_eq!(after.remaining, 0);
        assert_eq!(bucket.state(60, T0 + 61_000).remaining, 60);
    }

    #[test]
    fn token_takes_and_settlements() {
        let bucket = RateBucket::default();
        let s = bucket.try_take(600, 1000, T0).unwrap();
        assert_eq!(s.remaining, 400);
        assert!(bucket.try_take(500, 1000, T0).is_err());
        // The call used 100 tokens, not the 600 reserved.
        bucket.adjust(-500, 1000);
        assert_eq!(bucket.state(1000, T0).remaining, 900);
        assert!(bucket.try_take(900, 1000, T0).is_ok());
    }

    #[test]
    fn concurrent_takes_never_exceed_the_limit() {
        let bucket = std::sync::Arc::new(RateBucket::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let b = bucket.clone();
                std::thread::spawn(move || {
                    (0..100).filter(|_| b.try_take(1, 50, T0).is_ok()).count()
                })
            })
            .collect();
        let passed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(passed, 50);
    }

    #[test]
    fn resets_are_written_like_openai() {
        assert_eq!(format_reset(250), "250ms");
        assert_eq!(format_reset(1000), "1s");
        assert_eq!(format_reset(1001), "2s");
        assert_eq!(format_reset(360_000), "6m0s");
    }
}
