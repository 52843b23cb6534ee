//! How numbers, money, tokens, durations and times read on screen. Pure functions: the clock and
//! the time zone are parameters (`now_ms`, `offset_minutes` east of UTC), never read here.

use crate::i18n::Lang;

/// Shown where a value is unknown (no calls yet, no latency measured).
pub const DASH: &str = "—";

/// USD with as many decimals as make the amount readable: two significant digits below a cent
/// (`$0.0042`, `$0.000013`), cents above (`$12.34`, `$1,234.56`).
pub fn money(usd: f64) -> String {
    if !usd.is_finite() {
        return DASH.to_owned();
    }
    let sign = if usd < 0.0 { "-" } else { "" };
    let abs = usd.abs();
    if abs == 0.0 {
        return "$0".to_owned();
    }
    if abs < 1e-8 {
        return format!("{sign}<$0.00000001");
    }
    if abs < 0.01 {
        // Two significant digits: 0.0042 has its first digit at the 3rd decimal.
        let decimals = ((-abs.log10()).floor() as usize + 2).min(9);
        return format!("{sign}${}", trim_zeros(&format!("{abs:.decimals$}")));
    }
    let cents = (abs * 100.0).round() as u64;
    format!("{sign}${}.{:02}", grouped(cents / 100), cents % 100)
}

/// An axis or peak value: short like [`tokens`], with one decimal below 10 (`2.5`, `12`, `1.2K`).
pub fn compact(value: f64) -> String {
    if !value.is_finite() {
        return DASH.to_owned();
    }
    if value.abs() < 10.0 {
        trim_zeros(&format!("{value:.1}"))
    } else {
        tokens(value.round() as i64)
    }
}

/// Token counts, short: `999`, `12.3K`, `4.5M`, `1.2B`.
pub fn tokens(n: i64) -> String {
    let abs = n.unsigned_abs() as f64;
    let sign = if n < 0 { "-" } else { "" };
    let (value, unit) = if abs < 1_000.0 {
        return n.to_string();
    } else if abs < 1_000_000.0 {
        (abs / 1_000.0, "K")
    } else if abs < 1_000_000_000.0 {
        (abs / 1_000_000.0, "M")
    } else {
        (abs / 1_000_000_000.0, "B")
    };
    let digits = if value < 100.0 { 1 } else { 0 };
    format!("{sign}{}{unit}", trim_zeros(&format!("{value:.digits$}")))
}

/// Whole numbers with thousands separators: `1,234,567`.
pub fn count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", grouped(n.unsigned_abs()))
}

/// A quantity in a key's quota unit, e.g. `1,200` requests or `$3.50`.
pub fn quantity(value: f64, usd: bool) -> String {
    if usd {
        money(value)
    } else if value.fract() == 0.0 && value.abs() < 9.0e15 {
        count(value as i64)
    } else {
        trim_zeros(&format!("{value:.2}"))
    }
}

/// A share in `0..=1` as a percentage: `99.5%`, `100%`.
pub fn percent(share: f64) -> String {
    if !share.is_finite() {
        return DASH.to_owned();
    }
    format!("{}%", trim_zeros(&format!("{:.1}", share * 100.0)))
}

/// Requests per second: two decimals below 10, one above.
pub fn rate(per_second: f64) -> String {
    if !per_second.is_finite() {
        return DASH.to_owned();
    }
    if per_second < 10.0 {
        format!("{per_second:.2}")
    } else {
        format!("{per_second:.1}")
    }
}

/// A duration: `87 ms`, `1.25 s`, `3m 05s`, `2h 03m`, `3d 4h`.
pub fn duration_ms(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1_000 {
        return format!("{sign}{ms} ms");
    }
    if ms < 60_000 {
        let s = ms as f64 / 1_000.0;
        let digits = if s < 10.0 { 2 } else { 1 };
        return format!("{sign}{} s", trim_zeros(&format!("{s:.digits$}")));
    }
    let secs = ms / 1_000;
    if secs < 3_600 {
        return format!("{sign}{}m {:02}s", secs / 60, secs % 60);
    }
    if secs < 86_400 {
        return format!("{sign}{}h {:02}m", secs / 3_600, (secs % 3_600) / 60);
    }
    format!("{sign}{}d {}h", secs / 86_400, (secs % 86_400) / 3_600)
}

/// A latency that may be unknown.
pub fn latency(ms: Option<i64>) -> String {
    ms.map_or_else(|| DASH.to_owned(), duration_ms)
}

/// A latency average (fractional milliseconds) that may be unknown.
pub fn latency_f(ms: Option<f64>) -> String {
    match ms {
        Some(ms) if ms.is_finite() => duration_ms(ms.round() as i64),
        _ => DASH.to_owned(),
    }
}

/// Date and time to the second in the viewer's zone: `2026-11-28 16:33:05`.
pub fn timestamp(unix_ms: i64, offset_minutes: i32) -> String {
    let t = Civil::at(unix_ms, offset_minutes);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Time of day: `16:33`.
pub fn clock(unix_ms: i64, offset_minutes: i32) -> String {
    let t = Civil::at(unix_ms, offset_minutes);
    format!("{:02}:{:02}", t.hour, t.minute)
}

/// Month and day: `11-28`.
pub fn month_day(unix_ms: i64, offset_minutes: i32) -> String {
    let t = Civil::at(unix_ms, offset_minutes);
    format!("{:02}-{:02}", t.month, t.day)
}

/// `in 3m 05s` / `3m 05s ago` (Chinese: `3m 05s后` / `3m 05s前`), to the second.
pub fn relative(target_ms: i64, now_ms: i64, lang: Lang) -> String {
    let delta = target_ms - now_ms;
    let span = duration_ms((delta.abs() / 1_000) * 1_000);
    match (lang, delta >= 0) {
        (Lang::En, true) => format!("in {span}"),
        (Lang::En, false) => format!("{span} ago"),
        (Lang::Zh, true) => format!("{span}后"),
        (Lang::Zh, false) => format!("{span}前"),
    }
}

/// The value of an `<input type="datetime-local">` for a time: `2026-11-28T16:33`.
pub fn datetime_local(unix_ms: i64, offset_minutes: i32) -> String {
    let t = Civil::at(unix_ms, offset_minutes);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

/// Parses an `<input type="datetime-local">` value (`2026-11-28T16:33`, seconds optional) in the
/// viewer's zone back to Unix milliseconds.
pub fn parse_datetime_local(value: &str, offset_minutes: i32) -> Option<i64> {
    let (date, time) = value.trim().split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<f64>().ok());
    let (hour, minute) = (t.next()??, t.next()??);
    let second = t.next().flatten().unwrap_or(0.0);
    if d.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if !(0.0..24.0).contains(&hour)
        || !(0.0..60.0).contains(&minute)
        || !(0.0..61.0).contains(&second)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local_ms = days * 86_400_000
        + (hour as i64) * 3_600_000
        + (minute as i64) * 60_000
        + (second * 1_000.0).round() as i64;
    Some(local_ms - i64::from(offset_minutes) * 60_000)
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<String> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect();
    groups.join(",")
}

/// A calendar date and time of day.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

impl Civil {
    fn at(unix_ms: i64, offset_minutes: i32) -> Civil {
        let local = unix_ms + i64::from(offset_minutes) * 60_000;
        let days = local.div_euclid(86_400_000);
        let secs = local.rem_euclid(86_400_000) / 1_000;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: secs / 3_600,
            minute: (secs % 3_600) / 60,
            second: secs % 60,
        }
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_well_at_every_scale() {
        assert_eq!(money(0.0), "$0");
        assert_eq!(money(0.00004), "$0.00004");
        assert_eq!(money(0.0000129), "$0.000013");
        assert_eq!(money(0.0042), "$0.0042");
        assert_eq!(money(0.00999), "$0.01");
        assert_eq!(money(0.005), "$0.005");
        assert_eq!(money(1e-9), "<$0.00000001");
        assert_eq!(money(0.01), "$0.01");
        assert_eq!(money(12.345), "$12.35");
        assert_eq!(money(1_234.5), "$1,234.50");
        assert_eq!(money(-3.0), "-$3.00");
        assert_eq!(money(f64::NAN), DASH);
    }

    #[test]
    fn compact_axis_values() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(2.5), "2.5");
        assert_eq!(compact(5.0), "5");
        assert_eq!(compact(12.4), "12");
        assert_eq!(compact(2_500.0), "2.5K");
    }

    #[test]
    fn tokens_are_short() {
        assert_eq!(tokens(0), "0");
        assert_eq!(tokens(999), "999");
        assert_eq!(tokens(1_000), "1K");
        assert_eq!(tokens(12_345), "12.3K");
        assert_eq!(tokens(123_456), "123K");
        assert_eq!(tokens(4_500_000), "4.5M");
        assert_eq!(tokens(1_200_000_000), "1.2B");
        assert_eq!(tokens(-2_000), "-2K");
    }

    #[test]
    fn counts_and_quantities_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-1_234), "-1,234");
        assert_eq!(quantity(1200.0, false), "1,200");
        assert_eq!(quantity(12.5, false), "12.5");
        assert_eq!(quantity(3.5, true), "$3.50");
    }

    #[test]
    fn percents_and_rates() {
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.995), "99.5%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(rate(0.0), "0.00");
        assert_eq!(rate(1.234), "1.23");
        assert_eq!(rate(42.42), "42.4");
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration_ms(0), "0 ms");
        assert_eq!(duration_ms(87), "87 ms");
        assert_eq!(duration_ms(1_250), "1.25 s");
        assert_eq!(duration_ms(1_000), "1 s");
        assert_eq!(duration_ms(12_340), "12.3 s");
        assert_eq!(duration_ms(185_000), "3m 05s");
        assert_eq!(duration_ms(7_380_000), "2h 03m");
        assert_eq!(duration_ms(273_600_000), "3d 4h");
        assert_eq!(latency(None), DASH);
        assert_eq!(latency(Some(5)), "5 ms");
        assert_eq!(latency_f(Some(1499.6)), "1.5 s");
        assert_eq!(latency_f(None), DASH);
    }

    #[test]
    fn timestamps_in_the_viewers_zone() {
        // 2026-11-28T16:33:05Z
        let t = 1_795_883_585_000;
        assert_eq!(timestamp(t, 0), "2026-11-28 16:33:05");
        assert_eq!(timestamp(t, 480), "2026-11-29 00:33:05");
        assert_eq!(timestamp(t, -300), "2026-11-28 11:33:05");
        assert_eq!(clock(t, 0), "16:33");
        assert_eq!(month_day(t, 480), "11-29");
        assert_eq!(timestamp(0, 0), "1970-01-01 00:00:00");
        assert_eq!(timestamp(951_782_400_000, 0), "2000-02-29 00:00:00");
        assert_eq!(timestamp(-1_000, 0), "1969-12-31 23:59:59");
    }

    #[test]
    fn datetime_local_round_trips() {
        let t = 1_795_883_580_000; // 16:33:00Z
        for offset in [0, 480, -300, 330] {
            let text = datetime_local(t, offset);
            assert_eq!(parse_datetime_local(&text, offset), Some(t), "{text}");
        }
        assert_eq!(datetime_local(t, 480), "2026-11-29T00:33");
        assert_eq!(
            parse_datetime_local("2026-11-28T16:33:05", 0),
            Some(t + 5_000)
        );
        assert_eq!(parse_datetime_local("", 0), None);
        assert_eq!(parse_datetime_local("2026-13-01T00:00", 0), None);
        assert_eq!(parse_datetime_local("2026-11-28", 0), None);
        assert_eq!(parse_datetime_local("2026-11-28T25:00", 0), None);
    }

    #[test]
    fn relative_times_in_both_languages() {
        let now = 1_000_000;
        assert_eq!(relative(now + 185_400, now, Lang::En), "in 3m 05s");
        assert_eq!(relative(now - 5_000, now, Lang::En), "5 s ago");
        assert_eq!(relative(now + 60_000, now, Lang::Zh), "1m 00s后");
        assert_eq!(relative(now - 2_000, now, Lang::Zh), "2 s前");
    }
}
