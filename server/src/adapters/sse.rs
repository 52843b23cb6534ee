//! Server-sent events: splitting a byte stream into whole events, and reading an event's fields.

use bytes::{Bytes, BytesMut};

/// Accumulates bytes and yields complete events (each with its terminating blank line).
#[derive(Debug, Default)]
pub struct SseSplitter {
    buf: BytesMut,
}

impl SseSplitter {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event, if one has arrived.
    pub fn next_event(&mut self) -> Option<Bytes> {
        let end = event_end(&self.buf)?;
        Some(self.buf.split_to(end).freeze())
    }

    /// Bytes of an unfinished event.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Index just past the first blank line (`\n\n`, `\r\n\r\n` or `\r\r`). Jumps from line end to
/// line end (memchr) instead of testing every byte.
fn event_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(at) = memchr::memchr2(b'\n', b'\r', &buf[i..]) {
        i += at;
        match buf[i] {
            b'\n' if buf.get(i + 1) == Some(&b'\n') => return Some(i + 2),
            b'\r'
                if buf.get(i + 1) == Some(&b'\n')
                    && buf.get(i + 2) == Some(&b'\r')
                    && buf.get(i + 3) == Some(&b'\n') =>
            {
                return Some(i + 4)
            }
            b'\r' if buf.get(i + 1) == Some(&b'\r') => return Some(i + 2),
            _ => i += 1,
        }
    }
    None
}

/// An event's `event:` name and joined `data:` lines.
#[derive(Debug, Default, PartialEq)]
pub struct SseEvent<'a> {
    pub event: Option<&'a str>,
    pub data: Option<std::borrow::Cow<'a, [u8]>>,
}

pub fn parse_event(raw: &[u8]) -> SseEvent<'_> {
    let mut out = SseEvent::default();
    // Lines found with memchr: `split` with a closure tests every byte, and this runs on every
    // event of every stream.
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', raw).chain(std::iter::once(raw.len()));
    for end in ends {
        let line = &raw[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => continue, // a comment
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"event" => out.event = std::str::from_utf8(value).ok(),
            b"data" => {
                out.data = Some(match out.data.take() {
                    None => std::borrow::Cow::Borrowed(value),
                    Some(prev) => {
                        let mut joined = prev.into_owned();
                        joined.push(b'\n');
                        joined.extend_from_slice(value);
                        std::borrow::Cow::Owned(joined)
                    }
                })
            }
            _ => {}
        }
    }
    out
}

/// A `data:` event carrying `payload`.
pub fn data_event(payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\n\n");
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_across_reads_and_line_endings() {
        let mut s = SseSplitter::default();
        s.push(b"data: {\"a\":1}\n");
        assert!(s.next_event().is_none());
        s.push(b"\ndata: [DONE]\r\n\r\nevent: ping\r\rdata: x");
        assert_eq!(&s.next_event().unwrap()[..], b"data: {\"a\":1}\n\n");
        assert_eq!(&s.next_event().unwrap()[..], b"data: [DONE]\r\n\r\n");
        assert_eq!(&s.next_event().unwrap()[..], b"event: ping\r\r");
        assert!(s.next_event().is_none());
        assert_eq!(s.pending(), 7);
    }

    #[test]
    fn parses_fields() {
        let e = parse_event(b": comment\nevent: message_start\ndata: {\"x\":1}\ndata: 2\n\n");
        assert_eq!(e.event, Some("message_start"));
        assert_eq!(e.data.as_deref(), Some(&b"{\"x\":1}\n2"[..]));
        assert_eq!(
            parse_event(b"data:[DONE]\n\n").data.as_deref(),
            Some(&b"[DONE]"[..])
        );
    }
}
