//! A call's span while the call runs: its ids, clock readings and the values the call already
//! holds, kept in a [`CallTrace`] that goes to the exporter's queue when the call ends. Nothing
//! here builds attributes or names; an unsampled call records nothing and only passes its ids on.

use std::sync::Arc;
use std::time::SystemTime;

use actix_web::http::header::{HeaderName, HeaderValue};
use opentelemetry_sdk::trace::IdGenerator as _;

use super::call_trace::{AttemptTrace, CallOutcome, CallTrace, TracedKey};
use super::Exporting;
use crate::routing::{KeyProfile, TokenUsage};

impl TracedKey for KeyProfile {
    fn name(&self) -> &str {
        &self.name
    }

    fn provider(&self) -> &str {
        self.provider_id()
    }
}

/// A call's span and its current attempt's.
pub struct CallSpan {
    pub(super) exporting: Arc<Exporting>,
    /// Recorded and exported; when not, only the ids are passed upstream.
    pub(super) sampled: bool,
    pub(super) trace: CallTrace,
    pub(super) attempt: Option<AttemptTrace>,
}

/// What the call's span says at its end.
pub struct CallEnd<'a> {
    pub status: u16,
    /// The last attempt's key.
    pub key: Option<&'a Arc<KeyProfile>>,
    pub model: &'a str,
    pub usage: &'a TokenUsage,
    pub attempts: i32,
    pub finish_reasons: Vec<String>,
    pub error: Option<&'a str>,
}

/// A W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), written by table: the ids' `Display`
/// went through the formatter digit by digit on every attempt.
pub(super) fn traceparent(trace: [u8; 16], span: [u8; 8], flags: u8) -> [u8; 55] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 55];
    out[..2].copy_from_slice(b"00");
    let fields: [(usize, &[u8]); 3] = [(3, &trace), (36, &span), (53, &[flags])];
    for (start, bytes) in fields {
        for (i, b) in bytes.iter().enumerate() {
            out[start + 2 * i] = HEX[usize::from(b >> 4)];
            out[start + 2 * i + 1] = HEX[usize::from(b & 0xf)];
        }
    }
    out
}

impl CallSpan {
    /// Starts an attempt's span (a child of the call's) and returns the `traceparent` that
    /// carries it upstream.
    pub fn begin_attempt<K: TracedKey + 'static>(
        &mut self,
        number: i32,
        key: &Arc<K>,
        model: &str,
    ) -> (HeaderName, HeaderValue) {
        let now = SystemTime::now();
        self.finish_attempt(now, None, None);
        let span_id = self.exporting.ids.new_span_id();
        if self.sampled {
            self.attempt = Some(AttemptTrace {
                span_id,
                number,
                key: key.clone(),
                model: (model != self.trace.request_model).then(|| model.to_owned()),
                start: now,
                end: now,
                status: None,
                error: None,
            });
        }
        let ids = &self.trace.ids;
        let traceparent = traceparent(
            ids.trace_id.to_bytes(),
            span_id.to_bytes(),
            ids.flags.to_u8(),
        );
        (
            super::TRACEPARENT,
            HeaderValue::from_bytes(&traceparent).expect("hex and dashes"),
        )
    }

    /// Ends the current attempt's span, if any: an error when `error` is set.
    pub fn end_attempt(&mut self, status: Option<u16>, error: Option<&str>) {
        if self.attempt.is_some() {
            self.finish_attempt(SystemTime::now(), status, error);
        }
    }

    fn finish_attempt(&mut self, now: SystemTime, status: Option<u16>, error: Option<&str>) {
        let Some(mut attempt) = self.attempt.take() else {
            return;
        };
        attempt.end = now;
        if status.is_some() {
            attempt.status = status;
        }
        attempt.error = error.map(str::to_owned);
        if self.trace.first_attempt.is_none() {
            self.trace.first_attempt = Some(attempt);
        } else {
            self.trace.more_attempts.push(attempt);
        }
    }

    /// Ends the call's span (and its last attempt's) and queues it for export.
    pub fn end(mut self, end: CallEnd<'_>) {
        if !self.sampled {
            return;
        }
        let now = SystemTime::now();
        let failed = end.status >= 400;
        self.finish_attempt(now, Some(end.status), end.error.filter(|_| failed));
        let mut trace = self.trace;
        trace.end = now;
        trace.outcome = CallOutcome {
            status: end.status,
            key: end.key.map(|k| Arc::clone(k) as Arc<dyn TracedKey>),
            response_model: (end.model != trace.request_model).then(|| end.model.to_owned()),
            input_tokens: end.usage.prompt,
            output_tokens: end.usage.completion,
            attempts: end.attempts,
            finish_reasons: end.finish_reasons,
            error: end.error.filter(|_| failed).map(str::to_owned),
        };
        self.exporting.queue.push(trace);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::SpanId;

    use super::*;

    #[test]
    fn traceparent_is_w3c() {
        let trace = opentelemetry::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let span = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        let header = traceparent(trace.to_bytes(), span.to_bytes(), 1);
        assert_eq!(
            std::str::from_utf8(&header).unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }
}
