//! A USD budget in atomics, counted in nano-dollars. `committed` is what the period has spent
//! plus every reservation still in flight; a call reserves its estimated cost with one
//! compare-and-swap that refuses when `committed + estimate` would pass the limit, so however
//! many calls race, the reservations admitted never add up to more than the limit. When a call
//! ends its reservation becomes its real cost (or nothing, if it failed).
//!
//! The overshoot bound: the spend of a period can pass the limit only by what calls cost beyond
//! their estimate, summed over the calls in flight together. The estimate counts the whole output
//! allowance (`max_tokens`, else the model's output limit), so only a prompt longer in tokens than
//! its byte heuristic can add to it.

use std::sync::atomic::{AtomicI64, Ordering};

use shared::client_keys::BudgetPeriod;

pub const NANOS_PER_USD: f64 = 1e9;
const DAY_MS: i64 = 86_400_000;

pub fn usd_to_nanos(usd: f64) -> i64 {
    (usd * NANOS_PER_USD).round() as i64
}

pub fn nanos_to_usd(nanos: i64) -> f64 {
    nanos as f64 / NANOS_PER_USD
}

/// The start of the period holding `now_ms` (UTC), and the start of the next one.
pub fn period_bounds(period: BudgetPeriod, now_ms: i64) -> (i64, Option<i64>) {
    match period {
        BudgetPeriod::Total => (0, None),
        BudgetPeriod::Daily => {
            let start = now_ms.div_euclid(DAY_MS) * DAY_MS;
            (start, Some(start + DAY_MS))
        }
        BudgetPeriod::Monthly => {
            let (y, m, _) = civil_from_days(now_ms.div_euclid(DAY_MS));
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (
                days_from_civil(y, m, 1) * DAY_MS,
                Some(days_from_civil(ny, nm, 1) * DAY_MS),
            )
        }
    }
}

/// Howard Hinnant's `civil_from_days`: the (year, month, day) of a day number (days since
/// 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[derive(Debug, Default)]
pub struct Budget {
    /// Spent this period plus reservations in flight (nano-USD).
    committed: AtomicI64,
    /// Settled spend of this period (nano-USD).
    spent: AtomicI64,
    /// Start of the period `spent` counts (Unix ms; 0 for a total budget).
    period_start: AtomicI64,
}

impl Budget {
    /// A budget that already spent `spent` in the period starting at `period_start`.
    pub fn restored(spent: i64, period_start: i64) -> Self {
        Self {
            committed: AtomicI64::new(spent),
            spent: AtomicI64::new(spent),
            period_start: AtomicI64::new(period_start),
        }
    }

    /// Starts a new period if `now_ms` is past the current one: its spend is forgotten
    /// (reservations in flight stay committed, and count in the new period).
    pub fn roll(&self, period: BudgetPeriod, now_ms: i64) {
        let (start, _) = period_bounds(period, now_ms);
        let current = self.period_start.load(Ordering::Acquire);
        if current != start
            && self
                .period_start
                .compare_exchange(current, start, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let old = self.spent.swap(0, Ordering::AcqRel);
            self.committed.fetch_sub(old, Ordering::AcqRel);
        }
    }

    /// Reserves `amount` under `limit`, or refuses.
    pub fn try_reserve(&self, amount: i64, limit: i64) -> bool {
        let mut committed = self.committed.load(Ordering::Acquire);
        loop {
            if committed.saturating_add(amount) > limit {
                return false;
            }
            match self.committed.compare_exchange_weak(
                committed,
                committed + amount,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => committed = actual,
            }
        }
    }

    /// A call that reserved `reserved` cost `actual`.
    pub fn settle(&self, reserved: i64, actual: i64) {
        self.spent.fetch_add(actual, Ordering::AcqRel);
        self.committed
            .fetch_add(actual - reserved, Ordering::AcqRel);
    }

    /// Adopts the spend the instances sharing a database charged in the period starting at
    /// `period_start` (it includes this instance's own charges once written): the count here
    /// only grows, so a charge of this instance not yet written is not lost meanwhile.
    pub fn observe(&self, shared_spent: i64, period_start: i64) {
        if period_start != self.period_start.load(Ordering::Acquire) {
            return;
        }
        let mut spent = self.spent.load(Ordering::Acquire);
        while shared_spent > spent {
            match self.spent.compare_exchange_weak(
                spent,
                shared_spent,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    self.committed
                        .fetch_add(shared_spent - spent, Ordering::AcqRel);
                    return;
                }
                Err(actual) => spent = actual,
            }
        }
    }

    pub fn spent(&self) -> i64 {
        self.spent.load(Ordering::Acquire)
    }

    pub fn committed(&self) -> i64 {
        self.committed.load(Ordering::Acquire)
    }

    pub fn period_start(&self) -> i64 {
        self.period_start.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_spend_only_raises_the_count_of_the_same_period() {
        let budget = Budget::restored(100, 7);
        assert!(budget.try_reserve(50, 1_000));
        budget.observe(400, 7);
        assert_eq!((budget.spent(), budget.committed()), (400, 450));
        // Lower (this instance's own charge not yet written) or of another period: ignored.
        budget.observe(300, 7);
        budget.observe(900, 6);
        assert_eq!((budget.spent(), budget.committed()), (400, 450));
        assert!(!budget.try_reserve(600, 1_000), "the shared spend counts");
    }

    #[test]
    fn reservations_never_pass_the_limit_under_contention() {
        let budget = std::sync::Arc::new(Budget::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let b = budget.clone();
                std::thread::spawn(move || (0..100).filter(|_| b.try_reserve(7, 700)).count())
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(admitted, 100);
        assert_eq!(budget.committed(), 700);
    }

    #[test]
    fn settling_and_releasing() {
        let budget = Budget::default();
        assert!(budget.try_reserve(100, 250));
        assert!(budget.try_reserve(100, 250));
        assert!(!budget.try_reserve(100, 250));
        budget.settle(100, 30); // cheaper than estimated
        budget.settle(100, 0); // failed: released
        assert_eq!((budget.spent(), budget.committed()), (30, 30));
        assert!(budget.try_reserve(200, 250));
    }

    #[test]
    fn periods_roll_over_in_utc() {
        // 2026-12-04T10:00:00Z
        let now = 1_796_378_400_000;
        let (start, next) = period_bounds(BudgetPeriod::Daily, now);
        assert_eq!(start, 1_796_342_400_000);
        assert_eq!(next, Some(start + DAY_MS));
        let (start, next) = period_bounds(BudgetPeriod::Monthly, now);
        assert_eq!(start, 1_796_083_200_000); // 2026-12-01
        assert_eq!(next, Some(1_798_761_600_000)); // 2027-01-01
        assert_eq!(period_bounds(BudgetPeriod::Total, now), (0, None));

        let budget = Budget::restored(500, start);
        assert!(budget.try_reserve(100, 600));
        budget.roll(BudgetPeriod::Monthly, 1_798_761_600_000);
        // The spend is forgotten; the reservation in flight still counts.
        assert_eq!((budget.spent(), budget.committed()), (0, 100));
    }
}
