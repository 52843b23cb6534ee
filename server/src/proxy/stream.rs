//! Relaying a streamed answer to the client: each upstream read is translated (by the provider's
//! [`StreamTranslator`]) and forwarded as soon as it holds whole events, never buffered to the end.
//! The call is accounted when the stream completes (before the client sees `[DONE]`), and a
//! broken, stalled or truncated upstream, or an upstream error event, becomes an explicit error
//! event — never a fake clean `[DONE]`. Dropping the stream (client gone) drops the upstream
//! connection and logs the call as 499.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use super::record::CallRecord;
use crate::adapters::sse::{data_event, SseSplitter};
use crate::adapters::{StreamStep, StreamTranslator};
use crate::error::error_body;
use crate::routing::Signal;

/// Status logged when the client went away before the end.
const CLIENT_CLOSED: u16 = 499;

pub struct RelayOptions {
    pub idle_timeout: Duration,
    /// The key itself, to scrub should an upstream echo it.
    pub scrub: Option<String>,
}

struct Relay<S, T: StreamTranslator> {
    upstream: S,
    splitter: SseSplitter,
    translator: T,
    options: RelayOptions,
    record: Option<CallRecord>,
    finished: bool,
}

impl<S, T: StreamTranslator> Drop for Relay<S, T> {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            record.finish(
                CLIENT_CLOSED,
                self.translator.usage(),
                Some("client disconnected before the end of the stream".into()),
            );
        }
    }
}

impl<S, T: StreamTranslator> Relay<S, T> {
    /// Ends the stream with an error event the client's SDK will raise.
    fn fail(&mut self, status: u16, message: String, out: &mut BytesMut) {
        self.finished = true;
        if let Some(mut record) = self.record.take() {
            record.attempt_failed(Signal::Failure, Some(status), message.clone());
            record.finish(status, self.translator.usage(), Some(message.clone()));
        }
        out.extend_from_slice(&data_event(&error_body(
            &message,
            "api_error",
            None,
            Some("upstream_stream_error"),
        )));
    }

    /// Translates the complete events in the splitter; returns what to send now.
    fn drain_events(&mut self) -> BytesMut {
        let mut out = BytesMut::new();
        while let Some(event) = self.splitter.next_event() {
            match self.translator.translate(&event, &mut out) {
                StreamStep::Continue => {}
                StreamStep::Done => {
                    self.finished = true;
                    if let Some(record) = self.record.take() {
                        record.finish(200, self.translator.usage(), None);
                    }
                    break;
                }
                StreamStep::Failed(message) => {
                    self.fail(502, message, &mut out);
                    break;
                }
            }
        }
        if let Some(secret) = &self.options.scrub {
            if memchr::memmem::find(&out, secret.as_bytes()).is_some() {
                let text = String::from_utf8_lossy(&out).replace(secret.as_str(), "***");
                return BytesMut::from(text.as_bytes());
            }
        }
        out
    }
}

/// Wraps the upstream body.
pub fn relay<S, E, T>(
    upstream: S,
    translator: T,
    record: CallRecord,
    options: RelayOptions,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + 'static,
    E: std::fmt::Display,
    T: StreamTranslator + 'static,
{
    let relay = Relay {
        upstream,
        splitter: SseSplitter::default(),
        translator,
        options,
        record: Some(record),
        finished: false,
    };
    futures_util::stream::unfold(relay, |mut relay| async move {
        loop {
            if relay.finished {
                return None;
            }
            let next =
                tokio::time::timeout(relay.options.idle_timeout, relay.upstream.next()).await;
            let mut out = match next {
                Ok(Some(Ok(bytes))) => {
                    relay.splitter.push(&bytes);
                    relay.drain_events()
                }
                Ok(Some(Err(e))) => {
                    let mut out = BytesMut::new();
                    relay.fail(
                        502,
                        format!("the upstream connection failed mid-stream: {e}"),
                        &mut out,
                    );
                    out
                }
                Ok(None) => {
                    let mut out = BytesMut::new();
                    relay.fail(
                        502,
                        "the upstream closed the stream before it was complete".into(),
                        &mut out,
                    );
                    out
                }
                Err(_) => {
                    let idle = relay.options.idle_timeout;
                    let mut out = BytesMut::new();
                    relay.fail(
                        504,
                        format!("the upstream stream was silent for {idle:?}"),
                        &mut out,
                    );
                    out
                }
            };
            if !out.is_empty() {
                return Some((Ok(std::mem::take(&mut out).freeze()), relay));
            }
        }
    })
}
