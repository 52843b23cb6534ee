//! The OTLP exporter's HTTP client: one `POST` per batch over a plain TCP connection
//! (`http://` collectors only). The exporter runs on a thread of its own and blocks there on
//! each export, so a blocking client fits and the proxy's async runtime is never touched; and it
//! keeps a second HTTP stack (hyper or reqwest) out of the binary. A collector behind TLS is
//! reached through a local agent or sidecar collector, as is usual.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Largest collector answer read (an OTLP answer is a few bytes of protobuf, or an error text).
const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("only http:// OTLP endpoints are supported, not {0} (send to a local collector, which may forward over TLS)")]
    NotHttp(String),
    #[error("the OTLP endpoint {0} has no host")]
    NoHost(String),
    #[error("the OTLP endpoint's host {0} does not resolve")]
    Unresolved(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the collector's answer {0}")]
    BadAnswer(&'static str),
}

/// Where the posts go: an `http://host[:port][/path]` URL taken apart once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// What is resolved (without an IPv6 address's brackets).
    host: String,
    port: u16,
    /// The `Host` header: host and port as written.
    authority: String,
    path: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self, HttpError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| HttpError::NotHttp(url.to_owned()))?;
        let (authority, path) = rest.find(['/', '?']).map_or((rest, "/"), |at| {
            let (authority, path) = rest.split_at(at);
            (authority, path)
        });
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        // Credentials in the URL are not sent (headers are the place for them).
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| HttpError::NoHost(url.to_owned()))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(HttpError::NoHost(url.to_owned()));
        }
        let port = match port {
            None | Some("") => 80,
            Some(port) => port
                .parse()
                .map_err(|_| HttpError::NoHost(url.to_owned()))?,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path,
        })
    }
}

/// The collector's answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct BlockingHttpClient {
    endpoint: Endpoint,
    /// The request's head up to its `Content-Length` value, written once.
    head: String,
    timeout: Duration,
}

impl BlockingHttpClient {
    /// A client that posts `content_type` bodies to `endpoint`, with `headers` added (a
    /// `User-Agent` among them replaces api-proxy's).
    pub fn new(
        endpoint: Endpoint,
        content_type: &str,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> Self {
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\nConnection: close\r\n",
            path = endpoint.path,
            authority = endpoint.authority,
        );
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
        {
            head.push_str(concat!(
                "User-Agent: api-proxy/",
                env!("CARGO_PKG_VERSION"),
                "\r\n"
            ));
        }
        for (name, value) in headers {
            head.push_str(name);
            head.push_str(": ");
            head.push_str(value);
            head.push_str("\r\n");
        }
        head.push_str("Content-Length: ");
        Self {
            endpoint,
            head,
            timeout,
        }
    }

    pub fn post(&self, body: &[u8]) -> Result<Answer, HttpError> {
        let Endpoint { host, port, .. } = &self.endpoint;
        let address = (host.as_str(), *port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| HttpError::Unresolved(host.clone()))?;
        let mut stream = TcpStream::connect_timeout(&address, self.timeout)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let mut head = String::with_capacity(self.head.len() + 24);
        head.push_str(&self.head);
        head.push_str(itoa::Buffer::new().format(body.len()));
        head.push_str("\r\n\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        stream.flush()?;
        let mut raw = Vec::new();
        stream.take(MAX_RESPONSE_BYTES).read_to_end(&mut raw)?;
        parse_response(&raw)
    }
}

/// A `Connection: close` answer: status line, headers, then the body up to the end.
fn parse_response(raw: &[u8]) -> Result<Answer, HttpError> {
    let split =
        memchr::memmem::find(raw, b"\r\n\r\n").ok_or(HttpError::BadAnswer("has no head"))?;
    let head =
        std::str::from_utf8(&raw[..split]).map_err(|_| HttpError::BadAnswer("is not text"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(HttpError::BadAnswer("has no status"))?;
    let body = &raw[split + 4..];
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    Ok(Answer {
        status,
        body: if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        },
    })
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = memchr::memmem::find(body, b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        body = &body[line_end + 2..];
        if size == 0 || size > body.len() {
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn answers_are_read_plain_and_chunked() {
        let plain = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap();
        assert_eq!(plain.status, 200);
        assert_eq!(plain.body, b"ok");
        let chunked = parse_response(
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbad\r\n4\r\n one\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.status, 400);
        assert_eq!(chunked.body, b"bad one");
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn https_endpoints_are_refused_with_a_reason() {
        let error = Endpoint::parse("https://collector.example:4318/v1/traces").unwrap_err();
        assert!(error.to_string().contains("http://"), "{error}");
    }

    #[test]
    fn endpoints_are_taken_apart() {
        let endpoint = |host: &str, port, authority: &str, path: &str| Endpoint {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path: path.to_owned(),
        };
        let parse = |url| Endpoint::parse(url).unwrap();
        assert_eq!(
            parse("http://127.0.0.1:4318/v1/traces"),
            endpoint("127.0.0.1", 4318, "127.0.0.1:4318", "/v1/traces")
        );
        assert_eq!(
            parse("http://collector"),
            endpoint("collector", 80, "collector", "/")
        );
        assert_eq!(
            parse("http://[::1]:4318/v1/traces?tenant=a"),
            endpoint("::1", 4318, "[::1]:4318", "/v1/traces?tenant=a")
        );
        assert_eq!(
            parse("http://user:secret@c:9?x"),
            endpoint("c", 9, "c:9", "/?x")
        );
        assert!(Endpoint::parse("http://:4318/").is_err());
        assert!(Endpoint::parse("http://c:port/").is_err());
    }

    #[test]
    fn a_post_carries_the_body_the_type_and_the_headers() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let client = BlockingHttpClient::new(
            Endpoint::parse(&url).unwrap(),
            "application/x-protobuf",
            &[("authorization".to_owned(), "Bearer t".to_owned())],
            Duration::from_secs(5),
        );
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 1024];
            while !raw.ends_with(b"body") {
                let n = stream.read(&mut buf).unwrap();
                assert!(n > 0, "the request ended early");
                raw.extend_from_slice(&buf[..n]);
            }
            stream
                .write_all(b"HTTP/1.1 503 Unavailable\r\nContent-Length: 4\r\n\r\nbusy")
                .unwrap();
            String::from_utf8(raw).unwrap()
        });
        let answer = client.post(b"body").unwrap();
        assert_eq!(
            answer,
            Answer {
                status: 503,
                body: b"busy".to_vec()
            }
        );
        let request = server.join().unwrap();
        assert!(
            request.starts_with("POST /v1/traces HTTP/1.1\r\n"),
            "{request}"
        );
        for line in [
            "\r\nContent-Type: application/x-protobuf\r\n",
            "\r\nauthorization: Bearer t\r\n",
            "\r\nContent-Length: 4\r\n\r\nbody",
            "\r\nUser-Agent: api-proxy/",
        ] {
            assert!(request.contains(line), "{line:?} in {request}");
        }
    }
}
