//! A traced call as the request path records it.
//!
//! The request path only takes ids, clock readings and the values it already holds (the key's
//! `Arc`, the model, the counts); span names and attributes are written on the exporter's
//! thread, straight into the export's body ([`otlp_encoding`]). A call and its attempts travel
//! to that thread as one record, so the request path hands over one value per call, not one per
//! span.
//!
//! [`otlp_encoding`]: super::otlp_encoding

use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

/// What a span says about the key an attempt used.
pub trait TracedKey: Send + Sync {
    fn name(&self) -> &str;
    fn provider(&self) -> &str;
}

/// The ids every span of a call shares.
#[derive(Clone, Debug)]
pub struct TraceIds {
    pub trace_id: TraceId,
    pub flags: TraceFlags,
    pub state: TraceState,
}

/// One upstream attempt: a child span of the call's.
pub struct AttemptTrace {
    pub span_id: SpanId,
    pub number: i32,
    pub key: Arc<dyn TracedKey>,
    /// The model asked of the upstream, when not the one the client asked for.
    pub model: Option<String>,
    pub start: SystemTime,
    pub end: SystemTime,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// How the call ended.
pub struct CallOutcome {
    pub status: u16,
    /// The key of the last attempt.
    pub key: Option<Arc<dyn TracedKey>>,
    /// The model that answered, when not the one the client asked for.
    pub response_model: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub attempts: i32,
    pub finish_reasons: Vec<String>,
    pub error: Option<String>,
}

/// One traced call: its span and its attempts' spans.
pub struct CallTrace {
    pub ids: TraceIds,
    pub span_id: SpanId,
    /// The client's span, when the client sent a `traceparent`.
    pub remote_parent: Option<SpanId>,
    pub start: SystemTime,
    pub end: SystemTime,
    pub endpoint: &'static str,
    pub request_model: String,
    /// The first attempt apart, so a call with one attempt needs no list.
    pub first_attempt: Option<AttemptTrace>,
    pub more_attempts: Vec<AttemptTrace>,
    pub outcome: CallOutcome,
}

impl CallTrace {
    /// Spans this record becomes.
    pub fn span_count(&self) -> usize {
        1 + usize::from(self.first_attempt.is_some()) + self.more_attempts.len()
    }
}

/// `gen_ai.operation.name` of an endpoint.
pub fn operation_name(endpoint: &'static str) -> &'static str {
    match endpoint {
        "embeddings" => "embeddings",
        _ => "chat",
    }
}
