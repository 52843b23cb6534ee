//! The OTLP exporter's HTTP client: one `POST` per batch over a plain TCP connection
//! (`http://` collectors only). The exporter runs on the batch span processor's own thread and
//! blocks there on each export, so a blocking client fits and the proxy's async runtime is never
//! touched; and it keeps a second HTTP stack (hyper or reqwest) out of the binary. A collector
//! behind TLS is reached through a local agent or sidecar collector, as is usual.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

/// Largest collector answer read (an OTLP answer is a few bytes of protobuf, or an error text).
const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct BlockingHttpClient {
    timeout: Duration,
}

impl BlockingHttpClient {
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    fn send(&self, request: &Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let uri = request.uri();
        if uri.scheme_str() != Some("http") {
            return Err(format!("only http:// OTLP endpoints are supported, not {uri}").into());
        }
        let host = uri.host().ok_or("the OTLP endpoint has no host")?;
        let port = uri.port_u16().unwrap_or(80);
        let address = (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or("the OTLP endpoint's host does not resolve")?;
        let mut stream = TcpStream::connect_timeout(&address, self.timeout)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {length}\r\nConnection: close\r\n",
            method = request.method(),
            authority = uri.authority().map_or(host, |a| a.as_str()),
            length = request.body().len(),
        );
        for (name, value) in request.headers() {
            if let Ok(value) = value.to_str() {
                head.push_str(name.as_str());
                head.push_str(": ");
                head.push_str(value);
                head.push_str("\r\n");
            }
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(request.body())?;
        stream.flush()?;
        let mut raw = Vec::new();
        stream.take(MAX_RESPONSE_BYTES).read_to_end(&mut raw)?;
        parse_response(&raw)
    }
}

/// A `Connection: close` answer: status line, headers, then the body up to the end.
fn parse_response(raw: &[u8]) -> Result<Response<Bytes>, HttpError> {
    let split =
        memchr::memmem::find(raw, b"\r\n\r\n").ok_or("the collector's answer has no head")?;
    let head = std::str::from_utf8(&raw[..split])?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("the collector's answer has no status")?;
    let mut body = &raw[split + 4..];
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let unchunked;
    if chunked {
        unchunked = dechunk(body);
        body = &unchunked;
    }
    Ok(Response::builder()
        .status(status)
        .body(Bytes::copy_from_slice(body))?)
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

#[async_trait::async_trait]
impl HttpClient for BlockingHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.send(&request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_plain_and_chunked() {
        let plain = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap();
        assert_eq!(plain.status(), 200);
        assert_eq!(plain.body().as_ref(), b"ok");
        let chunked = parse_response(
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbad\r\n4\r\n one\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.status(), 400);
        assert_eq!(chunked.body().as_ref(), b"bad one");
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn https_endpoints_are_refused_with_a_reason() {
        let client = BlockingHttpClient::new(Duration::from_secs(1));
        let request = Request::post("https://collector.example:4318/v1/traces")
            .body(Bytes::new())
            .unwrap();
        let error = client.send(&request).unwrap_err();
        assert!(error.to_string().contains("http://"), "{error}");
    }
}
