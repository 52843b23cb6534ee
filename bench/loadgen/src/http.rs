//! A minimal HTTP/1.1 client for one keep-alive connection: write a pre-rendered request, read the
//! status and headers, then the body (`Content-Length`, chunked, or until close), handing each
//! piece of body to a [`BodySink`] the moment it arrives.
//!
//! Hand-written rather than awc or hyper because the driver shares two cores with the mock and the
//! proxy under test: every microsecond it spends per request is taken from them. It never parses
//! the body beyond counting SSE events and remembering the tail (to see `data: [DONE]`).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where requests go: a loopback address and a path.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// `Host` header value (`127.0.0.1:PORT`).
    pub host: String,
    pub path: String,
    /// Sent as `Authorization: Bearer …` (a client key), when set.
    pub bearer: Option<String>,
}

impl Target {
    /// Parses `http://HOST:PORT/PATH`; only loopback hosts are accepted, so the driver can never be
    /// pointed at another machine.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr = authority
            .to_socket_addrs()
            .map_err(|e| format!("{url}: {e}"))?
            .find(|a| a.ip().is_loopback())
            .ok_or_else(|| {
                format!("{url}: only loopback (127.0.0.0/8, ::1) targets are allowed")
            })?;
        Ok(Self {
            addr,
            host: authority.to_owned(),
            path: path.to_owned(),
            bearer: None,
        })
    }

    /// Whether the path is Anthropic's Messages API (`…/messages`): its requests carry a key and
    /// the API version, and its bodies and streams are Anthropic's.
    pub fn is_messages(&self) -> bool {
        self.path.ends_with("/messages")
    }

    /// A complete `POST` of a JSON body.
    pub fn post_json(&self, body: &[u8]) -> Vec<u8> {
        let anthropic = if self.is_messages() {
            "x-api-key: sk-bench\r\nanthropic-version: 2023-06-01\r\n"
        } else {
            ""
        };
        let bearer = self
            .bearer
            .as_ref()
            .map(|key| format!("Authorization: Bearer {key}\r\n"))
            .unwrap_or_default();
        let mut out = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: */*\r\n{anthropic}{bearer}Content-Length: {}\r\n\r\n",
            self.path,
            self.host,
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        out
    }

    /// A complete `GET`.
    pub fn get(&self) -> Vec<u8> {
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\n\r\n",
            self.path, self.host
        )
        .into_bytes()
    }
}

/// Why an exchange failed; [`HttpError::kind`] names it in the report.
#[derive(Debug)]
pub enum HttpError {
    Connect(io::Error),
    Io(io::Error),
    /// The server closed the connection before the response was complete.
    Closed,
    Malformed(&'static str),
}

impl HttpError {
    pub fn kind(&self) -> String {
        match self {
            Self::Connect(e) => format!("connect_{}", io_kind(e)),
            Self::Io(e) => format!("io_{}", io_kind(e)),
            Self::Closed => "closed_early".into(),
            Self::Malformed(what) => format!("bad_response_{what}"),
        }
    }
}

fn io_kind(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "refused",
        io::ErrorKind::ConnectionReset => "reset",
        io::ErrorKind::ConnectionAborted => "aborted",
        io::ErrorKind::BrokenPipe => "broken_pipe",
        io::ErrorKind::TimedOut => "timed_out",
        io::ErrorKind::AddrNotAvailable => "addr_not_available",
        _ if e.raw_os_error() == Some(24) => "too_many_open_files",
        _ => "other",
    }
}

/// Called once, when the first body byte arrives.
pub type OnFirst = Box<dyn FnOnce(Instant)>;

/// Receives the body as it arrives.
#[derive(Default)]
pub struct BodySink {
    /// When the first body byte arrived.
    pub first_at: Option<Instant>,
    pub on_first: Option<OnFirst>,
    pub bytes: u64,
    /// SSE events seen (blank-line terminated).
    pub events: u64,
    /// The last bytes of the body, to check how a stream ended.
    tail: Vec<u8>,
    last_was_newline: bool,
}

const TAIL: usize = 32;

impl BodySink {
    fn push(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.first_at.is_none() {
            let now = Instant::now();
            self.first_at = Some(now);
            if let Some(f) = self.on_first.take() {
                f(now);
            }
        }
        self.bytes += data.len() as u64;
        for &b in data {
            if b == b'\n' {
                if self.last_was_newline {
                    self.events += 1;
                }
                self.last_was_newline = true;
            } else if b != b'\r' {
                self.last_was_newline = false;
            }
        }
        self.tail.extend_from_slice(data);
        if self.tail.len() > TAIL {
            self.tail.drain(..self.tail.len() - TAIL);
        }
    }

    /// The stream ended with its terminator: OpenAI's `data: [DONE]`, or Anthropic's
    /// `message_stop` event.
    pub fn ends_with_done(&self) -> bool {
        let trimmed = self.tail.trim_ascii_end();
        trimmed.ends_with(b"data: [DONE]")
            || trimmed.ends_with(b"data:[DONE]")
            || trimmed.ends_with(br#"{"type":"message_stop"}"#)
    }
}

/// Status and framing of a response.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    pub status: u16,
    framing: Framing,
    /// The server will close after this response.
    pub close: bool,
}

#[derive(Debug, Clone, Copy)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unread bytes are `buf[pos..]`.
    pos: usize,
}

const READ_SIZE: usize = 16 * 1024;
const MAX_HEAD: usize = 64 * 1024;

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Self, HttpError> {
        let stream = TcpStream::connect(addr).await.map_err(HttpError::Connect)?;
        stream.set_nodelay(true).map_err(HttpError::Connect)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(READ_SIZE),
            pos: 0,
        })
    }

    pub async fn send(&mut self, request: &[u8]) -> Result<(), HttpError> {
        self.stream.write_all(request).await.map_err(HttpError::Io)
    }

    /// Reads more bytes into the buffer; `Closed` at end of stream.
    async fn fill(&mut self) -> Result<(), HttpError> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > READ_SIZE {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        // `read_buf` fills spare capacity without zeroing it first.
        self.buf.reserve(READ_SIZE);
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err(HttpError::Closed),
            Ok(_) => Ok(()),
            Err(e) => Err(HttpError::Io(e)),
        }
    }

    pub async fn read_head(&mut self) -> Result<Head, HttpError> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[self.pos..]) {
                Ok(httparse::Status::Complete(len)) => {
                    let status = response.code.ok_or(HttpError::Malformed("status"))?;
                    let mut framing = Framing::UntilClose;
                    let mut close = response.version == Some(0);
                    for h in response.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            let n = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .ok_or(HttpError::Malformed("content_length"))?;
                            framing = Framing::Length(n);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                            && h.value.eq_ignore_ascii_case(b"chunked")
                        {
                            framing = Framing::Chunked;
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close = h.value.eq_ignore_ascii_case(b"close");
                        }
                    }
                    // Responses without a body by definition.
                    if status == 204 || status == 304 || (100..200).contains(&status) {
                        framing = Framing::Length(0);
                    }
                    self.pos += len;
                    return Ok(Head {
                        status,
                        framing,
                        close,
                    });
                }
                Ok(httparse::Status::Partial) => {
                    if self.buf.len() - self.pos > MAX_HEAD {
                        return Err(HttpError::Malformed("head_too_large"));
                    }
                    self.fill().await?;
                }
                Err(_) => return Err(HttpError::Malformed("head")),
            }
        }
    }

    /// Hands the unread buffered bytes (at most `limit`) to the sink.
    fn drain_to(&mut self, sink: &mut BodySink, limit: u64) -> u64 {
        let available = (self.buf.len() - self.pos) as u64;
        let n = available.min(limit) as usize;
        sink.push(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        n as u64
    }

    /// Reads the whole body of `head`, pushing it to `sink` as it arrives.
    pub async fn read_body(&mut self, head: &Head, sink: &mut BodySink) -> Result<(), HttpError> {
        match head.framing {
            Framing::Length(mut left) => {
                while left > 0 {
                    if self.pos == self.buf.len() {
                        self.fill().await?;
                    }
                    left -= self.drain_to(sink, left);
                }
                Ok(())
            }
            Framing::UntilClose => loop {
                self.drain_to(sink, u64::MAX);
                match self.fill().await {
                    Ok(()) => {}
                    Err(HttpError::Closed) => return Ok(()),
                    Err(e) => return Err(e),
                }
            },
            Framing::Chunked => loop {
                let line = self.line().await?;
                let size = std::str::from_utf8(&line)
                    .ok()
                    .map(|l| l.split(';').next().unwrap_or("").trim())
                    .and_then(|hex| u64::from_str_radix(hex, 16).ok())
                    .ok_or(HttpError::Malformed("chunk_size"))?;
                if size == 0 {
                    // Trailers, up to the blank line.
                    while !self.line().await?.is_empty() {}
                    return Ok(());
                }
                let mut left = size;
                while left > 0 {
                    if self.pos == self.buf.len() {
                        self.fill().await?;
                    }
                    left -= self.drain_to(sink, left);
                }
                if !self.line().await?.is_empty() {
                    return Err(HttpError::Malformed("chunk_end"));
                }
            },
        }
    }

    /// The next CRLF-terminated line, without the CRLF.
    async fn line(&mut self) -> Result<Vec<u8>, HttpError> {
        loop {
            let unread = &self.buf[self.pos..];
            if let Some(i) = unread.windows(2).position(|w| w == b"\r\n") {
                let line = unread[..i].to_vec();
                self.pos += i + 2;
                return Ok(line);
            }
            if unread.len() > MAX_HEAD {
                return Err(HttpError::Malformed("line_too_long"));
            }
            self.fill().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Serves `reply` once on a fresh loopback port and returns the address.
    async fn serve_once(reply: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(reply).await.unwrap();
        });
        addr
    }

    async fn exchange(reply: &'static [u8]) -> (Head, BodySink) {
        let addr = serve_once(reply).await;
        let mut conn = Conn::connect(addr).await.unwrap();
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let head = conn.read_head().await.unwrap();
        let mut sink = BodySink::default();
        conn.read_body(&head, &mut sink).await.unwrap();
        (head, sink)
    }

    #[tokio::test]
    async fn content_length_bodies() {
        let (head, sink) = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
        assert_eq!(head.status, 200);
        assert_eq!(sink.bytes, 5);
        assert!(sink.first_at.is_some());
    }

    #[tokio::test]
    async fn chunked_sse_bodies_count_events_and_see_done() {
        let (head, sink) = exchange(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\ne\r\ndata: [DONE]\n\n\r\n0\r\n\r\n",
        )
        .await;
        assert_eq!(head.status, 200);
        assert_eq!(sink.events, 2);
        assert!(sink.ends_with_done());
    }

    #[tokio::test]
    async fn a_body_cut_short_is_an_error() {
        let addr = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello").await;
        let mut conn = Conn::connect(addr).await.unwrap();
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let head = conn.read_head().await.unwrap();
        let err = conn
            .read_body(&head, &mut BodySink::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "closed_early");
    }

    #[test]
    fn only_loopback_targets() {
        assert!(Target::parse("http://127.0.0.1:9/v1/chat/completions").is_ok());
        assert!(Target::parse("http://10.0.0.1:9/").is_err());
        assert!(Target::parse("https://127.0.0.1:9/").is_err());
    }
}
