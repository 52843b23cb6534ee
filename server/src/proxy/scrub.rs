//! Scrubbing a key out of what an upstream sent back. Providers echo the key they were given in
//! their errors ("Incorrect API key provided: sk-…"), sometimes JSON-escaped (`\/` for `/`,
//! `\u0073` for `s`, or escaped twice when an error quotes another error's JSON). Everything
//! that came from an upstream passes through here before it reaches a client, a log line, a
//! call-log row, an attempt trail or the live feed, and always before it is cut short (a cut
//! could otherwise keep a key's first half, which no longer matches).
//!
//! The matcher reads the text once: at each place a key could start (its first character, or a
//! backslash) it walks the key's characters, each either written as it is or as a JSON escape,
//! and replaces a whole match with `***`. Escapes are only ever consumed whole, so scrubbed JSON
//! stays JSON.

use std::borrow::Cow;
use std::sync::LazyLock;

use bytes::Bytes;
use memchr::memmem::Finder;

/// What a key is replaced with.
pub const MASK: &str = "***";

/// Keys shorter than this are not scrubbed: they would match ordinary text.
const MIN_SECRET_LEN: usize = 6;

/// One key to scrub.
#[derive(Clone)]
pub struct Scrubber {
    secret: Box<str>,
    /// Searches for the key as it is, built once per key rather than per search (every chunk
    /// of a stream is searched).
    plain: Finder<'static>,
}

/// The escapes a key's characters could take, searched for in every chunk of every stream.
static ESCAPES: LazyLock<[Finder<'static>; 4]> = LazyLock::new(|| {
    [b"\\u", b"\\/", b"\\\"", b"\\\\"].map(|needle| Finder::new(needle).into_owned())
});

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrubber(***)")
    }
}

impl Scrubber {
    /// `None` for a key too short to be told apart from ordinary text.
    pub fn new(secret: &str) -> Option<Self> {
        (secret.len() >= MIN_SECRET_LEN).then(|| Self {
            secret: secret.into(),
            plain: Finder::new(secret.as_bytes()).into_owned(),
        })
    }

    /// `text` with every occurrence of the key, plain or JSON-escaped, replaced by [`MASK`].
    pub fn bytes<'a>(&self, text: &'a [u8]) -> Cow<'a, [u8]> {
        if !self.may_hold(text) {
            return Cow::Borrowed(text);
        }
        let first = self.secret.as_bytes()[0];
        let mut out: Option<Vec<u8>> = None;
        // Everything before `copied` is already in `out` (or unchanged, when `out` is None).
        let mut copied = 0;
        let mut at = 0;
        while let Some(found) = memchr::memchr2(first, b'\\', &text[at..]) {
            let start = at + found;
            match self.match_at(text, start) {
                Some(end) => {
                    let out = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
                    out.extend_from_slice(&text[copied..start]);
                    out.extend_from_slice(MASK.as_bytes());
                    copied = end;
                    at = end;
                }
                None => at = start + 1,
            }
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut out) => {
                out.extend_from_slice(&text[copied..]);
                Cow::Owned(out)
            }
        }
    }

    /// [`Scrubber::bytes`] for shared bytes (not copied when the key is absent).
    pub fn shared(&self, text: Bytes) -> Bytes {
        match self.bytes(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(scrubbed) => scrubbed.into(),
        }
    }

    /// [`Scrubber::bytes`] for text.
    pub fn text(&self, text: String) -> String {
        match self.bytes(text.as_bytes()) {
            Cow::Borrowed(_) => text,
            // Only whole characters (or ASCII escapes) were replaced by ASCII.
            Cow::Owned(scrubbed) => String::from_utf8_lossy(&scrubbed).into_owned(),
        }
    }

    /// False when `text` certainly holds the key in no form: neither as it is nor any escape one
    /// of its characters could take. A few vectorised searches, so the usual answer (an
    /// upstream's JSON holds no `\u` escape) costs about what a plain search did.
    fn may_hold(&self, text: &[u8]) -> bool {
        let has = |finder: &Finder<'_>| finder.find(text).is_some();
        let key = self.secret.as_bytes();
        let [unicode, slash, quote, backslash] = &*ESCAPES;
        has(&self.plain)
            || has(unicode)
            || (key.contains(&b'/') && has(slash))
            || (key.contains(&b'"') && has(quote))
            || (key.contains(&b'\\') && has(backslash))
    }

    /// The end of the key written at `start`, if it is.
    fn match_at(&self, text: &[u8], start: usize) -> Option<usize> {
        let mut i = start;
        for c in self.secret.chars() {
            i = char_at(text, i, c)?;
        }
        Some(i)
    }
}

/// `text` with `scrubber`'s key removed, when there is a key to remove.
pub fn scrub_text(scrubber: Option<&Scrubber>, text: String) -> String {
    match scrubber {
        Some(s) => s.text(text),
        None => text,
    }
}

/// `bytes` with `scrubber`'s key removed, when there is a key to remove.
pub fn scrub_shared(scrubber: Option<&Scrubber>, bytes: Bytes) -> Bytes {
    match scrubber {
        Some(s) => s.shared(bytes),
        None => bytes,
    }
}

/// The end of `c` written at `i`: as it is, or as a JSON escape (`\uXXXX`, `\/`, `\"`, `\\`)
/// behind any number of backslashes (an escape escaped again).
fn char_at(text: &[u8], i: usize, c: char) -> Option<usize> {
    let slashes = text.get(i..)?.iter().take_while(|b| **b == b'\\').count();
    if c == '\\' {
        // A backslash, escaped any number of times.
        return (slashes > 0).then_some(i + slashes);
    }
    let mut utf8 = [0u8; 4];
    let plain = c.encode_utf8(&mut utf8).as_bytes();
    if text.get(i..i + plain.len()) == Some(plain) {
        return Some(i + plain.len());
    }
    if slashes == 0 {
        return None;
    }
    let j = i + slashes;
    match text.get(j)? {
        b'u' => {
            let hex = text.get(j + 1..j + 5)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let unit = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            (unit == u32::from(c)).then_some(j + 5)
        }
        // `\/` and `\"`: the character itself behind the escape.
        b'/' | b'"' if u32::from(c) == u32::from(text[j]) => Some(j + 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-proj/Ab+9_secret";

    fn scrub(text: &str) -> String {
        Scrubber::new(KEY).unwrap().text(text.to_owned())
    }

    #[test]
    fn plain_keys_are_masked() {
        assert_eq!(scrub(&format!("bad key {KEY}.")), "bad key ***.");
        assert_eq!(scrub(&format!("{KEY}{KEY}")), "******");
        assert_eq!(scrub("nothing here, sk-proj"), "nothing here, sk-proj");
    }

    #[test]
    fn json_escaped_keys_are_masked() {
        // `\/` for the slash, as many JSON writers do.
        assert_eq!(
            scrub(r#"{"m":"key sk-proj\/Ab+9_secret"}"#),
            r#"{"m":"key ***"}"#
        );
        // Any character as `\u00XX`, upper- or lower-case hex.
        assert_eq!(
            scrub(r#"{"m":"\u0073k-proj\u002FAb\u002b9_secret!"}"#),
            r#"{"m":"***!"}"#
        );
        // An error quoting another error's JSON: escaped twice.
        assert_eq!(
            scrub(r#"{"m":"{\"e\":\"sk-proj\\\/Ab+9_secret\"}"}"#),
            r#"{"m":"{\"e\":\"***\"}"}"#
        );
        // The result is still JSON.
        let body = r#"{"error":{"message":"Incorrect key \u0073k-proj\/Ab+9_secret"}}"#;
        let v: serde_json::Value = serde_json::from_str(&scrub(body)).unwrap();
        assert_eq!(v["error"]["message"], "Incorrect key ***");
    }

    #[test]
    fn near_misses_are_left_alone() {
        for text in [
            r#"sk-proj\/Ab+9_secreT"#,
            r#"sk-proj\x2fAb+9_secret"#,
            r#"sk-proj\u002"#,
            "sk-proj/Ab+9_secre",
            "\\\\\\",
            "",
        ] {
            assert_eq!(scrub(text), text);
        }
    }

    #[test]
    fn a_key_with_quotes_and_backslashes_is_masked_escaped() {
        let scrubber = Scrubber::new(r#"ab"c\d/ef"#).unwrap();
        assert_eq!(scrubber.text(r#"x ab\"c\\d\/ef y"#.into()), "x *** y");
        assert_eq!(scrubber.text(r#"x ab"c\d/ef y"#.into()), "x *** y");
    }

    #[test]
    fn short_keys_are_not_scrubbed() {
        assert!(Scrubber::new("abc").is_none());
        assert_eq!(scrub_text(None, "abc".into()), "abc");
    }

    #[test]
    fn unchanged_text_is_not_copied() {
        let body = Bytes::from_static(b"{\"ok\":true}");
        let scrubbed = Scrubber::new(KEY).unwrap().shared(body.clone());
        assert_eq!(scrubbed.as_ptr(), body.as_ptr());
        assert!(matches!(
            Scrubber::new(KEY).unwrap().bytes(b"plain \\n text"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn non_ascii_text_around_a_key_survives() {
        assert_eq!(scrub(&format!("clé « {KEY} » ✓")), "clé « *** » ✓");
    }
}
