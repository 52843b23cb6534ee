//! Bad input gets a clear OpenAI-shaped error with the right status, and the server keeps serving.

use actix_web::http::StatusCode;
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};

use crate::support::*;

async fn raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = app.http.post(format!("{}{path}", app.base));
    if let Some(ct) = content_type {
        req = req.insert_header(("content-type", ct));
    }
    let mut resp = req.send_body(body).await.unwrap();
    let bytes = resp.body().limit(1 << 20).await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    (resp.status(), value)
}

#[actix_web::test]
async fn every_bad_request_gets_an_openai_error_and_the_server_keeps_serving() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start_with(&[("BODY_LIMIT_BYTES", "4096")]).await;
    app.add_openai_key("main", &mock).await;
    let json_ct = Some("application/json");

    // (case, content type, body, expected status, expected `param`)
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        Vec<u8>,
        StatusCode,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            json_ct,
            b"{\"model\": \"gpt-4o\", ".to_vec(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "not an object",
            json_ct,
            b"[1,2]".to_vec(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "missing messages",
            json_ct,
            br#"{"model":"gpt-4o"}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            Some("messages"),
        ),
        (
            "missing model",
            json_ct,
            br#"{"messages":[]}"#.to_vec(),
            StatusCode::BAD_REQUEST,
            Some("model"),
        ),
        (
            "wrong content type",
            Some("text/plain"),
            br#"{"model":"gpt-4o","messages":[]}"#.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        ),
        (
            "too large",
            json_ct,
            format!(
                r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"{}"}}]}}"#,
                "x".repeat(5000)
            )
            .into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
        (
            "unknown model",
            json_ct,
            br#"{"model":"gpt-99","messages":[]}"#.to_vec(),
            StatusCode::NOT_FOUND,
            Some("model"),
        ),
    ];
    for (name, ct, body, status, param) in cases {
        let (got, value) = raw(&app, "/v1/chat/completions", ct, body).await;
        assert_eq!(got, status, "{name}: {value}");
        assert!(value["error"]["message"].is_string(), "{name}: {value}");
        assert!(value["error"]["type"].is_string(), "{name}: {value}");
        if let Some(p) = param {
            assert_eq!(value["error"]["param"], p, "{name}: {value}");
        }
    }
    let (_, value) = raw(
        &app,
        "/v1/chat/completions",
        json_ct,
        br#"{"model":"gpt-99","messages":[]}"#.to_vec(),
    )
    .await;
    assert_eq!(value["error"]["code"], "model_not_found");
    assert_eq!(
        mock.request_count(),
        0,
        "nothing invalid may reach the upstream"
    );

    // Unknown routes and admin extractor failures are JSON too.
    let r = app.request("GET", "/v1/nope", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    r.error_code();
    let r = app
        .admin("POST", "/api/keys", Some(json!({"provider": "openai"})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    r.error_code();
    let r = app.admin("GET", "/api/keys/not-a-number", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    r.error_code();
    let r = app.admin("GET", "/api/logs?limit=abc", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    r.error_code();

    assert_eq!(
        app.chat(chat_body("gpt-4o")).await.status,
        StatusCode::OK,
        "still serving"
    );
    app.stop().await;
}

#[actix_web::test]
async fn no_usable_key_answers_503_at_once() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let id = app.add_openai_key("main", &mock).await;
    app.admin(
        "PATCH",
        &format!("/api/keys/{id}"),
        Some(json!({"enabled": false})),
    )
    .await;
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.error_code(), Some("no_available_key"));

    // An exhausted quota is the same.
    app.admin(
        "PATCH",
        &format!("/api/keys/{id}"),
        Some(json!({"enabled": true, "quota_total": 1, "quota_remaining": 1})),
    )
    .await;
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    let key = app.admin("GET", &format!("/api/keys/{id}"), None).await;
    assert_eq!(key.body["state"], "quota_exhausted", "{}", key.text);
    assert_eq!(
        app.chat(chat_body("gpt-4o")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(mock.request_count(), 1);
    app.stop().await;
}

/// A body that trickles in (or never comes) cannot hold a worker: after `CLIENT_BODY_TIMEOUT_MS`
/// the client gets an OpenAI-shaped 408.
#[actix_web::test]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start_with(&[("CLIENT_BODY_TIMEOUT_MS", "300")]).await;
    app.add_openai_key("main", &mock).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // 20 MiB declared, a few bytes sent, then nothing.
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"model\":",
        20 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 10 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#""code":"request_timeout""#), "{text}");
    assert!(text.contains(r#""type":"invalid_request_error""#), "{text}");
    assert_eq!(mock.request_count(), 0);
    // The server still serves.
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    app.stop().await;
}

/// A model name longer than 256 bytes is refused before routing, on every surface.
#[actix_web::test]
async fn an_overlong_model_name_is_refused() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    let long = "m".repeat(257);
    let r = app.chat(chat_body(&long)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["param"], "model");
    let r = app.messages(messages_body(&long)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.anthropic_error_type(), "invalid_request_error");
    let r = app
        .anthropic_raw(
            "/v1/messages/count_tokens",
            messages_body(&long).to_string(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // 256 bytes is still a name (no key serves it: 404, not 400).
    let r = app.chat(chat_body(&"m".repeat(256))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(mock.request_count(), 0);
    app.stop().await;
}
