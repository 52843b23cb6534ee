//! OpenTelemetry traces over OTLP/HTTP (protobuf), with the GenAI semantic conventions: one
//! span per proxied call (`gen_ai.operation.name`, `gen_ai.provider.name`,
//! `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.*`, the key's name, the
//! attempts), one child span per upstream attempt, the client's W3C `traceparent` continued and
//! the attempt's own passed upstream.
//!
//! Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.
//! Then [`Traces`] is empty and every method returns at once: no span, no header read, no
//! allocation. The spans are not `tracing` spans, because a `tracing` span is also recorded by
//! the log subscriber whether or not anything exports it, and because a call's span lives in
//! its [`CallRecord`] across the stream's end, not in one scope.
//!
//! A traced call costs the request path little: it takes its ids (the SDK's id generator), the
//! sampler's decision (the SDK's samplers, from the standard variables) and a few clock
//! readings, and hands one record per call to the exporter's thread ([`export_queue`]). That
//! thread writes the records straight into OTLP/HTTP protobuf bodies ([`otlp_encoding`]) and
//! posts them ([`collector`]); the SDK's span and batch processor and `opentelemetry-otlp` would
//! have built and copied every span several times over, part of it on the request path.
//!
//! [`CallRecord`]: crate::proxy::record::CallRecord

pub mod call_span;
pub mod call_trace;
pub mod collector;
pub mod export_queue;
pub mod http_client;
pub mod otlp_encoding;
#[cfg(test)]
mod sdk_spans;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix_web::http::header::{HeaderMap, HeaderName};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, TraceContextExt, TraceFlags};
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, ShouldSample,
};
use opentelemetry_sdk::Resource;

pub use call_span::{CallEnd, CallSpan};
pub use call_trace::operation_name;
use call_trace::{CallOutcome, CallTrace, TraceIds};
use collector::Collector;
use export_queue::{ExportQueue, QueueConfig};
use http_client::{BlockingHttpClient, Endpoint};
use otlp_encoding::TraceEncoder;

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// How long one export may take, its retries included, unless `OTEL_EXPORTER_OTLP_TIMEOUT`
/// says otherwise (the specification's default).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The export queue unless the `OTEL_BSP_*` variables say otherwise: room for a few tenths of
/// a second of calls at tens of thousands a second (a collector that pauses longer loses spans,
/// counted and logged), batches of about a thousand spans, and a finished call exported within
/// five seconds (the SDK's default delay).
const QUEUE: QueueConfig = QueueConfig {
    capacity: 8192,
    batch_calls: 512,
    delay: Duration::from_secs(5),
};

/// Where and as what traces are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceConfig {
    /// The full URL spans are posted to (`…/v1/traces`).
    pub endpoint: String,
    pub service_name: String,
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` as given (checked at start).
    pub sampler: Option<String>,
    pub sampler_arg: Option<String>,
    /// Sent with every export (`OTEL_EXPORTER_OTLP_HEADERS`, `…_TRACES_HEADERS`).
    pub headers: Vec<(String, String)>,
    /// How long one export may take (`OTEL_EXPORTER_OTLP_TIMEOUT`, `…_TRACES_TIMEOUT`).
    pub timeout: Duration,
    /// The export queue (`OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`,
    /// `OTEL_BSP_SCHEDULE_DELAY`).
    pub queue: QueueConfig,
}

impl TraceConfig {
    /// From the standard variables: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`; `None` when neither is set.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let endpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
            get("OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
        })?;
        Some(Self {
            endpoint,
            service_name: get("OTEL_SERVICE_NAME").unwrap_or_else(|| "api-proxy".to_owned()),
            sampler: get("OTEL_TRACES_SAMPLER"),
            sampler_arg: get("OTEL_TRACES_SAMPLER_ARG"),
            headers: get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
                .or_else(|| get("OTEL_EXPORTER_OTLP_HEADERS"))
                .map(|list| parse_headers(&list))
                .unwrap_or_default(),
            timeout: [
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ]
            .into_iter()
            .find_map(|name| get(name).and_then(|v| positive_number(&v)))
            .map_or(EXPORT_TIMEOUT, Duration::from_millis),
            queue: queue_config(&get),
        })
    }

    /// The sampler the specification's variables name: `parentbased_always_on` (every call, or
    /// as the client's trace decided) unless set. At tens of thousands of calls a second, a
    /// ratio (`parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG=0.01`, say) keeps the
    /// cost of traces near that of having them off.
    fn sampler(&self) -> Result<Sampler, TraceSetupError> {
        let ratio = || -> Result<f64, TraceSetupError> {
            let Some(arg) = &self.sampler_arg else {
                return Ok(1.0);
            };
            arg.trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    TraceSetupError(format!(
                        "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, not {arg:?}"
                    ))
                })
        };
        let parent_based = |root| Sampler::ParentBased(Box::new(root));
        Ok(match self.sampler.as_deref().map(str::trim) {
            None | Some("parentbased_always_on") => parent_based(Sampler::AlwaysOn),
            Some("always_on") => Sampler::AlwaysOn,
            Some("always_off") => Sampler::AlwaysOff,
            Some("traceidratio") => Sampler::TraceIdRatioBased(ratio()?),
            Some("parentbased_always_off") => parent_based(Sampler::AlwaysOff),
            Some("parentbased_traceidratio") => parent_based(Sampler::TraceIdRatioBased(ratio()?)),
            Some(other) => {
                return Err(TraceSetupError(format!(
                    "OTEL_TRACES_SAMPLER {other:?} is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
                )))
            }
        })
    }
}

/// The batch processor's standard variables, counted in spans as the specification has them;
/// the queue holds calls, which are two spans each when they take one attempt.
fn queue_config(get: &impl Fn(&str) -> Option<String>) -> QueueConfig {
    let number = |name: &str| get(name).and_then(|v| positive_number(&v));
    let spans_as_calls = |spans: u64| usize::try_from(spans.div_ceil(2)).unwrap_or(usize::MAX);
    let capacity = number("OTEL_BSP_MAX_QUEUE_SIZE").map_or(QUEUE.capacity, spans_as_calls);
    QueueConfig {
        capacity,
        batch_calls: number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
            .map_or(QUEUE.batch_calls, spans_as_calls)
            .min(capacity),
        delay: number("OTEL_BSP_SCHEDULE_DELAY").map_or(QUEUE.delay, Duration::from_millis),
    }
}

/// A count or a number of milliseconds; `None` when it is not a whole number above zero.
fn positive_number(value: &str) -> Option<u64> {
    value.trim().parse().ok().filter(|n| *n > 0)
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: `key=value` pairs separated by commas, the values
/// percent-encoded, as the specification has them. Pairs without a key or a value, or that
/// would not make a valid header, are left out.
fn parse_headers(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let (key, value) = (key.trim(), value.trim());
            let value = percent_decode(value).unwrap_or_else(|| value.to_owned());
            let valid = HeaderName::from_bytes(key.as_bytes()).is_ok()
                && actix_web::http::header::HeaderValue::from_str(&value).is_ok();
            (valid && !value.is_empty()).then(|| (key.to_owned(), value))
        })
        .collect()
}

/// `%XX` escapes decoded; `None` when one is malformed or the result is not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[derive(Debug, thiserror::Error)]
#[error("OTLP trace export: {0}")]
pub struct TraceSetupError(String);

/// Trace export on or off; cheap to clone.
#[derive(Clone, Default)]
pub struct Traces(Option<Arc<Exporting>>);

struct Exporting {
    sampler: Sampler,
    ids: RandomIdGenerator,
    propagator: TraceContextPropagator,
    queue: ExportQueue,
}

impl Traces {
    pub fn disabled() -> Self {
        Self(None)
    }

    /// Starts the exporter (on a thread of its own).
    pub fn start(config: &TraceConfig) -> Result<Self, TraceSetupError> {
        let endpoint =
            Endpoint::parse(&config.endpoint).map_err(|e| TraceSetupError(e.to_string()))?;
        let client = BlockingHttpClient::new(
            endpoint,
            "application/x-protobuf",
            &config.headers,
            config.timeout,
        );
        let sampler = config.sampler()?;
        // The SDK's resource: `service.name`, the `telemetry.sdk.*` attributes and
        // `OTEL_RESOURCE_ATTRIBUTES`.
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .build();
        let encoder = TraceEncoder::new(
            &resource,
            &InstrumentationScope::builder("api-proxy").build(),
        );
        Ok(Self(Some(Arc::new(Exporting {
            sampler,
            ids: RandomIdGenerator::default(),
            propagator: TraceContextPropagator::new(),
            queue: ExportQueue::start(
                encoder,
                Collector::new(client, config.timeout),
                config.queue,
            ),
        }))))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The client's trace context (`traceparent`, `tracestate`), when tracing is on and the
    /// client sent one.
    pub fn client_context(&self, headers: &HeaderMap) -> Option<Context> {
        let exporting = self.0.as_ref()?;
        if !headers.contains_key(&TRACEPARENT) {
            return None;
        }
        Some(exporting.propagator.extract(&HeaderExtractor(headers)))
    }

    /// Starts a call's span, the child of `parent` (the client's context) if any.
    pub fn start_call(
        &self,
        parent: Option<&Context>,
        endpoint: &'static str,
        model: &str,
    ) -> Option<CallSpan> {
        let exporting = self.0.as_ref()?;
        let parent_span = parent
            .map(|cx| cx.span().span_context().clone())
            .filter(|sc| sc.is_valid());
        let trace_id = parent_span
            .as_ref()
            .map_or_else(|| exporting.ids.new_trace_id(), |sc| sc.trace_id());
        // The SDK's samplers read only the parent and the trace id; an attempt's span follows
        // its call's decision, as a parent-based sampler would and as the others do for spans
        // of one trace.
        let sampling = exporting.sampler.should_sample(
            parent.filter(|_| parent_span.is_some()),
            trace_id,
            "",
            &SpanKind::Server,
            &[],
            &[],
        );
        let parent_flags = parent_span
            .as_ref()
            .map_or(TraceFlags::default(), |sc| sc.trace_flags());
        let (sampled, flags) = match sampling.decision {
            SamplingDecision::RecordAndSample => (true, parent_flags.with_sampled(true)),
            SamplingDecision::RecordOnly | SamplingDecision::Drop => (false, TraceFlags::default()),
        };
        let now = SystemTime::now();
        Some(CallSpan {
            exporting: exporting.clone(),
            sampled,
            trace: CallTrace {
                ids: TraceIds {
                    trace_id,
                    flags,
                    state: sampling.trace_state,
                },
                span_id: exporting.ids.new_span_id(),
                remote_parent: parent_span.map(|sc| sc.span_id()),
                start: now,
                end: now,
                endpoint,
                request_model: if sampled {
                    model.to_owned()
                } else {
                    String::new()
                },
                first_attempt: None,
                more_attempts: Vec::new(),
                outcome: CallOutcome {
                    status: 0,
                    key: None,
                    response_model: None,
                    input_tokens: 0,
                    output_tokens: 0,
                    attempts: 0,
                    finish_reasons: Vec::new(),
                    error: None,
                },
            },
            attempt: None,
        })
    }

    /// Spans dropped because the export queue was full (the collector fell behind).
    pub fn dropped_spans(&self) -> u64 {
        self.0.as_ref().map_or(0, |e| e.queue.dropped_spans())
    }

    /// Exports every finished span now (tests; shutdown).
    pub fn flush(&self) {
        if let Some(exporting) = &self.0 {
            exporting.queue.flush();
        }
    }

    /// Exports what is left and stops the exporter (blocking).
    pub fn shutdown(&self) {
        if let Some(exporting) = &self.0 {
            exporting.queue.shutdown();
        }
    }
}

/// `gen_ai.response.finish_reasons` of an answer in any client dialect: OpenAI's
/// `choices[].finish_reason`, Anthropic's `stop_reason`, or the Responses API's `status`.
pub fn finish_reasons(body: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        choices: Vec<Choice>,
        #[serde(default)]
        stop_reason: Option<String>,
        #[serde(default)]
        status: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Choice {
        #[serde(default)]
        finish_reason: Option<String>,
    }
    let Ok(answer) = serde_json::from_slice::<Answer>(body) else {
        return Vec::new();
    };
    let mut reasons: Vec<String> = answer
        .choices
        .into_iter()
        .filter_map(|c| c.finish_reason)
        .collect();
    reasons.extend(answer.stop_reason);
    if reasons.is_empty() {
        reasons.extend(answer.status);
    }
    reasons
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    /// A variable lookup over fixed pairs.
    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_endpoint_comes_from_the_standard_variables() {
        assert_eq!(TraceConfig::from_lookup(env(&[])), None);
        let base = TraceConfig::from_lookup(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://127.0.0.1:4318/",
        )]))
        .unwrap();
        assert_eq!(base.endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(base.service_name, "api-proxy");
        let exact = TraceConfig::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/traces"),
            ("OTEL_SERVICE_NAME", "gateway"),
        ]))
        .unwrap();
        assert_eq!(exact.endpoint, "http://c:4318/traces");
        assert_eq!(exact.service_name, "gateway");
        assert_eq!(exact.queue, QUEUE);
    }

    #[test]
    fn headers_and_timeout_come_from_the_standard_variables() {
        let config =
            TraceConfig::from_lookup(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]))
                .unwrap();
        assert_eq!(config.headers, []);
        assert_eq!(config.timeout, EXPORT_TIMEOUT);
        let config = TraceConfig::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "ignored=1"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "api-key=s%C3%A9cret%3D%2C , x-tenant = a b,bad,=nokey,empty=, bad name=1",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
        ]))
        .unwrap();
        assert_eq!(
            config.headers,
            [
                ("api-key".to_owned(), "s\u{e9}cret=,".to_owned()),
                ("x-tenant".to_owned(), "a b".to_owned()),
            ]
        );
        assert_eq!(config.timeout, Duration::from_millis(2500));
        let general = TraceConfig::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
        ]))
        .unwrap();
        assert_eq!(
            general.headers,
            [("authorization".to_owned(), "Bearer t".to_owned())]
        );
        assert_eq!(general.timeout, Duration::from_secs(1));
    }

    #[test]
    fn malformed_escapes_are_kept_as_written() {
        assert_eq!(
            parse_headers("k=100%"),
            [("k".to_owned(), "100%".to_owned())]
        );
        assert_eq!(parse_headers("k=%zz"), [("k".to_owned(), "%zz".to_owned())]);
        assert_eq!(parse_headers("k=%0A"), []);
    }

    #[test]
    fn the_batch_variables_are_counted_in_spans() {
        let queue = queue_config(&env(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "2048"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "513"),
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ]));
        assert_eq!(
            queue,
            QueueConfig {
                capacity: 1024,
                batch_calls: 257,
                delay: Duration::from_millis(250),
            }
        );
        let bounded = queue_config(&env(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
        ]));
        assert_eq!((bounded.capacity, bounded.batch_calls), (50, 50));
        assert_eq!(bounded.delay, QUEUE.delay);
    }

    #[test]
    fn the_sampler_comes_from_the_standard_variables() {
        let config = |sampler: Option<&str>, arg: Option<&str>| TraceConfig {
            endpoint: "http://127.0.0.1:4318/v1/traces".into(),
            service_name: "api-proxy".into(),
            sampler: sampler.map(str::to_owned),
            sampler_arg: arg.map(str::to_owned),
            headers: Vec::new(),
            timeout: EXPORT_TIMEOUT,
            queue: QUEUE,
        };
        let named = |sampler, arg| format!("{:?}", config(sampler, arg).sampler().unwrap());
        assert_eq!(named(None, None), "ParentBased(AlwaysOn)");
        assert_eq!(named(Some("always_off"), None), "AlwaysOff");
        assert_eq!(
            named(Some("parentbased_traceidratio"), Some("0.01")),
            "ParentBased(TraceIdRatioBased(0.01))"
        );
        assert_eq!(named(Some("traceidratio"), None), "TraceIdRatioBased(1.0)");
        assert!(config(Some("traceidratio"), Some("2")).sampler().is_err());
        assert!(config(Some("sometimes"), None).sampler().is_err());
    }

    #[test]
    fn finish_reasons_are_read_in_every_dialect() {
        let openai = br#"{"choices":[{"finish_reason":"stop"},{"finish_reason":"length"}]}"#;
        assert_eq!(finish_reasons(openai), ["stop", "length"]);
        let anthropic = br#"{"type":"message","stop_reason":"end_turn","content":[]}"#;
        assert_eq!(finish_reasons(anthropic), ["end_turn"]);
        let responses = br#"{"object":"response","status":"completed","output":[]}"#;
        assert_eq!(finish_reasons(responses), ["completed"]);
        assert!(finish_reasons(b"not json").is_empty());
    }

    #[test]
    fn a_call_continues_the_clients_trace_and_follows_the_sampler() {
        let start = |sampler: Option<&str>| {
            Traces::start(&TraceConfig {
                // Nothing is exported in this test: no flush, and the queue's timer is far off.
                endpoint: "http://127.0.0.1:9/v1/traces".into(),
                service_name: "api-proxy".into(),
                sampler: sampler.map(str::to_owned),
                sampler_arg: None,
                headers: Vec::new(),
                timeout: EXPORT_TIMEOUT,
                queue: QUEUE,
            })
            .unwrap()
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        let traces = start(None);
        let client = traces.client_context(&headers).expect("a client trace");
        let span = traces
            .start_call(Some(&client), "chat/completions", "gpt-4o")
            .unwrap();
        assert!(span.sampled);
        assert_eq!(
            span.trace.ids.trace_id.to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(
            span.trace.remote_parent.map(|id| id.to_string()).as_deref(),
            Some("b7ad6b7169203331")
        );
        assert!(traces.client_context(&HeaderMap::new()).is_none());
        let root = traces
            .start_call(None, "chat/completions", "gpt-4o")
            .unwrap();
        assert!(root.sampled && root.trace.remote_parent.is_none());
        assert_ne!(root.trace.ids.trace_id, span.trace.ids.trace_id);

        // A parent-based sampler follows the client's decision; `always_off` keeps nothing but
        // still passes an unsampled `traceparent` upstream.
        let unsampled_client = {
            let mut headers = HeaderMap::new();
            headers.insert(
                TRACEPARENT,
                HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
            );
            traces.client_context(&headers).unwrap()
        };
        let declined = traces
            .start_call(Some(&unsampled_client), "chat/completions", "gpt-4o")
            .unwrap();
        assert!(!declined.sampled);
        let off = start(Some("always_off"));
        let mut dropped = off.start_call(None, "chat/completions", "gpt-4o").unwrap();
        assert!(!dropped.sampled);
        struct Key;
        impl call_trace::TracedKey for Key {
            fn name(&self) -> &str {
                "main"
            }
            fn provider(&self) -> &str {
                "openai"
            }
        }
        let key = Arc::new(Key);
        let (name, value) = dropped.begin_attempt(1, &key, "gpt-4o");
        assert_eq!(name, TRACEPARENT);
        let value = value.to_str().unwrap();
        assert!(value.starts_with(&format!("00-{}-", dropped.trace.ids.trace_id)));
        assert!(value.ends_with("-00"), "{value}");
        assert!(dropped.attempt.is_none(), "nothing recorded");
    }

    #[test]
    fn off_means_nothing_is_made() {
        let traces = Traces::disabled();
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("traceparent"),
            HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        );
        assert!(traces.client_context(&headers).is_none());
        assert!(traces
            .start_call(None, "chat/completions", "gpt-4o")
            .is_none());
    }
}
