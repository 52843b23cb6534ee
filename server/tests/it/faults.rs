//! Faults: upstreams that reset, send garbage or huge answers, clients with oversized headers, a
//! busy database, and `kill -9` in the middle of traffic. After each, the server keeps serving.

use std::time::Duration;

use actix_web::http::StatusCode;
use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;
use mock_upstream::{Behaviour, MockConfig, MockUpstream};
use serde_json::Value;

use crate::support::*;

#[actix_web::test]
async fn upstream_faults_are_explicit_errors_and_the_server_keeps_serving() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.put_settings(serde_json::json!({"max_attempts": 1}))
        .await;
    app.add_openai_key("main", &mock).await;

    mock.set_behaviour(Behaviour::ResetBeforeHeaders);
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    r.error_code();

    mock.set_behaviour(Behaviour::InvalidSse);
    let (status, text) = app.stream_chat(stream_body("gpt-4o")).await;
    assert_eq!(status, StatusCode::OK);
    let data = sse_data(&text);
    assert!(!data.iter().any(|d| d == "[DONE]"), "{text}");
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not JSON"),
        "{text}"
    );

    // A 10 MB answer goes through whole.
    mock.set_behaviour(Behaviour::LargeBody(10 * 1024 * 1024));
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .len(),
        10 * 1024 * 1024
    );

    // Oversized request headers are refused with a clear error.
    let huge = "x".repeat(128 * 1024);
    let resp = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .insert_header(("x-padding", huge))
        .send_json(&chat_body("gpt-4o"))
        .await;
    let mut resp = resp.expect("the server answers");
    assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let body: Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large");

    mock.set_behaviour(Behaviour::Normal);
    assert_eq!(
        app.chat(chat_body("gpt-4o")).await.status,
        StatusCode::OK,
        "still serving"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_busy_database_does_not_stop_the_proxy() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    // Another process holds the write lock.
    let db = api_proxy::db::Db::open(&app.db_path()).unwrap();
    let mut blocker = db.conn().unwrap();
    blocker.batch_execute("BEGIN EXCLUSIVE").unwrap();
    for _ in 0..3 {
        assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    }
    blocker.batch_execute("ROLLBACK").unwrap();
    drop(blocker);
    // Nothing was lost: the writer wrote the batch once the lock was gone.
    assert_eq!(app.logs().await.len(), 3);
    app.stop().await;
}

#[actix_web::test]
async fn kill_9_under_load_leaves_a_sound_database() {
    let mock = MockUpstream::start(MockConfig {
        workers: 2,
        ..Default::default()
    });
    let dir = std::sync::Arc::new(tempfile::TempDir::new().unwrap());
    let mut proc = crate::process::spawn_binary(&dir);
    let http = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    proc.add_openai_key(&http, &mock).await;

    let mut completed = 0;
    for round in 0..10 {
        let replies = futures_util::future::join_all((0..20).map(|_| {
            http.post(format!("{}/v1/chat/completions", proc.base))
                .send_json(&chat_body("gpt-4o"))
        }))
        .await;
        completed += replies
            .iter()
            .filter(|r| r.as_ref().is_ok_and(|r| r.status() == StatusCode::OK))
            .count();
        if round == 6 {
            // Mid-traffic, without warning.
            proc.child.kill().unwrap();
            break;
        }
    }
    proc.child.wait().unwrap();

    let db = api_proxy::db::Db::open(&dir.path().join("data/api-proxy.db")).unwrap();
    let integrity: Vec<IntegrityRow> = db
        .run(|conn| Ok(diesel::sql_query("PRAGMA integrity_check").load(conn)?))
        .await
        .unwrap();
    assert_eq!(integrity[0].integrity_check, "ok");
    let app = TestApp::start_in(dir, &[]).await;
    let keys = app.admin("GET", "/api/keys", None).await;
    assert_eq!(
        keys.body["data"].as_array().unwrap().len(),
        1,
        "no key is lost"
    );
    let logged = app.logs().await.len();
    assert!(logged <= completed, "{logged} > {completed}");
    // At most the last unflushed batch is lost: the calls of the last LOG_FLUSH_MS (20 ms here).
    assert!(completed - logged <= 512, "lost {}", completed - logged);
    assert_eq!(
        app.chat(chat_body("gpt-4o")).await.status,
        StatusCode::OK,
        "the stored key still decrypts"
    );
    app.stop().await;
}

#[derive(diesel::QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}
