//! What one driver thread measured, mergeable across threads, and its JSON summary. Latencies are
//! recorded in nanoseconds (3 significant digits) and reported in milliseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency the histograms hold; longer ones are clamped (and show as this max).
const MAX_NANOS: u64 = 600 * 1_000_000_000;

pub struct Stats {
    /// Whole exchange: request written to last body byte.
    pub latency: Histogram<u64>,
    /// Request written to first body byte (streams).
    pub ttfc: Histogram<u64>,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub bytes: u64,
    pub events: u64,
}

impl Default for Stats {
    fn default() -> Self {
        let histogram = || Histogram::new_with_bounds(1, MAX_NANOS, 3).expect("valid bounds");
        Self {
            latency: histogram(),
            ttfc: histogram(),
            ok: 0,
            errors: BTreeMap::new(),
            bytes: 0,
            events: 0,
        }
    }
}

fn nanos(d: Duration) -> u64 {
    (d.as_nanos() as u64).clamp(1, MAX_NANOS)
}

impl Stats {
    pub fn record_latency(&mut self, d: Duration) {
        self.latency.saturating_record(nanos(d));
    }

    pub fn record_ttfc(&mut self, d: Duration) {
        self.ttfc.saturating_record(nanos(d));
    }

    pub fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }

    pub fn merge(&mut self, other: Stats) {
        self.latency.add(&other.latency).expect("same bounds");
        self.ttfc.add(&other.ttfc).expect("same bounds");
        self.ok += other.ok;
        self.bytes += other.bytes;
        self.events += other.events;
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        let ms = |ns: u64| (ns as f64 / 1e6 * 1000.0).round() / 1000.0;
        Some(Self {
            count: h.len(),
            mean: (h.mean() / 1e6 * 1000.0).round() / 1000.0,
            min: ms(h.min()),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        })
    }
}
