//! Token counts as upstreams write them, read leniently: any JSON number (a count past `i64`, or
//! written as a float, included) or `null`, saturated into an `i64` instead of failing the whole
//! answer. Whether a count is believable is decided later, in one place
//! ([`crate::routing::TokenUsage::clamped`]).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

struct CountVisitor;

impl<'de> Visitor<'de> for CountVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token count")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(i64::try_from(v).unwrap_or(i64::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // `as` saturates, and NaN becomes 0.
        Ok(Some(v as i64))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A count; `null` is 0. For `#[serde(default, deserialize_with = "tokens::count")]`.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(d.deserialize_option(CountVisitor)?.unwrap_or(0))
}

/// A count that may be missing or `null`.
pub fn maybe_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(CountVisitor)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Usage {
        #[serde(default, deserialize_with = "super::count")]
        n: i64,
        #[serde(default, deserialize_with = "super::maybe_count")]
        m: Option<i64>,
    }

    fn read(json: &str) -> (i64, Option<i64>) {
        let u: Usage = serde_json::from_str(json).unwrap();
        (u.n, u.m)
    }

    #[test]
    fn any_number_is_read_saturated() {
        assert_eq!(read(r#"{"n": 12, "m": -3}"#), (12, Some(-3)));
        assert_eq!(
            read(r#"{"n": 18446744073709551615, "m": 1e300}"#),
            (i64::MAX, Some(i64::MAX))
        );
        assert_eq!(read(r#"{"n": -1e300, "m": 2.5}"#), (i64::MIN, Some(2)));
        assert_eq!(read(r#"{"n": null, "m": null}"#), (0, None));
        assert_eq!(read("{}"), (0, None));
        assert!(serde_json::from_str::<Usage>(r#"{"n": "12"}"#).is_err());
    }
}
