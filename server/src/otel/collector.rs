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
    use super::*;

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
