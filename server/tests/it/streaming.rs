//! Streamed proxying: chunk framing, `[DONE]`, the usage chunk rule, and explicit errors when the
//! upstream breaks, stalls or stops early. Client disconnects cancel the upstream call.

use std::time::Duration;

use actix_web::http::StatusCode;
use futures_util::StreamExt;
use mock_upstream::{Behaviour, MockConfig, MockUpstream, MOCK_REPLY};
use serde_json::{json, Value};

use crate::support::*;

#[actix_web::test]
async fn stream_is_relayed_with_done_and_without_the_usage_chunk_nobody_asked_for() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;

    let (status, text) = app.stream_chat(stream_body("gpt-4o")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let data = sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(assembled(&text), MOCK_REPLY);
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    assert!(
        chunks
            .iter()
            .all(|c| !c["choices"].as_array().unwrap().is_empty()),
        "the usage-only chunk must not reach a client that did not ask for it"
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );

    // api-proxy asked the upstream for usage on its own account...
    let sent = &mock.received()[0].body;
    assert_eq!(sent["stream_options"]["include_usage"], true);
    // ...and recorded it.
    let logs = app.logs().await;
    assert_eq!(logs[0]["stream"], true);
    assert_eq!(logs[0]["status"], 200);
    assert_eq!(logs[0]["prompt_tokens"], 12);
    assert_eq!(logs[0]["completion_tokens"], 5);
    assert!(logs[0]["cost_usd"].as_f64().unwrap() > 0.0);
    app.stop().await;
}

#[actix_web::test]
async fn stream_keeps_the_usage_chunk_when_the_client_asked() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    let mut body = stream_body("gpt-4o");
    body["stream_options"] = json!({"include_usage": true});
    let (_, text) = app.stream_chat(body.clone()).await;
    let data = sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let usage_chunk: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["total_tokens"], 17);
    // The client's own request went upstream untouched.
    assert_eq!(mock.received()[0].body, body);
    app.stop().await;
}

/// A finished stream's upstream connection goes back to the pool: the body is read to its end
/// after `[DONE]`, where dropping it unfinished closed the connection, so every stream paid a new
/// TCP connect to the provider.
#[actix_web::test]
async fn sequential_streams_reuse_one_upstream_connection() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    const STREAMS: usize = 10;
    for _ in 0..STREAMS {
        let (status, text) = app.stream_chat(stream_body("gpt-4o")).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(sse_data(&text).last().map(String::as_str), Some("[DONE]"));
    }
    let peers: std::collections::HashSet<_> =
        mock.received().iter().map(|r| r.peer.unwrap()).collect();
    assert_eq!(mock.request_count(), STREAMS);
    // One connection, or two should the end of a body arrive just after the next request left.
    assert!(
        peers.len() <= 2,
        "{} upstream connections for {STREAMS} streams",
        peers.len()
    );
    app.stop().await;
}

#[actix_web::test]
async fn chunks_are_flushed_as_they_arrive() {
    // The upstream sends two chunks and then stalls: a buffering proxy would deliver nothing.
    let mock = MockUpstream::start(MockConfig {
        behaviour: Behaviour::StallAfter(2),
        ..Default::default()
    });
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    let mut resp = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .send_json(&stream_body("gpt-4o"))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut text = String::new();
    while !text.contains("\"content\":\"Hello\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.next())
            .await
            .expect("chunks must arrive while the upstream is still open")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(resp);
    // The server keeps serving.
    mock.set_behaviour(Behaviour::Normal);
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    app.stop().await;
}

#[actix_web::test]
async fn a_client_leaving_mid_stream_cancels_the_upstream_call() {
    let mock = MockUpstream::start(MockConfig {
        chunks: 500,
        chunk_delay: Duration::from_millis(10),
        ..Default::default()
    });
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    let mut resp = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .send_json(&stream_body("gpt-4o"))
        .await
        .unwrap();
    resp.next().await.unwrap().unwrap();
    drop(resp);
    // Bounded wait for an event the test cannot trigger itself; it normally comes in milliseconds.
    tokio::time::timeout(Duration::from_secs(20), mock.wait_cancelled(1))
        .await
        .expect("the upstream stream must be cancelled when the client leaves");
    let logs = app.logs().await;
    assert_eq!(logs[0]["status"], 499);
    assert_eq!(
        logs[0]["error"],
        "client disconnected before the end of the stream"
    );
    app.stop().await;
}

async fn broken_stream(behaviour: Behaviour, settings: Option<Value>) -> (String, Vec<Value>) {
    let mock = MockUpstream::start(MockConfig {
        behaviour,
        ..Default::default()
    });
    let app = TestApp::start().await;
    if let Some(s) = settings {
        app.put_settings(s).await;
    }
    app.add_openai_key("main", &mock).await;
    let (status, text) = app.stream_chat(stream_body("gpt-4o")).await;
    assert_eq!(status, StatusCode::OK);
    let logs = app.logs().await;
    mock.set_behaviour(Behaviour::Normal);
    assert_eq!(
        app.chat(chat_body("gpt-4o")).await.status,
        StatusCode::OK,
        "server keeps serving"
    );
    app.stop().await;
    (text, logs)
}

fn assert_explicit_error(text: &str) -> Value {
    let data = sse_data(text);
    assert!(
        !data.iter().any(|d| d == "[DONE]"),
        "a broken stream must not end with a fake [DONE]: {text}"
    );
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{text}");
    assert_eq!(last["error"]["code"], "upstream_stream_error");
    last
}

#[actix_web::test]
async fn reset_mid_stream_becomes_an_error_event() {
    let (text, logs) = broken_stream(Behaviour::ResetAfter(2), None).await;
    assert!(assembled(&text).starts_with("Hello"));
    assert_explicit_error(&text);
    let failed = logs.iter().find(|l| l["stream"] == true).unwrap();
    assert_eq!(failed["status"], 502);
}

#[actix_web::test]
async fn stream_ending_without_done_becomes_an_error_event() {
    let (text, _) = broken_stream(Behaviour::NoDone, None).await;
    let error = assert_explicit_error(&text);
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("before it was complete"));
}

#[actix_web::test]
async fn silent_stream_times_out_with_an_error_event() {
    let (text, logs) = broken_stream(
        Behaviour::StallAfter(2),
        Some(json!({"stream_idle_timeout_ms": 300})),
    )
    .await;
    assert_explicit_error(&text);
    let failed = logs.iter().find(|l| l["stream"] == true).unwrap();
    assert_eq!(failed["status"], 504);
}

/// The idle timeout is the longest silence between chunks, not a limit on the whole stream: a
/// stream that lasts several idle timeouts but never pauses that long is relayed to the end.
#[actix_web::test]
async fn a_long_stream_that_never_falls_silent_is_not_timed_out() {
    let mock = MockUpstream::start(MockConfig {
        chunks: 12,
        chunk_delay: Duration::from_millis(100),
        ..Default::default()
    });
    let app = TestApp::start().await;
    app.put_settings(json!({"stream_idle_timeout_ms": 500}))
        .await;
    app.add_openai_key("main", &mock).await;
    let started = std::time::Instant::now();
    let (status, text) = app.stream_chat(stream_body("gpt-4o")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        started.elapsed() > Duration::from_millis(1000),
        "the stream lasted longer than two idle timeouts"
    );
    assert_eq!(
        sse_data(&text).last().map(String::as_str),
        Some("[DONE]"),
        "{text}"
    );
    assert_eq!(app.logs().await[0]["status"], 200);
    app.stop().await;
}

/// An upstream event that never ends is cut off at 1 MiB with an explicit error event, in the
/// client's dialect, instead of growing in memory for as long as the upstream sends.
#[actix_web::test]
async fn an_endless_upstream_event_ends_the_stream_with_an_error() {
    // Far more than the cap: without it, the relay would buffer all of it.
    let mock = MockUpstream::start(MockConfig {
        behaviour: Behaviour::EndlessEvent(64 << 20),
        ..Default::default()
    });
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;

    let (status, text) = app.stream_chat(stream_body("gpt-4o")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let data = sse_data(&text);
    assert_eq!(data.len(), 1, "only the error event: {text}");
    let error: Value = serde_json::from_str(&data[0]).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than 1048576 bytes"),
        "{error}"
    );
    assert!(!text.contains("[DONE]"));
    let logs = app.logs().await;
    assert_eq!(logs[0]["status"], 502);

    // A Messages client of the same key gets Anthropic's error event.
    let r = app
        .messages(json!({
            "model": "gpt-4o", "max_tokens": 16, "stream": true,
            "messages": [{"role": "user", "content": "hi"}]
        }))
        .await;
    let events = anthropic_events(&r.text);
    let (name, last) = events.last().expect("an event");
    assert_eq!(name, "error", "{}", r.text);
    assert!(last["error"]["message"]
        .as_str()
        .unwrap()
        .contains("longer than"));
    app.stop().await;
}
