//! Exponentially weighted moving average of latency.

/// Weight of the newest sample.
pub const LATENCY_ALPHA: f64 = 0.3;

/// Folds `sample` into `previous`; the first sample is taken as is.
pub fn update(previous: Option<f64>, sample: f64, alpha: f64) -> f64 {
    match previous {
        None => sample,
        Some(prev) => prev + alpha * (sample - prev),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_then_smoothing() {
        let a = update(None, 100.0, 0.5);
        assert_eq!(a, 100.0);
        let b = update(Some(a), 200.0, 0.5);
        assert_eq!(b, 150.0);
    }
}
