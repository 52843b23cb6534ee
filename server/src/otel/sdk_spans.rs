//! The reference the OTLP encoder is checked against: a call record turned into the SDK's
//! [`SpanData`], as the exporter did before it wrote protobuf itself. `opentelemetry-proto`
//! converts these into the OTLP types, and the encoder's output must decode to the same.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use super::call_trace::{operation_name, CallTrace};

/// The call's span and its attempts' spans, appended to `out` (the call's first).
pub fn call_spans(record: CallTrace, scope: &InstrumentationScope, out: &mut Vec<SpanData>) {
    let CallTrace {
        ids,
        span_id,
        remote_parent,
        start,
        end,
        endpoint,
        request_model,
        first_attempt,
        more_attempts,
        outcome,
    } = record;
    let context =
        |span_id| SpanContext::new(ids.trace_id, span_id, ids.flags, false, ids.state.clone());
    let operation = operation_name(endpoint);
    let failed = outcome.status >= 400;
    let name = span_name(&[operation, " ", &request_model]);
    // One copy of the model that the call's and its attempts' attributes share.
    let model = StringValue::from(Arc::<str>::from(request_model));

    let mut attributes = Vec::with_capacity(14);
    attributes.extend([
        KeyValue::new("gen_ai.operation.name", operation),
        KeyValue::new("gen_ai.request.model", model.clone()),
        KeyValue::new("api_proxy.endpoint", endpoint),
        KeyValue::new("http.response.status_code", i64::from(outcome.status)),
        KeyValue::new("api_proxy.attempts", i64::from(outcome.attempts)),
        KeyValue::new(
            "gen_ai.response.model",
            outcome
                .response_model
                .map_or_else(|| model.clone(), StringValue::from),
        ),
    ]);
    if let Some(key) = &outcome.key {
        attributes.push(KeyValue::new(
            "gen_ai.provider.name",
            key.provider().to_owned(),
        ));
        attributes.push(KeyValue::new("api_proxy.key.name", key.name().to_owned()));
    }
    if !failed {
        attributes.push(KeyValue::new(
            "gen_ai.usage.input_tokens",
            outcome.input_tokens,
        ));
        attributes.push(KeyValue::new(
            "gen_ai.usage.output_tokens",
            outcome.output_tokens,
        ));
    }
    if !outcome.finish_reasons.is_empty() {
        let reasons: Vec<StringValue> = outcome
            .finish_reasons
            .into_iter()
            .map(StringValue::from)
            .collect();
        attributes.push(KeyValue::new(
            "gen_ai.response.finish_reasons",
            Value::Array(reasons.into()),
        ));
    }
    let status = if failed {
        attributes.push(KeyValue::new("error.type", outcome.status.to_string()));
        Status::error(outcome.error.unwrap_or_default())
    } else {
        Status::Unset
    };
    out.push(span_data(
        context(span_id),
        remote_parent.unwrap_or(SpanId::INVALID),
        remote_parent.is_some(),
        SpanKind::Server,
        Cow::Owned(name),
        (start, end),
        attributes,
        status,
        scope,
    ));

    for attempt in first_attempt.into_iter().chain(more_attempts) {
        let mut attributes = Vec::with_capacity(5);
        attributes.extend([
            KeyValue::new("gen_ai.provider.name", attempt.key.provider().to_owned()),
            KeyValue::new(
                "gen_ai.request.model",
                attempt
                    .model
                    .map_or_else(|| model.clone(), StringValue::from),
            ),
            KeyValue::new("api_proxy.key.name", attempt.key.name().to_owned()),
            KeyValue::new("api_proxy.attempt", i64::from(attempt.number)),
        ]);
        if let Some(status) = attempt.status {
            attributes.push(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
        }
        let status = attempt.error.map_or(Status::Unset, Status::error);
        out.push(span_data(
            context(attempt.span_id),
            span_id,
            false,
            SpanKind::Client,
            Cow::Owned(span_name(&[
                "attempt ",
                itoa::Buffer::new().format(attempt.number),
                " ",
                attempt.key.name(),
            ])),
            (attempt.start, attempt.end),
            attributes,
            status,
            scope,
        ));
    }
}

/// The parts joined, in one allocation (`format!` costs several times as much here).
fn span_name(parts: &[&str]) -> String {
    let mut name = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        name.push_str(part);
    }
    name
}

#[expect(clippy::too_many_arguments, reason = "the fields of one SpanData")]
fn span_data(
    span_context: SpanContext,
    parent_span_id: SpanId,
    parent_span_is_remote: bool,
    span_kind: SpanKind,
    name: Cow<'static, str>,
    (start_time, end_time): (SystemTime, SystemTime),
    attributes: Vec<KeyValue>,
    status: Status,
    scope: &InstrumentationScope,
) -> SpanData {
    SpanData {
        span_context,
        parent_span_id,
        parent_span_is_remote,
        span_kind,
        name,
        start_time,
        end_time,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    }
}

/// A key as the tests' call records name it: (name, provider).
pub struct Key(pub &'static str, pub &'static str);

impl super::call_trace::TracedKey for Key {
    fn name(&self) -> &str {
        self.0
    }
    fn provider(&self) -> &str {
        self.1
    }
}

/// `ms` milliseconds into a fixed recent day.
pub fn at(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_764_000_000_000 + ms)
}

/// Attempt `number` on the OpenAI key `key`: 5 ms long, starting at `10 × number` ms.
pub fn attempt(
    number: i32,
    key: &'static str,
    status: Option<u16>,
    error: Option<&str>,
) -> super::call_trace::AttemptTrace {
    let n = u64::from(number.unsigned_abs());
    super::call_trace::AttemptTrace {
        span_id: SpanId::from(0x1000 + n),
        number,
        key: Arc::new(Key(key, "openai")),
        model: None,
        start: at(10 * n),
        end: at(10 * n + 5),
        status,
        error: error.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{TraceFlags, TraceId, TraceState};

    use super::*;
    use crate::otel::call_trace::{CallOutcome, TraceIds};

    fn record(status: u16) -> CallTrace {
        CallTrace {
            ids: TraceIds {
                trace_id: TraceId::from(7),
                flags: TraceFlags::SAMPLED,
                state: TraceState::default(),
            },
            span_id: SpanId::from(1),
            remote_parent: Some(SpanId::from(9)),
            start: at(0),
            end: at(40),
            endpoint: "chat/completions",
            request_model: "gpt-4o".to_owned(),
            first_attempt: Some(attempt(1, "first", Some(500), Some("HTTP 500"))),
            more_attempts: vec![attempt(2, "second", Some(status), None)],
            outcome: CallOutcome {
                status,
                key: Some(Arc::new(Key("second", "openai"))),
                response_model: Some("gpt-4o-2024-08-06".to_owned()),
                input_tokens: 12,
                output_tokens: 34,
                attempts: 2,
                finish_reasons: vec!["stop".to_owned()],
                error: (status >= 400).then(|| "the upstream failed".to_owned()),
            },
        }
    }

    fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    fn spans(record: CallTrace) -> Vec<SpanData> {
        assert_eq!(record.span_count(), 3);
        let mut out = Vec::new();
        call_spans(
            record,
            &InstrumentationScope::builder("api-proxy").build(),
            &mut out,
        );
        out
    }

    #[test]
    fn a_call_becomes_its_span_and_a_child_per_attempt() {
        let spans = spans(record(200));
        let [call, first, second] = &spans[..] else {
            panic!("{} spans", spans.len())
        };
        assert_eq!(call.name, "chat gpt-4o");
        assert_eq!(call.span_kind, SpanKind::Server);
        assert_eq!(call.parent_span_id, SpanId::from(9));
        assert!(call.parent_span_is_remote);
        assert_eq!((call.start_time, call.end_time), (at(0), at(40)));
        assert_eq!(call.status, Status::Unset);
        let expected = [
            ("gen_ai.operation.name", Value::from("chat")),
            ("gen_ai.request.model", Value::from("gpt-4o")),
            ("api_proxy.endpoint", Value::from("chat/completions")),
            ("http.response.status_code", Value::I64(200)),
            ("api_proxy.attempts", Value::I64(2)),
            ("gen_ai.response.model", Value::from("gpt-4o-2024-08-06")),
            ("gen_ai.provider.name", Value::from("openai")),
            ("api_proxy.key.name", Value::from("second")),
            ("gen_ai.usage.input_tokens", Value::I64(12)),
            ("gen_ai.usage.output_tokens", Value::I64(34)),
            (
                "gen_ai.response.finish_reasons",
                Value::Array(vec![StringValue::from("stop")].into()),
            ),
        ];
        for (key, value) in &expected {
            assert_eq!(attribute(call, key), Some(value), "{key}");
        }
        assert_eq!(call.attributes.len(), expected.len());
        assert_eq!(attribute(call, "error.type"), None);

        for (span, number, key) in [(first, 1, "first"), (second, 2, "second")] {
            assert_eq!(span.name, format!("attempt {number} {key}"));
            assert_eq!(span.span_kind, SpanKind::Client);
            assert_eq!(span.span_context.trace_id(), call.span_context.trace_id());
            assert_eq!(span.parent_span_id, call.span_context.span_id());
            assert!(!span.parent_span_is_remote);
            assert!(span.span_context.is_sampled());
            assert_eq!(
                attribute(span, "api_proxy.key.name"),
                Some(&Value::from(key))
            );
            assert_eq!(
                attribute(span, "gen_ai.provider.name"),
                Some(&Value::from("openai"))
            );
            assert_eq!(
                attribute(span, "gen_ai.request.model"),
                Some(&Value::from("gpt-4o"))
            );
            assert_eq!(
                attribute(span, "api_proxy.attempt"),
                Some(&Value::I64(number))
            );
        }
        assert_eq!(
            attribute(first, "http.response.status_code"),
            Some(&Value::I64(500))
        );
        assert_eq!(first.status, Status::error("HTTP 500"));
        assert_eq!(second.status, Status::Unset);
        assert_eq!((second.start_time, second.end_time), (at(20), at(25)));
    }

    #[test]
    fn a_failed_call_is_an_error_without_usage() {
        let spans = spans(record(502));
        let call = &spans[0];
        assert_eq!(call.status, Status::error("the upstream failed"));
        assert_eq!(attribute(call, "error.type"), Some(&Value::from("502")));
        assert_eq!(attribute(call, "gen_ai.usage.input_tokens"), None);
        assert_eq!(attribute(call, "gen_ai.usage.output_tokens"), None);
    }

    #[test]
    fn a_call_without_a_client_trace_or_attempts_is_a_root_alone() {
        let mut record = record(503);
        record.remote_parent = None;
        record.first_attempt = None;
        record.more_attempts.clear();
        record.outcome.key = None;
        record.outcome.response_model = None;
        record.outcome.finish_reasons.clear();
        assert_eq!(record.span_count(), 1);
        let mut out = Vec::new();
        call_spans(
            record,
            &InstrumentationScope::builder("api-proxy").build(),
            &mut out,
        );
        let [call] = &out[..] else { panic!() };
        assert_eq!(call.parent_span_id, SpanId::INVALID);
        assert!(!call.parent_span_is_remote);
        assert_eq!(
            attribute(call, "gen_ai.response.model"),
            Some(&Value::from("gpt-4o"))
        );
        assert_eq!(attribute(call, "api_proxy.key.name"), None);
        assert_eq!(attribute(call, "gen_ai.response.finish_reasons"), None);
    }
}
