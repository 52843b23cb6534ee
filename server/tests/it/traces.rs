//! OTLP/HTTP trace export: a collector inside the test (127.0.0.1) decodes the protobuf that
//! api-proxy posts and checks the call's span, its attempts' child spans, their GenAI
//! attributes, the client's trace continued and the attempt's `traceparent` sent upstream.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use actix_web::http::StatusCode;
use mock_upstream::{Behaviour, MockConfig, MockUpstream};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatus;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::json;

use crate::support::*;

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN_ID: &str = "b7ad6b7169203331";

/// One export as the collector received it.
struct Export {
    path: String,
    content_type: String,
    request: ExportTraceServiceRequest,
}

/// A minimal OTLP/HTTP collector: answers 200 to every POST and hands over what it decoded.
fn collector() -> (String, mpsc::Receiver<Export>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut raw = Vec::new();
            let mut buf = [0u8; 8192];
            let (head, length) = loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break (String::new(), 0);
                }
                raw.extend_from_slice(&buf[..n]);
                if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
                    raw.drain(..end + 4);
                    let length = header(&head, "content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    break (head, length);
                }
            };
            while raw.len() < length {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let export = Export {
                path: head.split(' ').nth(1).unwrap_or_default().to_owned(),
                content_type: header(&head, "content-type").unwrap_or_default(),
                request: ExportTraceServiceRequest::decode(&raw[..]).expect("OTLP protobuf"),
            };
            if tx.send(export).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn string(span: &Span, key: &str) -> String {
    match attribute(&span.attributes, key) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        other => panic!("{key} of {}: {other:?}", span.name),
    }
}

fn int(span: &Span, key: &str) -> i64 {
    match attribute(&span.attributes, key) {
        Some(AnyValue::IntValue(i)) => *i,
        other => panic!("{key} of {}: {other:?}", span.name),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exports what has ended and returns every span received, with the service name.
async fn exported(app: &TestApp, received: &mpsc::Receiver<Export>) -> (Vec<Span>, Vec<String>) {
    let traces = app.state().traces.clone();
    tokio::task::spawn_blocking(move || traces.flush())
        .await
        .unwrap();
    let mut spans = Vec::new();
    let mut services = Vec::new();
    for export in received.try_iter() {
        assert_eq!(export.path, "/v1/traces");
        assert_eq!(export.content_type, "application/x-protobuf");
        for resource_spans in export.request.resource_spans {
            let resource = resource_spans.resource.unwrap_or_default();
            if let Some(AnyValue::StringValue(name)) =
                attribute(&resource.attributes, "service.name")
            {
                services.push(name.clone());
            }
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    (spans, services)
}

#[actix_web::test]
async fn a_call_is_traced_with_its_attempts_and_the_clients_trace_goes_upstream() {
    let (endpoint, received) = collector();
    let broken = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(500),
        ..Default::default()
    });
    let healthy = MockUpstream::start(MockConfig::default());
    let app = TestApp::start_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_SERVICE_NAME", "gateway-under-test"),
    ])
    .await;
    assert!(app.state().traces.is_enabled());
    app.add_key(
        json!({"provider": "openai", "name": "first", "api_key": "sk-first-000000",
        "base_url": broken.openai_base(), "priority": 1}),
    )
    .await;
    app.add_key(
        json!({"provider": "openai", "name": "second", "api_key": "sk-second-00000",
        "base_url": healthy.openai_base(), "priority": 2}),
    )
    .await;

    let mut response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .insert_header(("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN_ID}-01")))
        .send_json(&chat_body("gpt-4o"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: serde_json::Value = response.json().await.unwrap();
    let (spans, services) = exported(&app, &received).await;
    assert!(services.iter().all(|s| s == "gateway-under-test") && !services.is_empty());

    let call = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .expect("the call's span");
    assert_eq!(call.name, "chat gpt-4o");
    assert_eq!(hex(&call.trace_id), TRACE_ID, "the client's trace goes on");
    assert_eq!(hex(&call.parent_span_id), CLIENT_SPAN_ID);
    assert_eq!(string(call, "gen_ai.operation.name"), "chat");
    assert_eq!(string(call, "gen_ai.provider.name"), "openai");
    assert_eq!(string(call, "gen_ai.request.model"), "gpt-4o");
    assert_eq!(string(call, "gen_ai.response.model"), "gpt-4o");
    assert_eq!(string(call, "api_proxy.key.name"), "second");
    assert_eq!(int(call, "api_proxy.attempts"), 2);
    assert_eq!(
        int(call, "gen_ai.usage.input_tokens"),
        answer["usage"]["prompt_tokens"].as_i64().unwrap()
    );
    assert_eq!(
        int(call, "gen_ai.usage.output_tokens"),
        answer["usage"]["completion_tokens"].as_i64().unwrap()
    );
    assert_eq!(int(call, "http.response.status_code"), 200);
    let reasons = match attribute(&call.attributes, "gen_ai.response.finish_reasons") {
        Some(AnyValue::ArrayValue(array)) => array
            .values
            .iter()
            .map(|v| match &v.value {
                Some(AnyValue::StringValue(s)) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>(),
        other => panic!("finish reasons: {other:?}"),
    };
    assert_eq!(
        reasons,
        [answer["choices"][0]["finish_reason"].as_str().unwrap()]
    );

    let mut attempts: Vec<&Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32)
        .collect();
    attempts.sort_by_key(|s| int(s, "api_proxy.attempt"));
    assert_eq!(attempts.len(), 2);
    for attempt in &attempts {
        assert_eq!(attempt.trace_id, call.trace_id);
        assert_eq!(attempt.parent_span_id, call.span_id, "a child of the call");
    }
    assert_eq!(string(attempts[0], "api_proxy.key.name"), "first");
    assert_eq!(int(attempts[0], "http.response.status_code"), 500);
    assert_eq!(
        attempts[0].status.as_ref().unwrap().code,
        SpanStatus::Error as i32
    );
    assert_eq!(string(attempts[1], "api_proxy.key.name"), "second");
    assert_ne!(
        attempts[1].status.as_ref().map(|s| s.code),
        Some(SpanStatus::Error as i32)
    );

    // Each upstream saw its own attempt as the parent, in the client's trace.
    let sent = |mock: &MockUpstream| {
        mock.received()[0]
            .header("traceparent")
            .map(str::to_owned)
            .expect("a traceparent upstream")
    };
    for (mock, attempt) in [(&broken, attempts[0]), (&healthy, attempts[1])] {
        assert_eq!(
            sent(mock),
            format!("00-{TRACE_ID}-{}-01", hex(&attempt.span_id))
        );
    }
    app.stop().await;
}

#[actix_web::test]
async fn a_call_without_a_client_trace_starts_one_and_a_failed_call_is_an_error() {
    let (endpoint, received) = collector();
    let app = TestApp::start_with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]).await;
    let broken = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(500),
        ..Default::default()
    });
    app.add_openai_key("only", &broken).await;
    app.put_settings(json!({"max_attempts": 1})).await;
    let reply = app.chat(chat_body("gpt-4o")).await;
    assert!(reply.status.is_server_error(), "{}", reply.text);
    let (spans, services) = exported(&app, &received).await;
    assert!(!services.is_empty() && services.iter().all(|s| s == "api-proxy"));
    let call = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .expect("the call's span");
    assert!(call.parent_span_id.is_empty(), "a new trace");
    assert_eq!(call.trace_id.len(), 16);
    assert_eq!(call.status.as_ref().unwrap().code, SpanStatus::Error as i32);
    assert_eq!(
        string(call, "error.type"),
        reply.status.as_u16().to_string()
    );
    let sent = broken.received()[0]
        .header("traceparent")
        .unwrap()
        .to_owned();
    assert!(sent.starts_with(&format!("00-{}-", hex(&call.trace_id))));
    app.stop().await;
}

#[actix_web::test]
async fn a_sampler_that_keeps_nothing_exports_nothing_and_says_so_upstream() {
    let (endpoint, received) = collector();
    let app = TestApp::start_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_TRACES_SAMPLER", "always_off"),
    ])
    .await;
    let mock = MockUpstream::start(MockConfig::default());
    app.add_openai_key("main", &mock).await;
    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let (spans, _) = exported(&app, &received).await;
    assert!(spans.is_empty(), "{} spans exported", spans.len());
    let sent = mock.received()[0].header("traceparent").unwrap().to_owned();
    assert!(sent.ends_with("-00"), "not sampled: {sent}");
    app.stop().await;
}

#[actix_web::test]
async fn without_an_endpoint_nothing_is_traced_or_sent_upstream() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    assert!(!app.state().traces.is_enabled());
    app.add_openai_key("main", &mock).await;
    let response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .insert_header(("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN_ID}-01")))
        .send_json(&chat_body("gpt-4o"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(mock.received()[0].header("traceparent"), None);
    app.stop().await;
}
