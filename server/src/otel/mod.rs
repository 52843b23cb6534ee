//! OpenTelemetry traces over OTLP/HTTP (protobuf), with the GenAI semantic conventions: one
//! span per proxied call (`gen_ai.operation.name`, `gen_ai.provider.name`,
//! `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.*`, the key's name, the
//! attempts), one child span per upstream attempt, the client's W3C `traceparent` continued and
//! the attempt's own passed upstream.
//!
//! Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.
//! Then [`Traces`] is empty and every method returns at once: no span, no header read, no
//! allocation. The spans are made with the OpenTelemetry API directly rather than through
//! `tracing` spans, because a `tracing` span is also recorded by the log subscriber whether or
//! not anything exports it, and because a call's span lives in its [`CallRecord`] across the
//! stream's end, not in one scope.
//!
//! [`CallRecord`]: crate::proxy::record::CallRecord

pub mod http_client;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{
    Span, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;

use crate::routing::TokenUsage;
use http_client::BlockingHttpClient;

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and as what traces are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceConfig {
    /// The full URL spans are posted to (`…/v1/traces`).
    pub endpoint: String,
    pub service_name: String,
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` as given (checked at start).
    pub sampler: Option<String>,
    pub sampler_arg: Option<String>,
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

#[derive(Debug, thiserror::Error)]
#[error("OTLP trace export: {0}")]
pub struct TraceSetupError(String);

/// Trace export on or off; cheap to clone.
#[derive(Clone, Default)]
pub struct Traces(Option<Arc<Exporting>>);

struct Exporting {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    propagator: TraceContextPropagator,
}

impl Traces {
    pub fn disabled() -> Self {
        Self(None)
    }

    /// Starts the exporter (its batch processor runs on a thread of its own).
    pub fn start(config: &TraceConfig) -> Result<Self, TraceSetupError> {
        if !config.endpoint.starts_with("http://") {
            return Err(TraceSetupError(format!(
                "{} is not an http:// URL (send to a local collector, which may forward over TLS)",
                config.endpoint
            )));
        }
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(BlockingHttpClient::new(EXPORT_TIMEOUT))
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(config.endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| TraceSetupError(e.to_string()))?;
        let provider = SdkTracerProvider::builder()
            .with_sampler(config.sampler()?)
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .build(),
            )
            .build();
        let tracer = provider.tracer("api-proxy");
        Ok(Self(Some(Arc::new(Exporting {
            provider,
            tracer,
            propagator: TraceContextPropagator::new(),
        }))))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The client's trace context (`traceparent`, `tracestate`), when tracing is on.
    pub fn client_context(&self, headers: &HeaderMap) -> Option<Context> {
        let exporting = self.0.as_ref()?;
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
        let operation = operation_name(endpoint);
        let root = Context::new();
        let span = exporting
            .tracer
            .span_builder(format!("{operation} {model}"))
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", operation),
                KeyValue::new("gen_ai.request.model", model.to_owned()),
                KeyValue::new("api_proxy.endpoint", endpoint),
            ])
            .start_with_context(&exporting.tracer, parent.unwrap_or(&root));
        Some(CallSpan {
            tracer: exporting.tracer.clone(),
            context: parent.unwrap_or(&root).with_span(span),
            attempt: None,
        })
    }

    /// Exports every finished span now (tests; shutdown).
    pub fn flush(&self) {
        if let Some(exporting) = &self.0 {
            if let Err(e) = exporting.provider.force_flush() {
                tracing::warn!(error = %e, "could not export traces");
            }
        }
    }

    /// Exports what is left and stops the exporter (blocking).
    pub fn shutdown(&self) {
        if let Some(exporting) = &self.0 {
            let _ = exporting.provider.shutdown();
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

/// `gen_ai.operation.name` of an endpoint.
pub fn operation_name(endpoint: &'static str) -> &'static str {
    match endpoint {
        "embeddings" => "embeddings",
        _ => "chat",
    }
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

/// A call's span and its current attempt's.
pub struct CallSpan {
    tracer: SdkTracer,
    /// The parent's context with the call's span.
    context: Context,
    attempt: Option<opentelemetry_sdk::trace::Span>,
}

/// A W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), written by table: the ids' `Display`
/// went through the formatter digit by digit on every attempt.
fn traceparent(trace: [u8; 16], span: [u8; 8], flags: u8) -> [u8; 55] {
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

/// What the call's span says at its end.
pub struct CallEnd<'a> {
    pub status: u16,
    pub provider: Option<&'a str>,
    pub key: Option<&'a str>,
    pub model: &'a str,
    pub usage: &'a TokenUsage,
    pub attempts: i32,
    pub finish_reasons: &'a [String],
    pub error: Option<&'a str>,
}

impl CallSpan {
    /// Starts an attempt's span (a child of the call's) and returns the `traceparent` that
    /// carries it upstream.
    pub fn begin_attempt(
        &mut self,
        number: i32,
        key: &str,
        provider: &str,
        model: &str,
    ) -> (HeaderName, HeaderValue) {
        self.end_attempt(None, None);
        let span = self
            .tracer
            .span_builder(format!("attempt {number} {key}"))
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("gen_ai.provider.name", provider.to_owned()),
                KeyValue::new("gen_ai.request.model", model.to_owned()),
                KeyValue::new("api_proxy.key.name", key.to_owned()),
                KeyValue::new("api_proxy.attempt", i64::from(number)),
            ])
            .start_with_context(&self.tracer, &self.context);
        let ids = span.span_context();
        let traceparent = traceparent(
            ids.trace_id().to_bytes(),
            ids.span_id().to_bytes(),
            ids.trace_flags().to_u8(),
        );
        self.attempt = Some(span);
        (
            HeaderName::from_static("traceparent"),
            HeaderValue::from_bytes(&traceparent).expect("hex and dashes"),
        )
    }

    /// Ends the current attempt's span, if any: an error when `error` is set.
    pub fn end_attempt(&mut self, status: Option<u16>, error: Option<&str>) {
        if let Some(mut span) = self.attempt.take() {
            if let Some(status) = status {
                span.set_attribute(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status),
                ));
            }
            if let Some(error) = error {
                span.set_status(Status::error(error.to_owned()));
            }
            span.end();
        }
    }

    /// Ends the call's span (and its last attempt's).
    pub fn end(mut self, end: &CallEnd<'_>) {
        let failed = end.status >= 400;
        self.end_attempt(Some(end.status), end.error.filter(|_| failed));
        let span = self.context.span();
        let mut attributes = vec![
            KeyValue::new("http.response.status_code", i64::from(end.status)),
            KeyValue::new("api_proxy.attempts", i64::from(end.attempts)),
            KeyValue::new("gen_ai.response.model", end.model.to_owned()),
        ];
        if let Some(provider) = end.provider {
            attributes.push(KeyValue::new("gen_ai.provider.name", provider.to_owned()));
        }
        if let Some(key) = end.key {
            attributes.push(KeyValue::new("api_proxy.key.name", key.to_owned()));
        }
        if !failed {
            attributes.push(KeyValue::new("gen_ai.usage.input_tokens", end.usage.prompt));
            attributes.push(KeyValue::new(
                "gen_ai.usage.output_tokens",
                end.usage.completion,
            ));
        }
        if !end.finish_reasons.is_empty() {
            attributes.push(KeyValue::new(
                "gen_ai.response.finish_reasons",
                opentelemetry::Value::Array(
                    end.finish_reasons
                        .iter()
                        .map(|r| opentelemetry::StringValue::from(r.clone()))
                        .collect::<Vec<_>>()
                        .into(),
                ),
            ));
        }
        span.set_attributes(attributes);
        if failed {
            span.set_attribute(KeyValue::new("error.type", end.status.to_string()));
            span.set_status(Status::error(end.error.unwrap_or_default().to_owned()));
        }
        span.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_comes_from_the_standard_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
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
    }

    #[test]
    fn the_sampler_comes_from_the_standard_variables() {
        let config = |sampler: Option<&str>, arg: Option<&str>| TraceConfig {
            endpoint: "http://127.0.0.1:4318/v1/traces".into(),
            service_name: "api-proxy".into(),
            sampler: sampler.map(str::to_owned),
            sampler_arg: arg.map(str::to_owned),
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
    fn traceparent_is_w3c() {
        let trace = opentelemetry::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let span = opentelemetry::SpanId::from_hex("00f067aa0ba902b7").unwrap();
        let header = traceparent(trace.to_bytes(), span.to_bytes(), 1);
        assert_eq!(
            std::str::from_utf8(&header).unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
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
