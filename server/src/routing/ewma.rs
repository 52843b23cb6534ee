//! Latency estimates: a moving average whose weights decay with time (as in linkerd's peak-EWMA),
//! so a burst of calls and a call an hour ago count as they should. Time is a parameter.

/// Time constant of the average: a sample this old weighs 1/e of a fresh one.
pub const DECAY_MS: f64 = 10_000.0;
/// The newest sample never weighs less than this (calls finishing together still count).
pub const MIN_WEIGHT: f64 = 0.05;
/// Without new samples the estimate fades (halves every this long), so a key once slow is tried
/// again eventually instead of being starved forever.
pub const FADE_HALF_LIFE_MS: f64 = 300_000.0;

/// A time-decayed average and when it last changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecayingAverage {
    pub value: f64,
    pub at_ms: i64,
}

impl DecayingAverage {
    pub fn first(sample: f64, now_ms: i64) -> Self {
        Self {
            value: sample,
            at_ms: now_ms,
        }
    }

    /// Folds in `sample` taken at `now_ms`.
    pub fn update(self, sample: f64, now_ms: i64) -> Self {
        let dt = (now_ms - self.at_ms).max(0) as f64;
        let weight = (1.0 - (-dt / DECAY_MS).exp()).max(MIN_WEIGHT);
        Self {
            value: self.value + weight * (sample - self.value),
            at_ms: now_ms.max(self.at_ms),
        }
    }

    /// The estimate as seen at `now_ms`, faded by the time since the last sample.
    pub fn at(&self, now_ms: i64) -> f64 {
        let idle = (now_ms - self.at_ms).max(0) as f64;
        self.value * 0.5f64.powf(idle / FADE_HALF_LIFE_MS)
    }
}

/// Folds `sample` into an optional average.
pub fn fold(previous: Option<DecayingAverage>, sample: f64, now_ms: i64) -> DecayingAverage {
    match previous {
        None => DecayingAverage::first(sample, now_ms),
        Some(avg) => avg.update(sample, now_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_samples_weigh_more_after_a_pause() {
        let a = DecayingAverage::first(100.0, 0);
        // Right after: the new sample barely moves it.
        let quick = a.update(200.0, 0);
        assert!((quick.value - 105.0).abs() < 1e-9);
        // After a long pause the new sample dominates.
        let later = a.update(200.0, 60_000);
        assert!(later.value > 199.0, "{}", later.value);
    }

    #[test]
    fn estimates_fade_without_samples() {
        let a = DecayingAverage::first(800.0, 0);
        assert_eq!(a.at(0), 800.0);
        assert!((a.at(FADE_HALF_LIFE_MS as i64) - 400.0).abs() < 1e-6);
    }
}
