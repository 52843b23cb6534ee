//! Reconnect delays for the live feed: exponential from 0.5 s, capped at 10 s, with "equal
//! jitter" (half fixed, half random) so that many dashboards do not reconnect in lock-step after
//! a server restart. The random part is a parameter, so the schedule is testable.

/// The first retry waits about this long.
pub const BASE_DELAY_MS: u32 = 500;
/// No retry waits longer than this.
pub const MAX_DELAY_MS: u32 = 10_000;

/// The delay before reconnect attempt number `attempt` (0 for the first retry).
/// `jitter` is a random number in `0.0..1.0`; the delay lies in `[cap / 2, cap]`, where `cap`
/// doubles from [`BASE_DELAY_MS`] with each attempt up to [`MAX_DELAY_MS`].
pub fn delay_ms(attempt: u32, jitter: f64) -> u32 {
    let cap = BASE_DELAY_MS
        .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .min(MAX_DELAY_MS);
    let half = cap / 2;
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    half + (f64::from(cap - half) * jitter).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_half_a_second_up_to_ten_seconds() {
        assert_eq!(delay_ms(0, 1.0), 500);
        assert_eq!(delay_ms(1, 1.0), 1_000);
        assert_eq!(delay_ms(2, 1.0), 2_000);
        assert_eq!(delay_ms(4, 1.0), 8_000);
        assert_eq!(delay_ms(5, 1.0), 10_000);
        assert_eq!(delay_ms(40, 1.0), 10_000);
        assert_eq!(delay_ms(u32::MAX, 1.0), 10_000);
    }

    #[test]
    fn jitter_keeps_at_least_half_of_the_cap() {
        assert_eq!(delay_ms(0, 0.0), 250);
        assert_eq!(delay_ms(3, 0.0), 2_000);
        assert_eq!(delay_ms(9, 0.5), 7_500);
        for attempt in 0..12 {
            for jitter in [0.0, 0.1, 0.5, 0.99, 1.0] {
                let d = delay_ms(attempt, jitter);
                assert!((250..=10_000).contains(&d), "{attempt} {jitter} -> {d}");
            }
        }
    }

    #[test]
    fn odd_jitter_values_are_tamed() {
        assert_eq!(delay_ms(0, f64::NAN), 250);
        assert_eq!(delay_ms(0, -3.0), 250);
        assert_eq!(delay_ms(0, 7.0), 500);
    }
}
