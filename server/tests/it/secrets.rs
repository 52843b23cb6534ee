//! Secrets at rest and in motion: nothing in the SQLite files in plaintext, files private,
//! wrong master keys refused at start-up, keys scrubbed from upstream error echoes.

use std::sync::Arc;

use actix_web::http::StatusCode;
use mock_upstream::{Behaviour, MockConfig, MockUpstream};
use serde_json::json;
use tempfile::TempDir;

use crate::support::*;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[actix_web::test]
async fn the_database_never_holds_a_key_in_plaintext() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let id = app.add_openai_key("main", &mock).await;
    app.admin(
        "PATCH",
        &format!("/api/keys/{id}"),
        Some(json!({"api_key": "sk-rotated-PLAINTEXT-5678"})),
    )
    .await;
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(
        mock.received()[0].header("authorization"),
        Some("Bearer sk-rotated-PLAINTEXT-5678")
    );
    // While running (the WAL holds the newest pages) and after a clean stop.
    let running = scan_data_dir(&app.dir.path().join("data"));
    assert!(
        running >= 3,
        "the database, its WAL and the key file were checked ({running})"
    );
    let dir = app.stop().await;
    assert!(scan_data_dir(&dir.path().join("data")) >= 2);
}

/// Checks every file for plaintext secrets; returns how many files were read.
fn scan_data_dir(data: &std::path::Path) -> usize {
    let mut checked = 0;
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        // SQLite removes its -shm/-wal files on close; a file gone meanwhile has nothing to leak.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for needle in ["SECRETSECRET", "PLAINTEXT-5678", ADMIN_TOKEN] {
            assert!(
                !contains(&bytes, needle),
                "{} holds {needle} in plaintext",
                path.display()
            );
        }
        checked += 1;
    }
    checked
}

#[cfg(unix)]
#[actix_web::test]
async fn generated_secrets_and_the_database_are_private_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Arc::new(TempDir::new().unwrap());
    // No ADMIN_TOKEN and no ENCRYPTION_KEY: both are generated.
    let app = TestApp::start_in(dir.clone(), &[("ADMIN_TOKEN", "")]).await;
    let data = dir.path().join("data");
    for file in ["master.key", "admin.token", "api-proxy.db"] {
        let mode = std::fs::metadata(data.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file} has mode {mode:o}");
    }
    let token = std::fs::read_to_string(data.join("admin.token")).unwrap();
    let r = app
        .request("GET", "/api/keys", Some(token.trim()), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.stop().await;
}

#[actix_web::test]
async fn a_wrong_master_key_is_refused_at_start_up() {
    let dir = Arc::new(TempDir::new().unwrap());
    let passphrase = [("ENCRYPTION_KEY", "correct horse battery staple")];
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start_in(dir.clone(), &passphrase).await;
    app.add_openai_key("main", &mock).await;
    app.stop().await;

    let wrong = api_proxy::app::start(config_for(
        &dir,
        &[("ENCRYPTION_KEY", "incorrect horse battery staple")],
    ))
    .await;
    let err = wrong.err().expect("a wrong key must not start").to_string();
    assert!(err.contains("master key does not match"), "{err}");
    let raw = api_proxy::app::start(config_for(
        &dir,
        &[("ENCRYPTION_KEY", &api_proxy::crypto::b64(&[9u8; 32]))],
    ))
    .await;
    assert!(raw.is_err());

    // The right passphrase opens the keys again.
    let app = TestApp::start_in(dir, &passphrase).await;
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(
        mock.received()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_missing_key_file_is_a_clear_error_not_garbage() {
    let dir = Arc::new(TempDir::new().unwrap());
    let app = TestApp::start_in(dir.clone(), &[]).await;
    app.add_key(json!({"provider": "openai", "name": "k", "api_key": SECRET}))
        .await;
    app.stop().await;
    std::fs::remove_file(dir.path().join("data/master.key")).unwrap();
    let err = api_proxy::app::start(config_for(&dir, &[]))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("master.key is missing"), "{err}");
}

#[actix_web::test]
async fn a_key_echoed_by_the_upstream_is_scrubbed() {
    let mock = MockUpstream::start(MockConfig {
        behaviour: Behaviour::RawStatus {
            status: 401,
            content_type: "application/json".into(),
            body: format!(
                r#"{{"error":{{"message":"Incorrect API key provided: {SECRET}","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
            ),
        },
        ..Default::default()
    });
    let app = TestApp::start().await;
    let id = app.add_openai_key("main", &mock).await;
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.error_code(), Some("upstream_key_rejected"));
    assert!(!r.text.contains(SECRET), "{}", r.text);
    assert!(r.text.contains("***"));
    let logs = app.logs().await;
    assert!(!logs[0].to_string().contains(SECRET));
    // A 401 from the provider marks the key dead until it is edited.
    let key = app.admin("GET", &format!("/api/keys/{id}"), None).await;
    assert_eq!(key.body["state"], "auth_dead");
    app.stop().await;
}

/// Every text the live feed sends until `calls` call events have come.
async fn live_calls(
    conn: &mut actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>,
    calls: usize,
) -> Vec<String> {
    use futures_util::StreamExt;
    let mut seen = Vec::new();
    let mut count = 0;
    while count < calls {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), conn.next())
            .await
            .expect("a call event")
            .expect("socket open")
            .expect("frame");
        if let awc::ws::Frame::Text(bytes) = frame {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if text.contains(r#""type":"call""#) {
                count += 1;
            }
            seen.push(text);
        }
    }
    seen
}

/// An upstream that echoes its key, as it is, JSON-escaped (`\u0073` for `s`, `\/`) or where a
/// 300-character cut would fall inside it: the key reaches neither the client, nor the call log,
/// nor its attempt trail, nor the live feed.
#[actix_web::test]
async fn an_echoed_key_is_scrubbed_from_logs_trails_and_the_live_feed() {
    // A key with a slash, which some JSON writers escape as `\/`.
    const KEY: &str = "sk-live/ECHOECHOECHO-9876";
    let escaped = r"\u0073k-live\/ECHOECHOECHO-9876";
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_key(json!({
        "provider": "openai", "name": "main", "api_key": KEY, "base_url": mock.openai_base()
    }))
    .await;
    let ws_url = format!("{}/api/live", app.base.replace("http://", "ws://"));
    let ticket = app.admin("POST", "/api/live/ticket", None).await;
    let ticket = ticket.body["ticket"].as_str().unwrap().to_owned();
    let (_, mut feed) = awc::Client::new()
        .ws(format!("{ws_url}?ticket={ticket}"))
        .connect()
        .await
        .expect("websocket connects");

    let echoes = [
        // OpenAI-shaped, the key plain and escaped.
        Behaviour::RawStatus {
            status: 500,
            content_type: "application/json".into(),
            body: format!(
                r#"{{"error":{{"message":"bad key {escaped} (also {KEY})","type":"server_error","code":null}}}}"#
            ),
        },
        // Not JSON, the key where the 300-character cut would split it.
        Behaviour::RawStatus {
            status: 500,
            content_type: "text/plain".into(),
            body: format!("{}{KEY} trailing", "x".repeat(290)),
        },
        // An in-stream error quoting the key escaped.
        Behaviour::RawStatus {
            status: 200,
            content_type: "text/event-stream".into(),
            body: format!(
                "data: {{\"error\":{{\"message\":\"key {escaped} refused\",\"type\":\"server_error\"}}}}\n\n"
            ),
        },
    ];
    let mut answers = Vec::new();
    for (i, echo) in echoes.into_iter().enumerate() {
        mock.set_behaviour(echo);
        let body = if i == 2 {
            stream_body("gpt-4o")
        } else {
            chat_body("gpt-4o")
        };
        let r = app.chat(body).await;
        let expected = if i == 2 { 200 } else { 500 };
        assert_eq!(r.status.as_u16(), expected, "{}", r.text);
        answers.push(r.text);
    }
    let feed = live_calls(&mut feed, 3).await.join("\n");
    app.state().writer.flush().await;
    let logs = app.logs().await;
    assert_eq!(logs.len(), 3, "{logs:?}");
    let mut details = Vec::new();
    for log in &logs {
        let id = log["id"].as_i64().unwrap();
        details.push(
            app.admin("GET", &format!("/api/logs/{id}"), None)
                .await
                .text,
        );
    }
    let logs = serde_json::to_string(&logs).unwrap();
    for (place, text) in [
        ("the client's answers", answers.join("\n")),
        ("the call log", logs.clone()),
        ("the call log details", details.join("\n")),
        ("the live feed", feed.clone()),
    ] {
        for leak in ["ECHOECHO", "ECHOE", r"sk-live", r"\u0073k-live"] {
            assert!(!text.contains(leak), "{place} holds {leak}: {text}");
        }
    }
    // The errors are there, only masked: every attempt trail kept its message.
    assert!(logs.contains("***"), "{logs}");
    assert!(details.iter().all(|d| d.contains("attempt_trail")));
    assert!(feed.contains("***"), "{feed}");
    app.stop().await;
}
