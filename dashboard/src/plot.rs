//! Geometry of the hand-drawn SVG charts: the time range, the buckets (with gaps filled, since the
//! rollups only hold buckets that saw calls), a "nice" top of the y axis, and the bar and line
//! shapes in a `width × height` box whose y axis points down.

use shared::stats::TimePoint;

/// The ranges `GET /api/stats/timeseries?range=` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartRange {
    Hour,
    Day,
    Month,
}

impl ChartRange {
    pub const ALL: [ChartRange; 3] = [ChartRange::Hour, ChartRange::Day, ChartRange::Month];

    pub fn query(self) -> &'static str {
        match self {
            ChartRange::Hour => "hour",
            ChartRange::Day => "day",
            ChartRange::Month => "month",
        }
    }

    pub fn span_ms(self) -> i64 {
        match self {
            ChartRange::Hour => 3_600_000,
            ChartRange::Day => 86_400_000,
            ChartRange::Month => 30 * 86_400_000,
        }
    }

    /// Minutes for an hour, hours for a day, days for 30 days: what the server answers; only
    /// used until its answer (which names its `bucket_ms`) arrives.
    pub fn default_bucket_ms(self) -> i64 {
        match self {
            ChartRange::Hour => 60_000,
            ChartRange::Day => 3_600_000,
            ChartRange::Month => 86_400_000,
        }
    }
}

/// Every bucket of the range that ends with the bucket holding `now_ms`, oldest first; buckets
/// without a point are zero (their latency unknown). Points outside the range are ignored.
pub fn fill_buckets(
    points: &[TimePoint],
    range: ChartRange,
    bucket_ms: i64,
    now_ms: i64,
) -> Vec<TimePoint> {
    let bucket_ms = if bucket_ms > 0 {
        bucket_ms
    } else {
        range.default_bucket_ms()
    };
    let count = (range.span_ms() / bucket_ms).clamp(1, 10_000) as usize;
    let last = now_ms.div_euclid(bucket_ms) * bucket_ms;
    let first = last - (count as i64 - 1) * bucket_ms;
    let mut filled: Vec<TimePoint> = (0..count)
        .map(|i| TimePoint {
            t: first + i as i64 * bucket_ms,
            ..Default::default()
        })
        .collect();
    for p in points {
        let index = (p.t - first).div_euclid(bucket_ms);
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| filled.get_mut(i)) {
            let t = slot.t;
            *slot = TimePoint { t, ..p.clone() };
        }
    }
    filled
}

/// The smallest 1, 2, 2.5 or 5 × 10^k at or above `value` (1 for nothing to show).
pub fn nice_ceiling(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        let candidate = step * magnitude;
        if candidate >= value * (1.0 - 1e-12) {
            return candidate;
        }
    }
    10.0 * magnitude
}

/// A bar's rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// One bar per value, side by side across the width, scaled so that `max` fills the height.
/// Zero values get no height (but keep their slot).
pub fn bars(values: &[f64], max: f64, width: f64, height: f64) -> Vec<Bar> {
    if values.is_empty() {
        return Vec::new();
    }
    let slot = width / values.len() as f64;
    let gap = if slot > 3.0 { slot * 0.2 } else { 0.0 };
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let h = scaled(*v, max, height);
            Bar {
                x: round2(i as f64 * slot + gap / 2.0),
                y: round2(height - h),
                width: round2(slot - gap),
                height: round2(h),
            }
        })
        .collect()
}

/// An SVG path through the values at the centres of their slots; `None` breaks the line. A point
/// with no neighbour becomes a zero-length segment, which a round line cap draws as a dot.
pub fn line_path(values: &[Option<f64>], max: f64, width: f64, height: f64) -> String {
    if values.is_empty() {
        return String::new();
    }
    let slot = width / values.len() as f64;
    let point = |i: usize| -> Option<(f64, f64)> {
        match values.get(i).copied().flatten() {
            Some(v) if v.is_finite() => Some((
                round2(i as f64 * slot + slot / 2.0),
                round2(height - scaled(v, max, height)),
            )),
            _ => None,
        }
    };
    let mut parts: Vec<String> = Vec::new();
    for i in 0..values.len() {
        let Some((x, y)) = point(i) else { continue };
        let starts_run = i == 0 || point(i - 1).is_none();
        if starts_run {
            parts.push(format!("M{x} {y}"));
            if point(i + 1).is_none() {
                parts.push("h0".to_owned());
            }
        } else {
            parts.push(format!("L{x} {y}"));
        }
    }
    parts.join(" ")
}

fn scaled(value: f64, max: f64, height: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 || max <= 0.0 {
        return 0.0;
    }
    (value / max).min(1.0) * height
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: i64, calls: i64) -> TimePoint {
        TimePoint {
            t,
            calls,
            ..Default::default()
        }
    }

    #[test]
    fn buckets_cover_the_range_and_fill_gaps() {
        let now = 10 * 3_600_000 + 30 * 60_000 + 5_000; // 10:30:05
        let points = [
            point(10 * 3_600_000 + 30 * 60_000, 7),
            point(10 * 3_600_000 - 60_000, 2),
            point(0, 99),
        ];
        let filled = fill_buckets(&points, ChartRange::Hour, 60_000, now);
        assert_eq!(filled.len(), 60);
        assert_eq!(filled.last().unwrap().t, 10 * 3_600_000 + 30 * 60_000);
        assert_eq!(filled.first().unwrap().t, 9 * 3_600_000 + 31 * 60_000);
        assert_eq!(filled.last().unwrap().calls, 7);
        assert_eq!(filled[59 - 31].calls, 2);
        assert_eq!(
            filled.iter().map(|p| p.calls).sum::<i64>(),
            9,
            "the old point is outside"
        );
    }

    #[test]
    fn the_bucket_count_follows_the_servers_bucket_size() {
        assert_eq!(
            fill_buckets(&[], ChartRange::Month, 86_400_000, 0).len(),
            30
        );
        assert_eq!(
            fill_buckets(&[], ChartRange::Month, 3_600_000, 0).len(),
            720
        );
        assert_eq!(
            fill_buckets(&[], ChartRange::Day, 0, 0).len(),
            24,
            "a bad size falls back"
        );
        assert_eq!(fill_buckets(&[], ChartRange::Month, 0, 0).len(), 30);
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(1.1), 2.0);
        assert_eq!(nice_ceiling(2.2), 2.5);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(730.0), 1000.0);
        assert_eq!(nice_ceiling(0.0042), 0.005);
    }

    #[test]
    fn bars_share_the_width_and_scale_to_the_height() {
        let b = bars(&[0.0, 5.0, 10.0, 20.0], 10.0, 100.0, 50.0);
        assert_eq!(b.len(), 4);
        assert_eq!(b[0].height, 0.0);
        assert_eq!(
            b[1],
            Bar {
                x: 27.5,
                y: 25.0,
                width: 20.0,
                height: 25.0
            }
        );
        assert_eq!(b[2].height, 50.0);
        assert_eq!(b[3].height, 50.0, "clipped at the top");
        assert!(bars(&[], 1.0, 100.0, 50.0).is_empty());
    }

    #[test]
    fn lines_break_at_unknown_values() {
        let d = line_path(&[Some(0.0), Some(10.0), None, Some(5.0)], 10.0, 40.0, 10.0);
        assert_eq!(d, "M5 10 L15 0 M35 5 h0");
        assert_eq!(line_path(&[None, None], 1.0, 10.0, 10.0), "");
    }
}
