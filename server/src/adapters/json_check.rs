//! Whether bytes are one JSON text, without building anything: the check every chunk of a
//! relayed stream gets (garbage ends the stream). It accepts exactly what
//! `serde_json::from_slice::<IgnoredAny>` accepts (a property test below compares them), at a
//! lower cost: strings, most of a chunk, are skipped eight bytes at a time.

/// The bytes that end a run of plain characters in a string: its closing quote, an escape, or a
/// control character (which makes it invalid).
const ENDS_RUN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Where the run of plain string characters at the start of `rest` ends (see [`ENDS_RUN`]).
/// Eight bytes at a time: a byte equal to `"` or `\`, or below 0x20, is found with the usual
/// carry tricks on a 64-bit word. A carry only ever flags bytes above a real match, so the
/// lowest flagged byte is the first match.
#[inline(always)]
fn run_end(rest: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = ONES * 0x80;
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w;
    let mut at = 0;
    while let Some(word) = rest.get(at..at + 8) {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let found = (zero_byte(w ^ (ONES * u64::from(b'"')))
            | zero_byte(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w))
            & HIGHS;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = rest[at..].iter().position(|&b| ENDS_RUN[usize::from(b)])?;
    Some(at + tail)
}

/// True when `data` is one JSON value, with optional whitespace around it.
pub fn is_json(data: &[u8]) -> bool {
    Check { data, at: 0 }.document().is_some()
}

struct Check<'a> {
    data: &'a [u8],
    at: usize,
}

/// The containers open around the current place, innermost last (`true`: an object). Like
/// serde_json's own skipping, nesting has no limit and no recursion: the first 64 levels are bits,
/// deeper ones a vector.
#[derive(Default)]
struct Nesting {
    depth: usize,
    bits: u64,
    deeper: Vec<bool>,
    /// The innermost container, kept apart: it is asked after every value.
    innermost: Option<bool>,
}

impl Nesting {
    fn push(&mut self, object: bool) {
        if self.depth < 64 {
            self.bits = (self.bits & !(1 << self.depth)) | (u64::from(object) << self.depth);
        } else {
            self.deeper.push(object);
        }
        self.depth += 1;
        self.innermost = Some(object);
    }

    fn innermost(&self) -> Option<bool> {
        self.innermost
    }

    fn pop(&mut self) {
        if self.depth > 64 {
            self.deeper.pop();
        }
        self.depth -= 1;
        self.innermost = match self.depth {
            0 => None,
            d if d <= 64 => Some(self.bits & (1 << (d - 1)) != 0),
            _ => self.deeper.last().copied(),
        };
    }
}

impl Check<'_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.data.get(self.at).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn document(&mut self) -> Option<()> {
        let mut open = Nesting::default();
        'value: loop {
            self.skip_whitespace();
            match self.next()? {
                b'{' => {
                    self.skip_whitespace();
                    if self.peek()? == b'}' {
                        self.at += 1;
                    } else {
                        open.push(true);
                        self.key()?;
                        continue 'value;
                    }
                }
                b'[' => {
                    self.skip_whitespace();
                    if self.peek()? == b']' {
                        self.at += 1;
                    } else {
                        open.push(false);
                        continue 'value;
                    }
                }
                b'"' => self.string()?,
                b't' => self.literal(b"rue")?,
                b'f' => self.literal(b"alse")?,
                b'n' => self.literal(b"ull")?,
                b'-' | b'0'..=b'9' => {
                    self.at -= 1;
                    self.number()?;
                }
                _ => return None,
            }
            // A value is complete: what follows it is decided by the container it is in.
            loop {
                self.skip_whitespace();
                let Some(object) = open.innermost() else {
                    return (self.at == self.data.len()).then_some(());
                };
                match self.next()? {
                    b',' => {
                        if object {
                            self.key()?;
                        }
                        continue 'value;
                    }
                    b'}' if object => open.pop(),
                    b']' if !object => open.pop(),
                    _ => return None,
                }
            }
        }
    }

    /// A member's key and its colon.
    #[inline(always)]
    fn key(&mut self) -> Option<()> {
        self.skip_whitespace();
        if self.next()? != b'"' {
            return None;
        }
        self.string()?;
        self.skip_whitespace();
        (self.next()? == b':').then_some(())
    }

    /// The rest of a string, its opening quote read.
    #[inline(always)]
    fn string(&mut self) -> Option<()> {
        loop {
            let rest = &self.data[self.at..];
            let stop = run_end(rest)?;
            self.at += stop + 1;
            match rest[stop] {
                b'"' => return Some(()),
                b'\\' => {}
                // Control characters must be escaped inside a string.
                _ => return None,
            }
            match self.next()? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                b'u' => {
                    let hex = self.data.get(self.at..self.at + 4)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    self.at += 4;
                }
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let found = self.data.get(self.at..self.at + word.len())? == word;
        self.at += word.len();
        found.then_some(())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IgnoredAny;

    fn serde_says(data: &[u8]) -> bool {
        serde_json::from_slice::<IgnoredAny>(data).is_ok()
    }

    #[test]
    fn agrees_with_serde_on_the_edges() {
        let cases: &[&[u8]] = &[
            b"",
            b" ",
            b"{}",
            b" {} ",
            b"{} x",
            b"[]",
            b"[1,]",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{1:1}",
            b"\"\\u00e9\\n\"",
            b"\"\\u00g9\"",
            b"\"\\x\"",
            b"\"tab\there\"",
            b"\"\xff\xfe\"",
            b"\"\\ud800\"",
            b"-",
            b"-0",
            b"01",
            b"1.",
            b"1.5e",
            b"1.5e+7",
            b"1e400",
            b"-1E-2",
            b"tru",
            b"true",
            b"nulll",
            b"data: {}",
            b"{\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"hi \\\"there\\\"\"},\"index\":0}]}",
        ];
        for case in cases {
            assert_eq!(
                is_json(case),
                serde_says(case),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn long_strings_are_checked_past_the_short_run() {
        let long = "x".repeat(40);
        for text in [
            format!("\"{long}\""),
            format!("\"{long}\\n{long}\""),
            format!("\"{long}\\q\""),
            format!("\"{long}\t\""),
            format!("\"{long}\\u12\""),
            format!("\"{}\"", "y".repeat(32)),
            format!("\"{}", "y".repeat(32)),
            format!("\"{}", "y".repeat(31)),
            format!("{{\"{long}\":\"{long}\\\"{long}\"}}"),
        ] {
            assert_eq!(
                is_json(text.as_bytes()),
                serde_says(text.as_bytes()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn nesting_has_no_limit_as_in_serde() {
        for depth in [1, 63, 64, 65, 128, 129, 100_000] {
            let text = format!("{}{}", r#"{"a":["#.repeat(depth), "]}".repeat(depth));
            assert!(is_json(text.as_bytes()), "{depth}");
            assert!(serde_says(text.as_bytes()), "{depth}");
            let crossed = format!("{}{}", "[".repeat(depth), "}".repeat(depth));
            assert!(!is_json(crossed.as_bytes()) && !serde_says(crossed.as_bytes()));
        }
    }

    fn json_like() -> impl Strategy<Value = Vec<u8>> {
        // Pieces of JSON, shuffled and cut: mostly near-misses, some valid texts.
        let piece = prop_oneof![
            Just(b"{".to_vec()),
            Just(b"}".to_vec()),
            Just(b"[".to_vec()),
            Just(b"]".to_vec()),
            Just(b",".to_vec()),
            Just(b":".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\\".to_vec()),
            Just(b"\"k\":".to_vec()),
            Just(b"\"text\"".to_vec()),
            Just(b"\\u00".to_vec()),
            Just(b"1".to_vec()),
            Just(b"-0.5e+3".to_vec()),
            Just(b"true".to_vec()),
            Just(b"null".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\n".to_vec()),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    fn valid_json() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
        .prop_map(|v| serde_json::to_vec(&v).unwrap())
    }

    proptest! {
        #[test]
        fn finds_the_end_of_any_string(body in proptest::collection::vec(any::<u8>(), 0..80)) {
            let text = [b"\"".as_slice(), &body, b"\""].concat();
            prop_assert_eq!(is_json(&text), serde_says(&text));
            prop_assert_eq!(
                run_end(&body),
                body.iter().position(|&b| ENDS_RUN[usize::from(b)])
            );
        }

        #[test]
        fn agrees_with_serde_on_near_misses(data in json_like()) {
            prop_assert_eq!(is_json(&data), serde_says(&data));
        }

        #[test]
        fn accepts_what_serde_writes_and_agrees_on_its_cuts(data in valid_json(), cut in any::<prop::sample::Index>()) {
            prop_assert!(is_json(&data));
            let cut = &data[..cut.index(data.len() + 1)];
            prop_assert_eq!(is_json(cut), serde_says(cut));
        }
    }
}
