//! Server-sent events: splitting a byte stream into whole events, and reading an event's fields.

use bytes::{Bytes, BytesMut};

/// The longest unfinished event kept: an upstream that never ends an event cannot grow the
/// buffer past this (the relay then ends the stream with an error).
pub const MAX_PENDING_EVENT: usize = 1024 * 1024;

/// Accumulates bytes and yields complete events (each with its terminating blank line).
///
/// Scanning is linear: the bytes of an unfinished event are searched once, not again from the
/// event's start at every read (an event trickling in byte by byte would otherwise cost the
/// square of its length).
#[derive(Debug, Default)]
pub struct SseSplitter {
    buf: BytesMut,
    /// Bytes of `buf` already searched without finding an event's end.
    scanned: usize,
    /// Bytes searched in all (for the tests' linearity check).
    #[cfg(test)]
    work: usize,
}

/// An event's end is at most this many bytes long (`\r\n\r\n`): a search resumes this far back,
/// in case the end began in the bytes already searched.
const LONGEST_END: usize = 4;

impl SseSplitter {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event, if one has arrived.
    pub fn next_event(&mut self) -> Option<Bytes> {
        // An end not found before `scanned` can only have begun in its last bytes.
        let from = self.scanned.saturating_sub(LONGEST_END - 1);
        #[cfg(test)]
        {
            self.work += self.buf.len() - from;
        }
        match event_end(&self.buf, from) {
            Some(end) => {
                self.scanned = 0;
                Some(self.buf.split_to(end).freeze())
            }
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }

    /// Bytes of an unfinished event.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Whether the unfinished event is over [`MAX_PENDING_EVENT`] (call after taking every
    /// complete event).
    pub fn overflowed(&self) -> bool {
        self.buf.len() > MAX_PENDING_EVENT
    }
}

/// Index just past the first blank line (`\n\n`, `\r\n\r\n` or `\r\r`) that begins at `from` or
/// later. Jumps from line end to line end (memchr) instead of testing every byte.
fn event_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
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
    if let Some(data) = single_data_line(raw) {
        return SseEvent {
            event: None,
            data: Some(std::borrow::Cow::Borrowed(data)),
        };
    }
    parse_lines(raw)
}

fn parse_lines(raw: &[u8]) -> SseEvent<'_> {
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

/// The value of an event that is one `data: ` line and nothing else, the shape of almost every
/// chat chunk: read without going through the lines.
fn single_data_line(raw: &[u8]) -> Option<&[u8]> {
    let rest = raw.strip_prefix(b"data: ")?;
    let end = memchr::memchr(b'\n', rest)?;
    // What follows can only be the blank line(s) that end the event.
    if !rest[end..].iter().all(|&b| b == b'\n' || b == b'\r') {
        return None;
    }
    let line = &rest[..end];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
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
    fn one_data_line_reads_as_the_lines_do() {
        for raw in [
            &b"data: {\"x\":1}\n\n"[..],
            b"data: {\"x\":1}\r\n\r\n",
            b"data:  two spaces\n\n",
            b"data: \n\n",
            b"data: a\r\n",
            b"data: a\ndata: b\n\n",
            b"data: a\nevent: e\n\n",
            b"data: no end",
            b"data:x\n\n",
        ] {
            let (fast, lines) = (parse_event(raw), parse_lines(raw));
            assert_eq!(fast.data, lines.data, "{:?}", String::from_utf8_lossy(raw));
            assert_eq!(fast.event, lines.event);
        }
    }

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
    fn an_end_split_across_reads_is_found() {
        // Every way of cutting each kind of end between two reads.
        for end in [&b"\n\n"[..], b"\r\n\r\n", b"\r\r"] {
            for cut in 0..=end.len() {
                let mut s = SseSplitter::default();
                s.push(b"data: x");
                s.push(&end[..cut]);
                if cut < end.len() {
                    assert!(s.next_event().is_none(), "{end:?} cut at {cut}");
                }
                s.push(&end[cut..]);
                s.push(b"data: y");
                let event = s.next_event().unwrap();
                assert_eq!(&event[..7], b"data: x");
                assert_eq!(event.len(), 7 + end.len(), "{end:?} cut at {cut}");
                assert_eq!(s.pending(), 7);
            }
        }
    }

    #[test]
    fn an_event_arriving_byte_by_byte_is_scanned_once() {
        let mut s = SseSplitter::default();
        let event = format!("data: {}\n\n", "x".repeat(100_000));
        for byte in event.as_bytes() {
            s.push(std::slice::from_ref(byte));
            if let Some(whole) = s.next_event() {
                assert_eq!(whole.len(), event.len());
            }
        }
        assert_eq!(s.pending(), 0);
        // Each byte is searched a bounded number of times, not once per later read.
        assert!(
            s.work <= LONGEST_END * event.len(),
            "{} bytes searched for a {}-byte event",
            s.work,
            event.len()
        );
    }

    #[test]
    fn an_endless_event_overflows_at_the_cap() {
        let mut s = SseSplitter::default();
        s.push(b"data: {}\n\ndata: ");
        assert!(s.next_event().is_some());
        let chunk = vec![b'x'; 64 * 1024];
        while !s.overflowed() {
            s.push(&chunk);
            assert!(s.next_event().is_none());
        }
        assert!(s.pending() > MAX_PENDING_EVENT);
        assert!(s.pending() <= MAX_PENDING_EVENT + chunk.len());
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
