//! Quota bookkeeping that depends on time: refill periods and the burn-rate forecast.

use std::collections::VecDeque;

use shared::keys::QuotaReset;

use super::ratelimit::days_from_civil;

const DAY_MS: i64 = 86_400_000;
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

/// Spending over the last hour, for a burn rate and an exhaustion forecast.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BurnMeter {
    spends: VecDeque<(i64, f64)>,
}

impl BurnMeter {
    pub fn record(&mut self, now_ms: i64, amount: f64) {
        if amount > 0.0 {
            self.spends.push_back((now_ms, amount));
        }
        while self
            .spends
            .front()
            .is_some_and(|(t, _)| now_ms - t > BURN_WINDOW_MS)
        {
            self.spends.pop_front();
        }
    }

    /// Units per hour over the window (from the first spend in it, at least a minute).
    pub fn per_hour(&self, now_ms: i64) -> Option<f64> {
        let recent = self
            .spends
            .iter()
            .filter(|(t, _)| now_ms - t <= BURN_WINDOW_MS);
        let (mut total, mut first) = (0.0, None);
        for (t, a) in recent {
            total += a;
            first.get_or_insert(*t);
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
}
