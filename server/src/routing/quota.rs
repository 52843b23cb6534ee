//! Quota bookkeeping that depends on time: refill periods and the burn-rate forecast.

use std::collections::VecDeque;

use shared::keys::QuotaReset;

use super::ratelimit::days_from_civil;

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;
/// The burn rate looks this far back.
pub const BURN_WINDOW_MS: i64 = 3_600_000;

/// The first refill strictly after `now_ms` (UTC midnights).
pub fn next_reset(period: QuotaReset, now_ms: i64) -> i64 {
    let today = now_ms.div_euclid(DAY_MS);
    match period {
        QuotaReset::Daily => (today + 1) * DAY_MS,
        QuotaReset::Monthly => {
            let (y, m, _) = civil_from_days(today);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            days_from_civil(ny, nm, 1) * DAY_MS
        }
    }
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// One minute's spending: when its first spend came, and the total.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MinuteSpend {
    minute: i64,
    first_at: i64,
    total: f64,
}

/// Spending over the last hour, for a burn rate and an exhaustion forecast. Kept per minute, so it
/// holds at most 61 entries however many calls a key serves (one entry per call grew by hundreds
/// of MB an hour under load: found by the soak run).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BurnMeter {
    minutes: VecDeque<MinuteSpend>,
}

impl BurnMeter {
    pub fn record(&mut self, now_ms: i64, amount: f64) {
        if amount > 0.0 {
            let minute = now_ms.div_euclid(MINUTE_MS);
            match self.minutes.back_mut() {
                Some(last) if last.minute == minute => last.total += amount,
                _ => self.minutes.push_back(MinuteSpend {
                    minute,
                    first_at: now_ms,
                    total: amount,
                }),
            }
        }
        while self
            .minutes
            .front()
            .is_some_and(|m| now_ms - m.first_at > BURN_WINDOW_MS)
        {
            self.minutes.pop_front();
        }
    }

    /// Units per hour over the window (from the first spend in it, at least a minute).
    pub fn per_hour(&self, now_ms: i64) -> Option<f64> {
        let recent = self
            .minutes
            .iter()
            .filter(|m| now_ms - m.first_at <= BURN_WINDOW_MS);
        let (mut total, mut first) = (0.0, None);
        for m in recent {
            total += m.total;
            first.get_or_insert(m.first_at);
        }
        let span = (now_ms - first?).clamp(60_000, BURN_WINDOW_MS) as f64;
        Some(total * 3_600_000.0 / span)
    }

    /// When `remaining` runs out at the current rate.
    pub fn exhausted_at(&self, remaining: f64, now_ms: i64) -> Option<i64> {
        let rate = self.per_hour(now_ms).filter(|r| *r > 0.0)?;
        Some(now_ms + (remaining.max(0.0) / rate * 3_600_000.0) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::ratelimit::parse_rfc3339_ms;

    #[test]
    fn resets_fall_on_utc_midnights() {
        let now = parse_rfc3339_ms("2026-11-28T15:30:00Z").unwrap();
        assert_eq!(
            next_reset(QuotaReset::Daily, now),
            parse_rfc3339_ms("2026-11-29T00:00:00Z").unwrap()
        );
        assert_eq!(
            next_reset(QuotaReset::Monthly, now),
            parse_rfc3339_ms("2026-12-01T00:00:00Z").unwrap()
        );
        let dec = parse_rfc3339_ms("2026-12-31T23:59:59Z").unwrap();
        assert_eq!(
            next_reset(QuotaReset::Monthly, dec),
            parse_rfc3339_ms("2027-01-01T00:00:00Z").unwrap()
        );
        let midnight = parse_rfc3339_ms("2026-11-29T00:00:00Z").unwrap();
        assert_eq!(
            next_reset(QuotaReset::Daily, midnight),
            midnight + DAY_MS,
            "strictly after now"
        );
    }

    #[test]
    fn burn_rate_and_forecast() {
        let mut m = BurnMeter::default();
        assert_eq!(m.per_hour(0), None);
        // 10 units over 30 minutes: 20 per hour.
        m.record(0, 5.0);
        m.record(1_800_000, 5.0);
        let rate = m.per_hour(1_800_000).unwrap();
        assert!((rate - 20.0).abs() < 1e-9, "{rate}");
        assert_eq!(
            m.exhausted_at(40.0, 1_800_000),
            Some(1_800_000 + 2 * 3_600_000)
        );
        // Spends older than the window drop out.
        m.record(6_000_000, 0.0);
        assert_eq!(m.per_hour(6_000_000), None);
    }

    #[test]
    fn a_busy_hour_is_held_in_at_most_61_entries() {
        let mut m = BurnMeter::default();
        // One spend every 10 ms for two hours.
        for t in (0..7_200_000).step_by(10) {
            m.record(t, 1.0);
        }
        assert!(m.minutes.len() <= 61, "{}", m.minutes.len());
        let rate = m.per_hour(7_200_000).unwrap();
        assert!((rate - 360_000.0).abs() / 360_000.0 < 0.02, "{rate}");
    }
}
