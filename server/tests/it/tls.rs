//! Upstream HTTPS: certificates are verified (the built-in roots plus `UPSTREAM_CA_FILE`), and
//! only HTTP/1.1 is spoken, even to an upstream that offers HTTP/2 (see `upstream_tls.rs`).

use actix_web::http::StatusCode;
use mock_upstream::{MockConfig, MockUpstream, MOCK_REPLY, TEST_CA_PEM};

use crate::support::*;

fn ca_file(app_dir: &std::path::Path) -> String {
    let path = app_dir.join("upstream-ca.pem");
    std::fs::write(&path, TEST_CA_PEM).unwrap();
    path.display().to_string()
}

#[actix_web::test]
async fn an_https_upstream_signed_by_the_extra_ca_is_trusted_and_spoken_to_in_http_1_1() {
    let mock = MockUpstream::start_tls(MockConfig::default());
    assert!(mock.url().starts_with("https://127.0.0.1:"));
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let ca = ca_file(dir.path());
    let app = TestApp::start_in(dir, &[("UPSTREAM_CA_FILE", &ca)]).await;
    app.add_openai_key("tls", &mock).await;

    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["choices"][0]["message"]["content"], MOCK_REPLY);

    let (status, text) = app.stream_chat(stream_body("gpt-4o")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assembled(&text), MOCK_REPLY, "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    let received = mock.received();
    assert_eq!(received.len(), 2);
    for request in &received {
        // The mock offers h2 first: a client offering it too would get HTTP/2.0 here.
        assert_eq!(request.version, "HTTP/1.1");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {SECRET}").as_str())
        );
    }
}

#[actix_web::test]
async fn an_https_upstream_with_an_untrusted_certificate_never_gets_the_key() {
    let mock = MockUpstream::start_tls(MockConfig::default());
    let app = TestApp::start().await;
    let id = app.add_openai_key("tls", &mock).await;

    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text);
    assert_eq!(reply.error_code(), Some("upstream_unreachable"));
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.to_ascii_lowercase().contains("certificate")),
        "the error names the certificate: {}",
        reply.text
    );
    assert!(!reply.text.contains(SECRET));
    assert_eq!(
        mock.request_count(),
        0,
        "no request may reach a host whose certificate failed"
    );

    // The server keeps serving: a plain upstream still answers.
    let plain = MockUpstream::start(MockConfig::default());
    let removed = app.admin("DELETE", &format!("/api/keys/{id}"), None).await;
    assert!(removed.status.is_success(), "{}", removed.text);
    app.add_openai_key("plain", &plain).await;
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn an_unreadable_ca_file_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&dir, &[("UPSTREAM_CA_FILE", "/nonexistent/ca.pem")]);
    let err = api_proxy::app::start(config)
        .await
        .err()
        .expect("start-up fails");
    assert!(
        err.to_string()
            .starts_with("UPSTREAM_CA_FILE /nonexistent/ca.pem:"),
        "{err}"
    );
}

#[actix_web::test]
async fn the_server_does_not_speak_http_2_even_to_a_client_that_assumes_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::start().await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    // HTTP/2's connection preface ("prior knowledge", h2c): an HTTP/2 server answers with a
    // SETTINGS frame, an HTTP/1.1-only one with an HTTP/1.1 error.
    socket
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer:?}");

    assert_eq!(
        app.admin("GET", "/api/health", None).await.status,
        StatusCode::OK
    );
}
