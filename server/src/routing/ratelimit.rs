//! Rate-limit headers, read on every upstream response so a key is steered away from before it
//! runs dry: OpenAI's and Azure's `x-ratelimit-*`, Anthropic's `anthropic-ratelimit-*`, and
//! `Retry-After` / `retry-after-ms` on 429s. Pure: header values and `now` in, numbers out.

/// What the upstream said about the key's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimitInfo {
    pub requests_limit: Option<f64>,
    pub requests_remaining: Option<f64>,
    pub tokens_limit: Option<f64>,
    pub tokens_remaining: Option<f64>,
    /// When the exhausted window resets (Unix ms), if something is exhausted.
    pub reset_at_ms: Option<i64>,
}

impl RateLimitInfo {
    /// Nothing left until `reset_at_ms`.
    pub fn exhausted_until(&self) -> Option<i64> {
        let dry = self.requests_remaining.is_some_and(|r| r <= 0.0)
            || self.tokens_remaining.is_some_and(|t| t <= 0.0);
        if dry {
            self.reset_at_ms
        } else {
            None
        }
    }

    /// Fraction of the window left, 0..=1 (1 when unknown).
    pub fn headroom(&self) -> f64 {
        let frac = |rem: Option<f64>, lim: Option<f64>| match (rem, lim) {
            (Some(r), Some(l)) if l > 0.0 => (r / l).clamp(0.0, 1.0),
            _ => 1.0,
        };
        frac(self.requests_remaining, self.requests_limit)
            .min(frac(self.tokens_remaining, self.tokens_limit))
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Whether [`read_headers`] or [`retry_at`] reads this (lowercase) header: lets a caller pick
/// them out of a response in one pass instead of looking each name up.
pub fn is_rate_limit_header(name: &str) -> bool {
    name.starts_with("x-ratelimit-")
        || name.starts_with("anthropic-ratelimit-")
        || name == "retry-after"
        || name == "retry-after-ms"
}

/// Reads the rate-limit headers through `get` (case-insensitive header lookup).
pub fn read_headers<'a>(get: impl Fn(&str) -> Option<&'a str>, now_ms: i64) -> RateLimitInfo {
    let num = |name: &str| get(name).and_then(|v| v.trim().parse::<f64>().ok());
    let mut info = RateLimitInfo {
        requests_limit: num("x-ratelimit-limit-requests")
            .or_else(|| num("anthropic-ratelimit-requests-limit")),
        requests_remaining: num("x-ratelimit-remaining-requests")
            .or_else(|| num("anthropic-ratelimit-requests-remaining")),
        tokens_limit: num("x-ratelimit-limit-tokens")
            .or_else(|| num("anthropic-ratelimit-tokens-limit")),
        tokens_remaining: num("x-ratelimit-remaining-tokens")
            .or_else(|| num("anthropic-ratelimit-tokens-remaining")),
        reset_at_ms: None,
    };
    let reset = |openai: &str, anthropic: &str| {
        get(openai)
            .and_then(parse_duration_ms)
            .map(|d| now_ms + d)
            .or_else(|| get(anthropic).and_then(parse_rfc3339_ms))
    };
    let requests_reset = reset(
        "x-ratelimit-reset-requests",
        "anthropic-ratelimit-requests-reset",
    );
    let tokens_reset = reset(
        "x-ratelimit-reset-tokens",
        "anthropic-ratelimit-tokens-reset",
    );
    let requests_dry = info.requests_remaining.is_some_and(|r| r <= 0.0);
    let tokens_dry = info.tokens_remaining.is_some_and(|t| t <= 0.0);
    info.reset_at_ms = match (requests_dry, tokens_dry) {
        (true, true) => requests_reset.max(tokens_reset),
        (true, false) => requests_reset,
        (false, true) => tokens_reset,
        (false, false) => None,
    };
    info
}

/// When a 429 says to come back (Unix ms): `retry-after-ms`, `Retry-After` (seconds or an HTTP
/// date), or the rate-limit reset headers.
pub fn retry_at<'a>(get: impl Fn(&str) -> Option<&'a str> + Copy, now_ms: i64) -> Option<i64> {
    retry_after(get, now_ms).or_else(|| read_headers(get, now_ms).reset_at_ms)
}

/// When the upstream explicitly said to come back (Unix ms): `retry-after-ms`, or `Retry-After`
/// in seconds or as an HTTP date. Unlike [`retry_at`], not the rate-limit reset headers, which
/// OpenAI sends on every answer and which say nothing about a 5xx.
pub fn retry_after<'a>(get: impl Fn(&str) -> Option<&'a str>, now_ms: i64) -> Option<i64> {
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(now_ms + ms.max(0.0) as i64);
    }
    let value = get("retry-after")?;
    if let Ok(secs) = value.trim().parse::<f64>() {
        return Some(now_ms + (secs.max(0.0) * 1000.0) as i64);
    }
    parse_http_date_ms(value)
}

/// OpenAI's reset durations: `1s`, `6m0s`, `20ms`, `1h2m3.5s`.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = 0.0;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number.parse().ok()?;
        number.clear();
        let unit_ms = match c {
            'h' => 3_600_000.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1.0
            }
            'm' => 60_000.0,
            's' => 1_000.0,
            _ => return None,
        };
        total += value * unit_ms;
    }
    if !number.is_empty() {
        // A bare number is seconds.
        total += number.parse::<f64>().ok()? * 1000.0;
    }
    Some(total.round() as i64)
}

/// `2025-01-01T12:00:30Z` (UTC, optional fraction) -> Unix ms.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let t = text
        .trim()
        .strip_suffix('Z')
        .or_else(|| text.trim().strip_suffix("+00:00"))?;
    let (date, time) = t.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let mut tm = time.split(':');
    let h: i64 = tm.next()?.parse().ok()?;
    let mi: i64 = tm.next()?.parse().ok()?;
    let s: f64 = tm.next()?.parse().ok()?;
    Some(
        days_from_civil(y, mo, da) * 86_400_000 + h * 3_600_000 + mi * 60_000 + (s * 1000.0) as i64,
    )
}

/// `Wed, 21 Oct 2015 07:28:00 GMT` -> Unix ms.
fn parse_http_date_ms(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() != 6 {
        return None;
    }
    let day: i64 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])? as i64
        + 1;
    let year: i64 = parts[3].parse().ok()?;
    parse_rfc3339_ms(&format!("{year:04}-{month:02}-{day:02}T{}Z", parts[4]))
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn openai_headers() {
        let h = headers(&[
            ("x-ratelimit-limit-requests", "500"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-remaining-tokens", "1200"),
            ("x-ratelimit-limit-tokens", "30000"),
            ("x-ratelimit-reset-requests", "6m0s"),
        ]);
        let info = read_headers(|k| h.get(k).map(String::as_str), 1_000);
        assert_eq!(info.requests_remaining, Some(0.0));
        assert_eq!(info.exhausted_until(), Some(1_000 + 360_000));
        assert!((info.headroom() - 0.0).abs() < 1e-9);
    }

    #[test]
    fn anthropic_headers() {
        let h = headers(&[
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "25"),
            ("anthropic-ratelimit-tokens-remaining", "0"),
            ("anthropic-ratelimit-tokens-reset", "2025-01-01T00:01:00Z"),
        ]);
        let info = read_headers(|k| h.get(k).map(String::as_str), 0);
        assert_eq!(
            info.exhausted_until(),
            Some(parse_rfc3339_ms("2025-01-01T00:01:00Z").unwrap())
        );
        assert!((info.headroom() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn retry_after_forms() {
        let h = headers(&[("retry-after-ms", "1500")]);
        assert_eq!(retry_at(|k| h.get(k).map(String::as_str), 10), Some(1_510));
        let h = headers(&[("retry-after", "2")]);
        assert_eq!(retry_at(|k| h.get(k).map(String::as_str), 10), Some(2_010));
        let h = headers(&[("retry-after", "Thu, 01 Jan 1970 00:00:05 GMT")]);
        assert_eq!(retry_at(|k| h.get(k).map(String::as_str), 0), Some(5_000));
        let h = headers(&[]);
        assert_eq!(retry_at(|k| h.get(k).map(String::as_str), 0), None);
        // A reset header is a 429's recovery time, not an explicit "come back then".
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "2s"),
        ]);
        assert_eq!(retry_at(|k| h.get(k).map(String::as_str), 0), Some(2_000));
        assert_eq!(retry_after(|k| h.get(k).map(String::as_str), 0), None);
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(
            retry_after(|k| h.get(k).map(String::as_str), 0),
            Some(7_000)
        );
    }

    #[test]
    fn durations_and_dates() {
        assert_eq!(parse_duration_ms("1s"), Some(1_000));
        assert_eq!(parse_duration_ms("20ms"), Some(20));
        assert_eq!(parse_duration_ms("1h2m3.5s"), Some(3_723_500));
        assert_eq!(parse_duration_ms("7"), Some(7_000));
        assert_eq!(parse_duration_ms("soon"), None);
        assert_eq!(parse_rfc3339_ms("1970-01-02T00:00:00Z"), Some(86_400_000));
        assert_eq!(
            parse_rfc3339_ms("2000-03-01T00:00:00.5Z"),
            Some(951_868_800_500)
        );
    }
}
