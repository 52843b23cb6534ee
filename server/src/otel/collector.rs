//! The collector an export's body is posted to, with the retries OTLP/HTTP asks for: a failed
//! connection, `429`, `502`, `503` and `504` are tried again (up to three times, after 100, 200
//! and 400 ms, within the export's timeout); any other answer but `2xx` is an error at once.

use std::time::{Duration, Instant};

use super::http_client::{BlockingHttpClient, HttpError};

/// Where the export queue's thread sends each body.
pub trait SendExport: Send + 'static {
    fn send(&mut self, body: &[u8]) -> Result<(), ExportError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("the collector answered HTTP {0}")]
    Status(u16),
}

impl ExportError {
    /// Whether trying again may succeed.
    fn is_transient(&self) -> bool {
        match self {
            Self::Http(HttpError::NotHttp(_) | HttpError::NoHost(_)) => false,
            Self::Http(_) => true,
            Self::Status(status) => matches!(status, 429 | 502 | 503 | 504),
        }
    }
}

const RETRIES: u32 = 3;
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

pub struct Collector {
    client: BlockingHttpClient,
    /// Longest an export takes, its retries included (a try already begun may overrun it).
    timeout: Duration,
}

impl Collector {
    pub fn new(client: BlockingHttpClient, timeout: Duration) -> Self {
        Self { client, timeout }
    }

    fn try_once(&self, body: &[u8]) -> Result<(), ExportError> {
        let answer = self.client.post(body)?;
        if (200..300).contains(&answer.status) {
            Ok(())
        } else {
            Err(ExportError::Status(answer.status))
        }
    }
}

impl SendExport for Collector {
    fn send(&mut self, body: &[u8]) -> Result<(), ExportError> {
        let deadline = Instant::now() + self.timeout;
        let mut delay = FIRST_RETRY_DELAY;
        let mut retries = 0;
        loop {
            match self.try_once(body) {
                Err(e)
                    if e.is_transient()
                        && retries < RETRIES
                        && Instant::now() + delay < deadline =>
                {
                    std::thread::sleep(delay);
                    delay *= 2;
                    retries += 1;
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;
    use crate::otel::http_client::Endpoint;

    /// A collector on 127.0.0.1 that answers its connections with `statuses` in turn (then
    /// `418`, which is not tried again), until [`Scripted::tries`] says it is done.
    struct Scripted {
        address: std::net::SocketAddr,
        server: std::thread::JoinHandle<usize>,
    }

    impl Scripted {
        fn start(statuses: &[u16]) -> (Collector, Self) {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap();
            let client = BlockingHttpClient::new(
                Endpoint::parse(&format!("http://{address}/v1/traces")).unwrap(),
                "application/x-protobuf",
                &[],
                Duration::from_secs(5),
            );
            let statuses = statuses.to_vec();
            let server = std::thread::spawn(move || {
                let mut statuses = statuses.into_iter();
                for (tries, stream) in listener.incoming().enumerate() {
                    let mut stream = stream.unwrap();
                    let mut raw = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !raw.ends_with(b"spans") && !raw.ends_with(b"done") {
                        let n = stream.read(&mut buf).unwrap();
                        assert!(n > 0, "the request ended early");
                        raw.extend_from_slice(&buf[..n]);
                    }
                    if raw == b"done" {
                        return tries;
                    }
                    assert!(raw.ends_with(b"\r\n\r\nspans"), "the batch is the body");
                    let status = statuses.next().unwrap_or(418);
                    let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
                    stream.write_all(answer.as_bytes()).unwrap();
                }
                unreachable!("the listener stops only when told")
            });
            (
                Collector::new(client, Duration::from_secs(5)),
                Self { address, server },
            )
        }

        /// How many posts the collector saw.
        fn tries(self) -> usize {
            std::net::TcpStream::connect(self.address)
                .unwrap()
                .write_all(b"done")
                .unwrap();
            self.server.join().unwrap()
        }
    }

    #[test]
    fn an_unavailable_collector_is_tried_again_until_it_takes_the_batch() {
        let (mut collector, collector_side) = Scripted::start(&[503, 429, 200]);
        collector.send(b"spans").unwrap();
        assert_eq!(collector_side.tries(), 3);
    }

    #[test]
    fn a_refused_batch_is_an_error_at_once() {
        let (mut collector, collector_side) = Scripted::start(&[400]);
        let error = collector.send(b"spans").unwrap_err();
        assert!(matches!(error, ExportError::Status(400)), "{error}");
        assert_eq!(collector_side.tries(), 1);
    }

    #[test]
    fn retries_stop_after_three() {
        let (mut collector, collector_side) = Scripted::start(&[503; 5]);
        let error = collector.send(b"spans").unwrap_err();
        assert!(matches!(error, ExportError::Status(503)), "{error}");
        assert_eq!(
            collector_side.tries(),
            4,
            "the first post and three retries"
        );
    }

    #[test]
    fn only_transient_failures_are_tried_again() {
        for status in [429, 502, 503, 504] {
            assert!(ExportError::Status(status).is_transient(), "{status}");
        }
        for status in [400, 401, 404, 413, 500] {
            assert!(!ExportError::Status(status).is_transient(), "{status}");
        }
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(ExportError::Http(refused.into()).is_transient());
        assert!(!ExportError::Http(HttpError::NotHttp("https://c".into())).is_transient());
    }
}
