//! The OTLP/HTTP protobuf body (`ExportTraceServiceRequest`) of a batch of calls, written
//! straight from the [`CallTrace`] records: one `ResourceSpans` with the service's resource, one
//! `ScopeSpans` with the `api-proxy` scope, a span per call and one per attempt.
//!
//! Going through the SDK's `SpanData` and `opentelemetry-proto`'s types cost several times as
//! much: every name, key and value was copied into an owned `String`, and `prost` recomputed
//! each nested message's length at every level. Here the resource and the scope are encoded
//! once, attribute lengths are known before they are written, and a span's length is written
//! once its content is (see [`Nested`]).
//!
//! The field numbers are those of opentelemetry-proto's `.proto` files (collector/trace/v1,
//! trace/v1, common/v1, resource/v1); the tests decode what is written here with the generated
//! types and compare it with what `opentelemetry-proto` makes of the SDK's spans.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::{Array, InstrumentationScope, Value};
use opentelemetry_sdk::Resource;

use super::call_trace::{operation_name, AttemptTrace, CallTrace};

/// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// A field's tag, for field numbers below 16 (one byte).
const fn tag(field: u8, wire: u8) -> u8 {
    (field << 3) | wire
}

// ExportTraceServiceRequest
const REQUEST_RESOURCE_SPANS: u8 = tag(1, LEN);
// ResourceSpans
const RESOURCE_SPANS_RESOURCE: u8 = tag(1, LEN);
const RESOURCE_SPANS_SCOPE_SPANS: u8 = tag(2, LEN);
const RESOURCE_SPANS_SCHEMA_URL: u8 = tag(3, LEN);
// Resource
const RESOURCE_ATTRIBUTES: u8 = tag(1, LEN);
// ScopeSpans
const SCOPE_SPANS_SCOPE: u8 = tag(1, LEN);
const SCOPE_SPANS_SPANS: u8 = tag(2, LEN);
const SCOPE_SPANS_SCHEMA_URL: u8 = tag(3, LEN);
// InstrumentationScope
const SCOPE_NAME: u8 = tag(1, LEN);
const SCOPE_VERSION: u8 = tag(2, LEN);
const SCOPE_ATTRIBUTES: u8 = tag(3, LEN);
// Span
const SPAN_TRACE_ID: u8 = tag(1, LEN);
const SPAN_SPAN_ID: u8 = tag(2, LEN);
const SPAN_TRACE_STATE: u8 = tag(3, LEN);
const SPAN_PARENT_SPAN_ID: u8 = tag(4, LEN);
const SPAN_NAME: u8 = tag(5, LEN);
const SPAN_KIND: u8 = tag(6, VARINT);
const SPAN_START_TIME: u8 = tag(7, FIXED64);
const SPAN_END_TIME: u8 = tag(8, FIXED64);
const SPAN_ATTRIBUTES: u8 = tag(9, LEN);
const SPAN_STATUS: u8 = tag(15, LEN);
/// Field 16 (`flags`, fixed32): a tag of two varint bytes.
const SPAN_FLAGS: [u8; 2] = {
    let tag = (16 << 3) | FIXED32 as u16;
    [0x80 | (tag & 0x7f) as u8, (tag >> 7) as u8]
};
// Status
const STATUS_MESSAGE: u8 = tag(2, LEN);
const STATUS_CODE: u8 = tag(3, VARINT);
// KeyValue
const KEY_VALUE_KEY: u8 = tag(1, LEN);
const KEY_VALUE_VALUE: u8 = tag(2, LEN);
// AnyValue
const ANY_STRING: u8 = tag(1, LEN);
const ANY_BOOL: u8 = tag(2, VARINT);
const ANY_INT: u8 = tag(3, VARINT);
const ANY_DOUBLE: u8 = tag(4, FIXED64);
const ANY_ARRAY: u8 = tag(5, LEN);
// ArrayValue
const ARRAY_VALUES: u8 = tag(1, LEN);

/// `Span.SpanKind`.
const KIND_SERVER: u64 = 2;
const KIND_CLIENT: u64 = 3;
/// `Status.StatusCode`.
const STATUS_ERROR: u64 = 2;
/// `SpanFlags`: whether the parent is remote is known, and is true.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

/// Length-delimited content whose length is only known once it is written. The length's bytes
/// are reserved before it (as many as its expected size needs) and written after; when the
/// content turns out to need more or fewer, it is moved once. Computing every size bottom-up
/// first would walk each call twice with the same logic twice; reserving a fixed five bytes
/// would write non-minimal varints. A span (a few hundred bytes) fits its two reserved bytes,
/// and a batch (under 2 MiB) its three, so nothing moves in practice.
struct Nested {
    /// Where the reserved length bytes start.
    at: usize,
    reserved: usize,
}

impl Nested {
    fn open(out: &mut Vec<u8>, tag: u8, reserved: usize) -> Self {
        out.push(tag);
        let at = out.len();
        out.resize(at + reserved, 0);
        Self { at, reserved }
    }

    fn close(self, out: &mut Vec<u8>) {
        let content = self.at + self.reserved;
        let len = out.len() - content;
        let needed = varint_len(len as u64);
        if needed != self.reserved {
            if needed > self.reserved {
                out.resize(out.len() + needed - self.reserved, 0);
            }
            out.copy_within(content..content + len, self.at + needed);
            out.truncate(self.at + needed + len);
        }
        let mut at = self.at;
        let mut value = len as u64;
        for _ in 1..needed {
            out[at] = (value as u8) | 0x80;
            value >>= 7;
            at += 1;
        }
        out[at] = value as u8;
    }
}

fn varint_len(value: u64) -> usize {
    // One byte per 7 significant bits, at least one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A length-delimited field of known content.
fn put_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A string field, left out when empty (as proto3 has it).
fn put_str(out: &mut Vec<u8>, tag: u8, value: &str) {
    if !value.is_empty() {
        put_bytes(out, tag, value.as_bytes());
    }
}

/// Size of a length-delimited field's content with its tag and length.
fn field_len(content: usize) -> usize {
    1 + varint_len(content as u64) + content
}

/// A span attribute's (`KeyValue`'s) tag, length and key, up to its value (an `AnyValue` of
/// `any_len` bytes).
fn attribute_head(out: &mut Vec<u8>, key: &str, any_len: usize) {
    out.push(SPAN_ATTRIBUTES);
    put_varint(out, (field_len(key.len()) + field_len(any_len)) as u64);
    put_bytes(out, KEY_VALUE_KEY, key.as_bytes());
    out.push(KEY_VALUE_VALUE);
    put_varint(out, any_len as u64);
}

/// A span attribute (`KeyValue`) whose value is a string.
fn string_attribute(out: &mut Vec<u8>, key: &str, value: &str) {
    let any_len = field_len(value.len());
    attribute_head(out, key, any_len);
    // A oneof's value is written even when empty.
    put_bytes(out, ANY_STRING, value.as_bytes());
}

/// A span attribute whose value is an `i64`.
fn int_attribute(out: &mut Vec<u8>, key: &str, value: i64) {
    // int64 is a varint of the two's complement (ten bytes when negative).
    let value = value as u64;
    let any_len = 1 + varint_len(value);
    attribute_head(out, key, any_len);
    out.push(ANY_INT);
    put_varint(out, value);
}

/// A span attribute whose value is an array of strings.
fn strings_attribute(out: &mut Vec<u8>, key: &str, values: &[String]) {
    let array_len: usize = values.iter().map(|v| field_len(field_len(v.len()))).sum();
    let any_len = field_len(array_len);
    attribute_head(out, key, any_len);
    out.push(ANY_ARRAY);
    put_varint(out, array_len as u64);
    for value in values {
        out.push(ARRAY_VALUES);
        put_varint(out, field_len(value.len()) as u64);
        put_bytes(out, ANY_STRING, value.as_bytes());
    }
}

/// Any attribute value (the resource's and the scope's, written once).
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => {
            out.push(ANY_BOOL);
            put_varint(out, u64::from(*b));
        }
        Value::I64(i) => {
            out.push(ANY_INT);
            put_varint(out, *i as u64);
        }
        Value::F64(f) => {
            out.push(ANY_DOUBLE);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::String(s) => put_bytes(out, ANY_STRING, s.as_str().as_bytes()),
        Value::Array(array) => {
            let values: Vec<Value> = match array {
                Array::Bool(v) => v.iter().copied().map(Value::Bool).collect(),
                Array::I64(v) => v.iter().copied().map(Value::I64).collect(),
                Array::F64(v) => v.iter().copied().map(Value::F64).collect(),
                Array::String(v) => v.iter().cloned().map(Value::String).collect(),
                _ => Vec::new(),
            };
            let array = Nested::open(out, ANY_ARRAY, 1);
            for value in &values {
                let element = Nested::open(out, ARRAY_VALUES, 1);
                any_value(out, value);
                element.close(out);
            }
            array.close(out);
        }
        // Newer value kinds: written as their text.
        other => put_bytes(out, ANY_STRING, other.as_str().as_bytes()),
    }
}

/// A `KeyValue` field of any value.
fn key_value(out: &mut Vec<u8>, tag: u8, key: &str, value: &Value) {
    let field = Nested::open(out, tag, 1);
    put_bytes(out, KEY_VALUE_KEY, key.as_bytes());
    let any = Nested::open(out, KEY_VALUE_VALUE, 1);
    any_value(out, value);
    any.close(out);
    field.close(out);
}

fn to_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Writes the bodies of trace exports.
pub struct TraceEncoder {
    /// `ResourceSpans.resource` and `.schema_url`, encoded once.
    resource: Vec<u8>,
    /// `ScopeSpans.scope` and `.schema_url`, encoded once.
    scope: Vec<u8>,
}

impl TraceEncoder {
    pub fn new(resource: &Resource, scope: &InstrumentationScope) -> Self {
        let mut encoded_resource = Vec::new();
        let field = Nested::open(&mut encoded_resource, RESOURCE_SPANS_RESOURCE, 2);
        for (key, value) in resource.iter() {
            key_value(
                &mut encoded_resource,
                RESOURCE_ATTRIBUTES,
                key.as_str(),
                value,
            );
        }
        field.close(&mut encoded_resource);
        put_str(
            &mut encoded_resource,
            RESOURCE_SPANS_SCHEMA_URL,
            resource.schema_url().unwrap_or_default(),
        );

        let mut encoded_scope = Vec::new();
        let field = Nested::open(&mut encoded_scope, SCOPE_SPANS_SCOPE, 1);
        put_str(&mut encoded_scope, SCOPE_NAME, scope.name());
        put_str(
            &mut encoded_scope,
            SCOPE_VERSION,
            scope.version().unwrap_or_default(),
        );
        for kv in scope.attributes() {
            key_value(
                &mut encoded_scope,
                SCOPE_ATTRIBUTES,
                kv.key.as_str(),
                &kv.value,
            );
        }
        field.close(&mut encoded_scope);
        put_str(
            &mut encoded_scope,
            SCOPE_SPANS_SCHEMA_URL,
            scope.schema_url().unwrap_or_default(),
        );
        Self {
            resource: encoded_resource,
            scope: encoded_scope,
        }
    }

    /// Starts a request's body in `out` (cleared first); calls are then added with
    /// [`RequestBody::push`].
    pub fn start<'a>(&self, out: &'a mut Vec<u8>) -> RequestBody<'a> {
        out.clear();
        let resource_spans = Nested::open(out, REQUEST_RESOURCE_SPANS, 3);
        out.extend_from_slice(&self.resource);
        let scope_spans = Nested::open(out, RESOURCE_SPANS_SCOPE_SPANS, 3);
        out.extend_from_slice(&self.scope);
        RequestBody {
            out,
            resource_spans,
            scope_spans,
        }
    }
}

/// An `ExportTraceServiceRequest` being written.
pub struct RequestBody<'a> {
    out: &'a mut Vec<u8>,
    resource_spans: Nested,
    scope_spans: Nested,
}

/// What every span of a call shares.
struct Shared<'a> {
    trace_id: [u8; 16],
    trace_state: &'a str,
    trace_flags: u32,
    request_model: &'a str,
}

impl RequestBody<'_> {
    /// Adds a call's span and its attempts' spans.
    pub fn push(&mut self, call: &CallTrace) {
        let out = &mut *self.out;
        // Most of a span's few hundred bytes at once, rather than growing on the way.
        out.reserve(512 * call.span_count());
        let trace_state = call.ids.state.header();
        let shared = Shared {
            trace_id: call.ids.trace_id.to_bytes(),
            trace_state: &trace_state,
            trace_flags: u32::from(call.ids.flags.to_u8()),
            request_model: &call.request_model,
        };
        call_span(out, &shared, call);
        let span_id = call.span_id.to_bytes();
        for attempt in call.first_attempt.iter().chain(&call.more_attempts) {
            attempt_span(out, &shared, &span_id, attempt);
        }
    }

    /// Closes the request; the body is the `Vec` given to [`TraceEncoder::start`].
    pub fn finish(self) {
        self.scope_spans.close(self.out);
        self.resource_spans.close(self.out);
    }
}

/// The fields before the attributes, shared by both kinds of span.
#[expect(clippy::too_many_arguments, reason = "the leading fields of one span")]
fn span_head(
    out: &mut Vec<u8>,
    shared: &Shared<'_>,
    span_id: &[u8; 8],
    parent: Option<&[u8; 8]>,
    parent_is_remote: bool,
    name: &[&str],
    kind: u64,
    (start, end): (SystemTime, SystemTime),
) {
    put_bytes(out, SPAN_TRACE_ID, &shared.trace_id);
    put_bytes(out, SPAN_SPAN_ID, span_id);
    put_str(out, SPAN_TRACE_STATE, shared.trace_state);
    if let Some(parent) = parent {
        put_bytes(out, SPAN_PARENT_SPAN_ID, parent);
    }
    let name_len: usize = name.iter().map(|p| p.len()).sum();
    if name_len > 0 {
        out.push(SPAN_NAME);
        put_varint(out, name_len as u64);
        for part in name {
            out.extend_from_slice(part.as_bytes());
        }
    }
    out.push(SPAN_KIND);
    put_varint(out, kind);
    out.push(SPAN_START_TIME);
    out.extend_from_slice(&to_nanos(start).to_le_bytes());
    out.push(SPAN_END_TIME);
    out.extend_from_slice(&to_nanos(end).to_le_bytes());
    let mut flags = shared.trace_flags | FLAG_HAS_IS_REMOTE;
    if parent_is_remote {
        flags |= FLAG_IS_REMOTE;
    }
    out.extend_from_slice(&SPAN_FLAGS);
    out.extend_from_slice(&flags.to_le_bytes());
}

/// `Span.status`: unset, or an error with its message. The SDK's spans always carry one, so
/// it is written even when empty.
fn status(out: &mut Vec<u8>, error: Option<&str>) {
    out.push(SPAN_STATUS);
    match error {
        None => out.push(0),
        Some(message) => {
            let message_len = if message.is_empty() {
                0
            } else {
                field_len(message.len())
            };
            put_varint(out, (message_len + 2) as u64);
            put_str(out, STATUS_MESSAGE, message);
            out.push(STATUS_CODE);
            put_varint(out, STATUS_ERROR);
        }
    }
}

fn call_span(out: &mut Vec<u8>, shared: &Shared<'_>, call: &CallTrace) {
    let span = Nested::open(out, SCOPE_SPANS_SPANS, 2);
    let operation = operation_name(call.endpoint);
    let outcome = &call.outcome;
    let failed = outcome.status >= 400;
    let remote_parent = call.remote_parent.map(|id| id.to_bytes());
    span_head(
        out,
        shared,
        &call.span_id.to_bytes(),
        remote_parent.as_ref(),
        remote_parent.is_some(),
        &[operation, " ", shared.request_model],
        KIND_SERVER,
        (call.start, call.end),
    );
    string_attribute(out, "gen_ai.operation.name", operation);
    string_attribute(out, "gen_ai.request.model", shared.request_model);
    string_attribute(out, "api_proxy.endpoint", call.endpoint);
    int_attribute(out, "http.response.status_code", i64::from(outcome.status));
    int_attribute(out, "api_proxy.attempts", i64::from(outcome.attempts));
    string_attribute(
        out,
        "gen_ai.response.model",
        outcome
            .response_model
            .as_deref()
            .unwrap_or(shared.request_model),
    );
    if let Some(key) = &outcome.key {
        string_attribute(out, "gen_ai.provider.name", key.provider());
        string_attribute(out, "api_proxy.key.name", key.name());
    }
    if !failed {
        int_attribute(out, "gen_ai.usage.input_tokens", outcome.input_tokens);
        int_attribute(out, "gen_ai.usage.output_tokens", outcome.output_tokens);
    }
    if !outcome.finish_reasons.is_empty() {
        strings_attribute(
            out,
            "gen_ai.response.finish_reasons",
            &outcome.finish_reasons,
        );
    }
    if failed {
        string_attribute(
            out,
            "error.type",
            itoa::Buffer::new().format(outcome.status),
        );
        status(out, Some(outcome.error.as_deref().unwrap_or_default()));
    } else {
        status(out, None);
    }
    span.close(out);
}

fn attempt_span(out: &mut Vec<u8>, shared: &Shared<'_>, parent: &[u8; 8], attempt: &AttemptTrace) {
    let span = Nested::open(out, SCOPE_SPANS_SPANS, 2);
    let key = attempt.key.name();
    span_head(
        out,
        shared,
        &attempt.span_id.to_bytes(),
        Some(parent),
        false,
        &[
            "attempt ",
            itoa::Buffer::new().format(attempt.number),
            " ",
            key,
        ],
        KIND_CLIENT,
        (attempt.start, attempt.end),
    );
    string_attribute(out, "gen_ai.provider.name", attempt.key.provider());
    string_attribute(
        out,
        "gen_ai.request.model",
        attempt.model.as_deref().unwrap_or(shared.request_model),
    );
    string_attribute(out, "api_proxy.key.name", key);
    int_attribute(out, "api_proxy.attempt", i64::from(attempt.number));
    if let Some(code) = attempt.status {
        int_attribute(out, "http.response.status_code", i64::from(code));
    }
    status(out, attempt.error.as_deref());
    span.close(out);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry::KeyValue;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use prost::Message as _;

    use super::*;
    use crate::otel::call_trace::{CallOutcome, TraceIds};
    use crate::otel::sdk_spans::{at, attempt, call_spans, Key};

    /// A call with one successful attempt, no client trace.
    fn simple(n: u64) -> CallTrace {
        CallTrace {
            ids: TraceIds {
                trace_id: TraceId::from(u128::from(n) << 64 | 0xabc),
                flags: TraceFlags::SAMPLED,
                state: TraceState::default(),
            },
            span_id: SpanId::from(n + 1),
            remote_parent: None,
            start: at(0),
            end: at(40),
            endpoint: "chat/completions",
            request_model: "gpt-4o".to_owned(),
            first_attempt: Some(attempt(1, "main", Some(200), None)),
            more_attempts: Vec::new(),
            outcome: CallOutcome {
                status: 200,
                key: Some(Arc::new(Key("main", "openai"))),
                response_model: None,
                input_tokens: 12,
                output_tokens: 34,
                attempts: 1,
                finish_reasons: vec!["stop".to_owned()],
                error: None,
            },
        }
    }

    /// Two failed attempts, then one on another key with another model; the client's trace
    /// continued, with a trace state.
    fn failover() -> CallTrace {
        let mut call = simple(7);
        call.ids.state = TraceState::from_key_value([("vendor", "a1"), ("other", "b-2")]).unwrap();
        call.remote_parent = Some(SpanId::from(0xb7ad_6b71_6920_3331));
        call.first_attempt = Some(attempt(1, "first", Some(502), Some("HTTP 502")));
        call.more_attempts = vec![
            attempt(2, "second", Some(429), Some("rate limited")),
            AttemptTrace {
                model: Some("claude-sonnet".to_owned()),
                ..attempt(3, "third", Some(200), None)
            },
        ];
        call.outcome.key = Some(Arc::new(Key("third", "anthropic")));
        call.outcome.response_model = Some("claude-sonnet-2025".to_owned());
        call.outcome.attempts = 3;
        call.outcome.finish_reasons = vec!["stop".to_owned(), "length".to_owned()];
        call
    }

    /// A failed call: no usage, an error status (with and without a message).
    fn failed(message: Option<&str>) -> CallTrace {
        let mut call = simple(9);
        call.ids.flags = TraceFlags::default();
        call.first_attempt = Some(attempt(1, "main", None, Some("")));
        call.more_attempts = vec![attempt(2, "main", Some(503), Some("HTTP 503"))];
        call.outcome.status = 503;
        call.outcome.attempts = 2;
        call.outcome.finish_reasons.clear();
        call.outcome.error = message.map(str::to_owned);
        call
    }

    /// Empty and unicode strings, extreme numbers and times, no attempt.
    fn odd() -> CallTrace {
        let mut call = simple(11);
        call.endpoint = "embeddings";
        call.request_model = String::new();
        call.start = UNIX_EPOCH - Duration::from_secs(1);
        call.end = UNIX_EPOCH + Duration::from_secs(4_000_000_000);
        call.first_attempt = Some(AttemptTrace {
            number: -1,
            key: Arc::new(Key("", "")),
            ..attempt(-1, "", Some(0), None)
        });
        call.more_attempts = vec![AttemptTrace {
            number: i32::MAX,
            key: Arc::new(Key("clé 🔑", "提供者")),
            model: Some("模型 ✓".to_owned()),
            ..attempt(2, "x", Some(u16::MAX), Some("échec — \u{0}"))
        }];
        call.outcome.key = Some(Arc::new(Key("clé 🔑", "")));
        call.outcome.response_model = Some(String::new());
        call.outcome.input_tokens = i64::MIN;
        call.outcome.output_tokens = i64::MAX;
        call.outcome.attempts = i32::MIN;
        call.outcome.finish_reasons = vec![String::new(), "终止".to_owned()];
        call
    }

    /// A call alone: no attempt, no key, nothing optional.
    fn bare() -> CallTrace {
        let mut call = simple(13);
        call.first_attempt = None;
        call.outcome.key = None;
        call.outcome.finish_reasons.clear();
        call.outcome.attempts = 0;
        call
    }

    fn resources() -> Vec<Resource> {
        vec![
            // As the proxy makes it.
            Resource::builder().with_service_name("gateway").build(),
            Resource::builder_empty()
                .with_schema_url(
                    [
                        KeyValue::new("service.name", "ü"),
                        KeyValue::new("flag", false),
                        KeyValue::new("count", -5_i64),
                        KeyValue::new("ratio", 0.25),
                        KeyValue::new("zero", 0.0),
                        KeyValue::new(
                            "tags",
                            Value::Array(Array::String(vec!["a".into(), "".into()])),
                        ),
                        KeyValue::new("flags", Value::Array(Array::Bool(vec![true, false]))),
                        KeyValue::new("ints", Value::Array(Array::I64(vec![0, -1, i64::MAX]))),
                        KeyValue::new("floats", Value::Array(Array::F64(vec![1.5]))),
                        KeyValue::new("none", Value::Array(Array::I64(Vec::new()))),
                    ],
                    "https://opentelemetry.io/schemas/1.30.0",
                )
                .build(),
        ]
    }

    fn scopes() -> Vec<InstrumentationScope> {
        vec![
            InstrumentationScope::builder("api-proxy").build(),
            InstrumentationScope::builder("lib")
                .with_version("1.2.3")
                .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
                .with_attributes([KeyValue::new("k", "v")])
                .build(),
        ]
    }

    /// What opentelemetry-otlp sent for these calls: the SDK's spans as opentelemetry-proto
    /// converts them.
    fn reference(
        calls: Vec<CallTrace>,
        resource: &Resource,
        scope: &InstrumentationScope,
    ) -> ExportTraceServiceRequest {
        let mut spans = Vec::new();
        for call in calls {
            call_spans(call, scope, &mut spans);
        }
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans,
                &ResourceAttributesWithSchema::from(resource),
            ),
        }
    }

    fn encoded(
        calls: &[CallTrace],
        resource: &Resource,
        scope: &InstrumentationScope,
    ) -> ExportTraceServiceRequest {
        let encoder = TraceEncoder::new(resource, scope);
        // Something left in the buffer from an earlier export must not show.
        let mut out = b"stale".to_vec();
        let mut body = encoder.start(&mut out);
        for call in calls {
            body.push(call);
        }
        body.finish();
        ExportTraceServiceRequest::decode(&out[..]).expect("valid protobuf")
    }

    fn assert_same(make: impl Fn() -> Vec<CallTrace>) {
        for resource in &resources() {
            for scope in &scopes() {
                let ours = encoded(&make(), resource, scope);
                assert_eq!(ours, reference(make(), resource, scope));
            }
        }
    }

    #[test]
    fn a_call_with_one_attempt_is_written_as_the_sdk_path_wrote_it() {
        assert_same(|| vec![simple(1)]);
    }

    #[test]
    fn a_failover_with_a_client_trace_is_written_as_the_sdk_path_wrote_it() {
        assert_same(|| vec![failover()]);
    }

    #[test]
    fn failed_calls_are_written_as_the_sdk_path_wrote_them() {
        assert_same(|| vec![failed(Some("the upstream failed")), failed(None)]);
    }

    #[test]
    fn odd_values_are_written_as_the_sdk_path_wrote_them() {
        assert_same(|| vec![odd(), bare()]);
    }

    #[test]
    fn large_batches_and_spans_are_written_as_the_sdk_path_wrote_them() {
        // Hundreds of spans (a batch length of three bytes) and a span over 16 KiB (more than
        // its two reserved length bytes).
        assert_same(|| {
            let mut calls: Vec<CallTrace> = (0..300).map(simple).collect();
            calls.push(failover());
            calls.push(failed(Some(&"e".repeat(20_000))));
            calls
        });
        // And a batch under 128 bytes (fewer length bytes than reserved).
        let resource = Resource::builder_empty().build();
        let scope = InstrumentationScope::builder("").build();
        let mut tiny = bare();
        tiny.request_model = "m".to_owned();
        let ours = encoded(std::slice::from_ref(&tiny), &resource, &scope);
        assert_eq!(ours, reference(vec![tiny], &resource, &scope));
    }

    #[test]
    fn nested_lengths_are_minimal_varints() {
        for len in [0, 1, 127, 128, 300, 16_383, 16_384, 2_097_151, 2_097_152] {
            for reserved in 1..=3 {
                let mut out = vec![9];
                let nested = Nested::open(&mut out, 0x12, reserved);
                out.extend((0..len).map(|i| i as u8));
                nested.close(&mut out);
                let mut expected = vec![9, 0x12];
                put_varint(&mut expected, len as u64);
                expected.extend((0..len).map(|i| i as u8));
                assert!(out == expected, "{len} bytes, {reserved} reserved");
            }
        }
        for (value, len) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (u64::from(u32::MAX), 5),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(value), len, "{value}");
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out.len(), len, "{value}");
        }
    }
}
