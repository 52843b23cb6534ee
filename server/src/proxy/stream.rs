//! Relaying a streamed answer to the client: each upstream read is passed to the call's
//! [`StreamTranslator`] (a passthrough relay, or a translation between dialects) and forwarded as
//! soon as it holds whole events, never buffered to the end. The call is accounted when the
//! stream completes (before the client sees its terminator), and a broken, stalled or truncated
//! upstream, or an upstream error event, becomes an explicit error event in the client's
//! dialect — never a fake clean end. An event that never ends is cut off at
//! [`MAX_PENDING_EVENT`] bytes, with an error event. Dropping the stream (client gone) drops the upstream
//! connection and logs the call as 499.

use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{FutureExt, Stream, StreamExt};
use tokio::time::{Instant, Sleep};

use super::record::CallRecord;
use super::scrub::{scrub_text, Scrubber};
use crate::adapters::canonical::{ErrorKind, StreamFailure};
use crate::adapters::sse::{SseSplitter, MAX_PENDING_EVENT};
use crate::adapters::{StreamStep, StreamTranslator};
use crate::routing::Signal;

/// Status logged when the client went away before the end.
const CLIENT_CLOSED: u16 = 499;

/// After `[DONE]` the upstream body is read to its end, so the connection goes back to the pool:
/// a body dropped unfinished closes its connection, and every stream then paid a new TCP
/// connect (measured at 1,000 concurrent streams: one `socket`/`connect` per stream, gone with
/// this). Bounded, for an upstream that keeps sending or never ends the body.
const DRAIN_WINDOW: Duration = Duration::from_millis(500);
const DRAIN_LIMIT: usize = 64 * 1024;

pub struct RelayOptions {
    pub idle_timeout: Duration,
    /// The key, to scrub should an upstream echo it.
    pub scrubber: Option<Scrubber>,
}

struct Relay<S, T: StreamTranslator> {
    /// Taken once the upstream has nothing more to give (its end, an error, a stall) or when it
    /// is handed to [`drain_to_end`].
    upstream: Option<S>,
    splitter: SseSplitter,
    translator: T,
    options: RelayOptions,
    record: Option<CallRecord>,
    finished: bool,
    /// The idle timer, moved only when it fires: re-arming a timer for every chunk was a
    /// measurable share of a stream's CPU, so each chunk just notes when it came.
    idle: Pin<Box<Sleep>>,
    last_data: Instant,
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
    /// Ends the stream with an error event the client's SDK will raise; the upstream connection
    /// is not reused.
    fn fail_broken(&mut self, status: u16, failure: StreamFailure, out: &mut BytesMut) {
        self.upstream = None;
        self.fail(status, failure, out);
    }

    /// Ends the stream with an error event the client's SDK will raise.
    fn fail(&mut self, status: u16, failure: StreamFailure, out: &mut BytesMut) {
        self.finished = true;
        if let Some(mut record) = self.record.take() {
            // The message may quote the upstream: scrubbed before the call log keeps it.
            let message = scrub_text(self.options.scrubber.as_ref(), failure.message.clone());
            record.attempt_failed(Signal::Failure, Some(status), message.clone());
            record.finish(status, self.translator.usage(), Some(message));
        }
        if !failure.delivered {
            self.translator.write_failure(&failure, out);
        }
    }

    /// Translates the complete events in the splitter; returns what to send now.
    fn drain_events(&mut self) -> BytesMut {
        let mut out = BytesMut::new();
        while let Some(event) = self.splitter.next_event() {
            match self.translator.translate(&event, &mut out) {
                StreamStep::Continue => {}
                StreamStep::Done => {
                    self.finished = true;
                    if let Some(mut record) = self.record.take() {
                        if let Some(id) = self.translator.stored_response() {
                            record.stored_response(id);
                        }
                        record.finish(200, self.translator.usage(), None);
                    }
                    break;
                }
                StreamStep::Failed(failure) => {
                    self.fail(502, failure, &mut out);
                    break;
                }
            }
        }
        if !self.finished && self.splitter.overflowed() {
            self.fail_broken(
                502,
                StreamFailure::new(
                    ErrorKind::Api,
                    format!(
                        "the upstream sent a stream event longer than {} bytes without ending it",
                        MAX_PENDING_EVENT
                    ),
                ),
                &mut out,
            );
        }
        if let Some(scrubber) = &self.options.scrubber {
            if let std::borrow::Cow::Owned(scrubbed) = scrubber.bytes(&out) {
                return BytesMut::from(&scrubbed[..]);
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
        upstream: Some(upstream),
        splitter: SseSplitter::default(),
        translator,
        record: Some(record),
        finished: false,
        idle: Box::pin(tokio::time::sleep(options.idle_timeout)),
        last_data: Instant::now(),
        options,
    };
    futures_util::stream::unfold(relay, |mut relay| async move {
        loop {
            let Some(upstream) = relay.upstream.as_mut().filter(|_| !relay.finished) else {
                if let Some(upstream) = relay.upstream.take() {
                    drain_to_end(upstream);
                }
                return None;
            };
            let next = loop {
                tokio::select! {
                    biased;
                    item = upstream.next() => break Ok(item),
                    () = relay.idle.as_mut() => {
                        let deadline = relay.last_data + relay.options.idle_timeout;
                        if deadline <= Instant::now() {
                            break Err(());
                        }
                        relay.idle.as_mut().reset(deadline);
                    }
                }
            };
            let mut out = match next {
                Ok(Some(Ok(bytes))) => {
                    relay.last_data = Instant::now();
                    relay.splitter.push(&bytes);
                    relay.drain_events()
                }
                Ok(Some(Err(e))) => {
                    let mut out = BytesMut::new();
                    relay.fail_broken(
                        502,
                        StreamFailure::new(
                            ErrorKind::Api,
                            format!("the upstream connection failed mid-stream: {e}"),
                        ),
                        &mut out,
                    );
                    out
                }
                Ok(None) => {
                    let mut out = BytesMut::new();
                    relay.fail_broken(
                        502,
                        StreamFailure::new(
                            ErrorKind::Api,
                            "the upstream closed the stream before it was complete",
                        ),
                        &mut out,
                    );
                    out
                }
                Err(_) => {
                    let idle = relay.options.idle_timeout;
                    let mut out = BytesMut::new();
                    relay.fail_broken(
                        504,
                        StreamFailure::new(
                            ErrorKind::Timeout,
                            format!("the upstream stream was silent for {idle:?}"),
                        ),
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

/// Reads what is left of a finished stream's body (normally just the chunked terminator, already
/// received) so its connection is pooled. Done in place when it is already there, otherwise in
/// the background, so the client's stream ends at once either way.
fn drain_to_end<S, E>(mut upstream: S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + 'static,
{
    let mut drained = 0;
    loop {
        match upstream.next().now_or_never() {
            Some(Some(Ok(bytes))) => {
                drained += bytes.len();
                if drained > DRAIN_LIMIT {
                    return;
                }
            }
            Some(_) => return,
            None => break,
        }
    }
    actix_web::rt::spawn(async move {
        let _ = tokio::time::timeout(DRAIN_WINDOW, async move {
            while let Some(Ok(bytes)) = upstream.next().await {
                drained += bytes.len();
                if drained > DRAIN_LIMIT {
                    return;
                }
            }
        })
        .await;
    });
}
