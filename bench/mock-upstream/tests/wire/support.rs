//! A small HTTP client for the mock, and an SSE parser.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use actix_web::http::StatusCode;
use bytes::BytesMut;
use futures_util::StreamExt;
use serde_json::Value;

/// How long a test waits for bytes before deciding the stream went silent.
pub const SILENCE: Duration = Duration::from_millis(300);

pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub text: String,
    /// The body ended in a transport error rather than cleanly. awc reports a connection closed
    /// mid-chunked-body as a clean end, so resets are checked with [`post_raw`].
    pub broken: bool,
    /// The body went silent for [`SILENCE`] before ending.
    pub stalled: bool,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `(event name, data)` for each SSE event; the name is `None` for bare `data:` events.
    pub fn events(&self) -> Vec<(Option<String>, String)> {
        sse_events(&self.text)
    }

    /// The data of each event parsed as JSON (`[DONE]` left out).
    pub fn data(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|(_, d)| d != "[DONE]")
            .map(|(_, d)| serde_json::from_str(&d).unwrap())
            .collect()
    }
}

pub fn sse_events(text: &str) -> Vec<(Option<String>, String)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = None;
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                } else {
                    panic!("unexpected SSE line {line:?} in {text:?}");
                }
            }
            (name, data)
        })
        .collect()
}

pub async fn post(url: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    let mut req = client.post(url);
    for (n, v) in headers {
        req = req.insert_header((*n, *v));
    }
    let mut resp = req.send_json(body).await.expect("the mock answers");
    let status = resp.status();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let mut buf = BytesMut::new();
    let (mut broken, mut stalled) = (false, false);
    loop {
        match tokio::time::timeout(SILENCE, resp.next()).await {
            Ok(Some(Ok(bytes))) => buf.extend_from_slice(&bytes),
            Ok(Some(Err(_))) => {
                broken = true;
                break;
            }
            Ok(None) => break,
            Err(_) => {
                stalled = true;
                break;
            }
        }
    }
    Reply {
        status,
        headers,
        text: String::from_utf8(buf.to_vec()).unwrap(),
        broken,
        stalled,
    }
}

/// POSTs over a bare socket and returns everything the server sent before closing: the raw
/// HTTP/1.1 response, chunk framing included, so a reset shows as a missing final `0` chunk.
pub fn post_raw(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &Value) -> String {
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    write!(stream, "{head}\r\n{body}").unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    String::from_utf8(raw).unwrap()
}
