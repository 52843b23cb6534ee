//! URL query values.

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_non_ascii_characters_are_escaped() {
        assert_eq!(encode("gpt-4o_mini.v1~"), "gpt-4o_mini.v1~");
        assert_eq!(encode("a b&c=d/e+f"), "a%20b%26c%3Dd%2Fe%2Bf");
        assert_eq!(encode("模型"), "%E6%A8%A1%E5%9E%8B");
    }
}
