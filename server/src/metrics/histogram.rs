//! A small log-scale latency histogram: 4 buckets per doubling (about 19% wide), 80 buckets up to
//! about 18 minutes. Mergeable, so per-minute rollups add up to hours and days, and percentiles
//! come out within a bucket's width without keeping every sample.

pub const BUCKETS: usize = 80;
const PER_DOUBLING: f64 = 4.0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: [u32; BUCKETS],
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: [0; BUCKETS],
        }
    }
}

fn bucket(ms: i64) -> usize {
    let x = ((ms.max(0) as f64) + 1.0).log2() * PER_DOUBLING;
    (x as usize).min(BUCKETS - 1)
}

/// The largest latency (ms) that falls in bucket `i`.
fn upper_bound(i: usize) -> i64 {
    (2f64.powf((i as f64 + 1.0) / PER_DOUBLING) - 1.0)
        .floor()
        .max(0.0) as i64
}

impl LatencyHistogram {
    pub fn record(&mut self, ms: i64) {
        let b = bucket(ms);
        self.counts[b] = self.counts[b].saturating_add(1);
    }

    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| u64::from(*c)).sum()
    }

    /// Nearest-rank percentile (`p` in 0..=1), reported as its bucket's upper bound.
    pub fn percentile(&self, p: f64) -> Option<i64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((p.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                return Some(upper_bound(i));
            }
        }
        None
    }

    /// Little-endian u32 counts, trailing zeros trimmed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let used = self
            .counts
            .iter()
            .rposition(|c| *c > 0)
            .map_or(0, |i| i + 1);
        self.counts[..used]
            .iter()
            .flat_map(|c| c.to_le_bytes())
            .collect()
    }

    /// Reads [`Self::to_bytes`]; anything malformed reads as far as it makes sense.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut h = Self::default();
        for (i, chunk) in bytes.chunks_exact(4).take(BUCKETS).enumerate() {
            h.counts[i] = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_a_bucket() {
        let mut h = LatencyHistogram::default();
        for ms in 1..=100 {
            h.record(ms);
        }
        let p50 = h.percentile(0.5).unwrap();
        let p95 = h.percentile(0.95).unwrap();
        assert!((50..=60).contains(&p50), "{p50}");
        assert!((95..=115).contains(&p95), "{p95}");
        assert_eq!(LatencyHistogram::default().percentile(0.5), None);
    }

    #[test]
    fn merges_and_round_trips() {
        let mut a = LatencyHistogram::default();
        a.record(5);
        let mut b = LatencyHistogram::default();
        b.record(5000);
        a.merge(&b);
        assert_eq!(a.count(), 2);
        let back = LatencyHistogram::from_bytes(&a.to_bytes());
        assert_eq!(back, a);
        assert_eq!(
            LatencyHistogram::from_bytes(b"xyz"),
            LatencyHistogram::default()
        );
        assert_eq!(bucket(i64::MAX), BUCKETS - 1);
    }
}
