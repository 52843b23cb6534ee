//! Reloads driven by live events, at most once per interval: a burst of calls refreshes the
//! Overview's charts once, not once per call.

/// When the next reload may run, given the last one and the interval (all Unix ms):
/// `0` means now, otherwise the wait.
pub fn wait_before_reload(last_reload_ms: Option<i64>, now_ms: i64, min_interval_ms: i64) -> i64 {
    match last_reload_ms {
        None => 0,
        Some(last) => (last + min_interval_ms - now_ms).clamp(0, min_interval_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reload_is_immediate_then_spaced() {
        assert_eq!(wait_before_reload(None, 1_000, 5_000), 0);
        assert_eq!(wait_before_reload(Some(1_000), 2_000, 5_000), 4_000);
        assert_eq!(wait_before_reload(Some(1_000), 6_000, 5_000), 0);
        assert_eq!(wait_before_reload(Some(1_000), 60_000, 5_000), 0);
        // A clock that went backwards waits at most one interval.
        assert_eq!(wait_before_reload(Some(100_000), 1_000, 5_000), 5_000);
    }
}
