//! Relaying an OpenAI-format SSE stream to the client: each upstream read is forwarded as soon as
//! it holds whole events (never buffered to the end), the usage chunk api-proxy asked for on its
//! own account is removed unless the client asked for it too, the call is accounted when `[DONE]`
//! arrives (before the client sees it), and a broken, stalled or truncated upstream becomes an
//! explicit error event — never a fake clean `[DONE]`. Dropping the stream (client gone) drops the
//! upstream connection and logs the call as 499.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use super::record::CallRecord;
use crate::adapters::openai::chunk_usage;
use crate::adapters::sse::{data_event, parse_event, SseSplitter};
use crate::error::error_body;
use crate::routing::TokenUsage;

/// Status logged when the client went away before the end.
const CLIENT_CLOSED: u16 = 499;

pub struct RelayOptions {
    /// Drop the final usage-only chunk (the client did not ask for it).
    pub strip_usage: bool,
    pub idle_timeout: Duration,
    /// Strings that must never reach the client (the key itself, should an upstream echo it).
    pub scrub: Option<String>,
}

struct Relay<S> {
    upstream: S,
    splitter: SseSplitter,
    options: RelayOptions,
    record: Option<CallRecord>,
    usage: Option<TokenUsage>,
    ttfb_ms: f64,
    finished: bool,
}

impl<S> Drop for Relay<S> {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            let latency = self.ttfb_ms;
            record.finish(
                CLIENT_CLOSED,
                self.usage,
                Some("client disconnected before the end of the stream".into()),
                latency,
            );
        }
    }
}

impl<S> Relay<S> {
    fn finish_ok(&mut self) {
        if let Some(record) = self.record.take() {
            record.finish(200, self.usage, None, self.ttfb_ms);
        }
    }

    /// Ends the stream with an error event the client's SDK will raise.
    fn fail(&mut self, status: u16, message: String) -> Bytes {
        self.finished = true;
        if let Some(record) = self.record.take() {
            record.attempt_failed(false);
            record.finish(status, self.usage, Some(message.clone()), self.ttfb_ms);
        }
        data_event(&error_body(
            &message,
            "api_error",
            None,
            Some("upstream_stream_error"),
        ))
    }

    /// Forwards the complete events in the splitter; returns what to send now.
    fn drain_events(&mut self) -> BytesMut {
        let mut out = BytesMut::new();
        while let Some(event) = self.splitter.next_event() {
            let parsed = parse_event(&event);
            if let Some(data) = parsed.data.as_deref() {
                if data.trim_ascii() == b"[DONE]" {
                    self.finished = true;
                    self.finish_ok();
                    out.extend_from_slice(&event);
                    return out;
                }
                let info = chunk_usage(data);
                if info.usage.is_some() {
                    self.usage = info.usage;
                }
                if info.usage_only && self.options.strip_usage {
                    continue;
                }
            }
            match &self.options.scrub {
                Some(secret) if memchr::memmem::find(&event, secret.as_bytes()).is_some() => {
                    let text = String::from_utf8_lossy(&event).replace(secret.as_str(), "***");
                    out.extend_from_slice(text.as_bytes());
                }
                _ => out.extend_from_slice(&event),
            }
        }
        out
    }
}

/// Wraps the upstream body; `ttfb_ms` is the attempt's time to response head.
pub fn relay<S, E>(
    upstream: S,
    record: CallRecord,
    options: RelayOptions,
    ttfb_ms: f64,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + 'static,
    E: std::fmt::Display,
{
    let relay = Relay {
        upstream,
        splitter: SseSplitter::default(),
        options,
        record: Some(record),
        usage: None,
        ttfb_ms,
        finished: false,
    };
    futures_util::stream::unfold(relay, |mut relay| async move {
        loop {
            if relay.finished {
                return None;
            }
            let next =
                tokio::time::timeout(relay.options.idle_timeout, relay.upstream.next()).await;
            match next {
                Ok(Some(Ok(bytes))) => {
                    relay.splitter.push(&bytes);
                    let out = relay.drain_events();
                    if !out.is_empty() {
                        return Some((Ok(out.freeze()), relay));
                    }
                }
                Ok(Some(Err(e))) => {
                    let event = relay.fail(
                        502,
                        format!("the upstream connection failed mid-stream: {e}"),
                    );
                    return Some((Ok(event), relay));
                }
                Ok(None) => {
                    let event = relay.fail(
                        502,
                        "the upstream closed the stream before it was complete".into(),
                    );
                    return Some((Ok(event), relay));
                }
                Err(_) => {
                    let idle = relay.options.idle_timeout;
                    let event =
                        relay.fail(504, format!("the upstream stream was silent for {idle:?}"));
                    return Some((Ok(event), relay));
                }
            }
        }
    })
}
