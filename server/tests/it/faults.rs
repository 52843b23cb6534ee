//! Faults: upstreams that reset, send garbage or huge answers, clients with oversized headers, a
//! busy database, and `kill -9` in the middle of traffic. After each, the server keeps serving.

use std::time::Duration;

use actix_web::http::StatusCode;
use diesel::connection::SimpleConnection;
use diesel::{QueryDsl, RunQueryDsl};
use mock_upstream::{Behaviour, MockConfig, MockUpstream};
use serde_json::{json, Value};

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
    // A change cannot be saved meanwhile: a clear 503 after the busy timeout, not a 500.
    let change = json!({"log_retention_days": 7});
    let refused = app
        .admin("PUT", "/api/settings", Some(change.clone()))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text
    );
    assert_eq!(refused.error_code(), Some("database_busy"));
    assert_eq!(refused.header("retry-after"), Some("1"));
    let health = app.request("GET", "/api/health", None, None).await;
    assert_eq!(health.status, StatusCode::OK, "still serving");
    assert_eq!(health.body["status"], "degraded");
    assert_eq!(health.body["database"], "busy");

    blocker.batch_execute("ROLLBACK").unwrap();
    drop(blocker);
    // The lock is gone: the writer writes what it kept without waiting for another call (it
    // retries every second while writes fail); read straight from the file.
    let mut reader = db.conn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stored: i64 = api_proxy::db::schema::call_logs::table
            .count()
            .get_result(&mut reader)
            .unwrap();
        if stored == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the kept logs were never written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The change is saved now, and a write that succeeds clears the verdict.
    app.put_settings(change).await;
    let health = app.request("GET", "/api/health", None, None).await;
    assert_eq!(health.body["database"], "ok", "{}", health.text);
    assert_eq!(health.body["status"], "ok");
    // Nothing was lost: the writer wrote the batch once the lock was gone.
    assert_eq!(app.logs().await.len(), 3);
    app.stop().await;
}

/// A data folder the server cannot write (a read-only mount, files owned by another user): it
/// still starts and proxies with the stored keys; changes get a clear 503 and `/api/health` says
/// why. Root writes through file modes, so as root the binary runs as `nobody`.
#[actix_web::test]
async fn a_read_only_database_still_proxies_and_says_why_changes_fail() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;

    let mock = MockUpstream::start(MockConfig::default());
    let first = std::sync::Arc::new(tempfile::TempDir::new().unwrap());
    let app = TestApp::start_in(first.clone(), &[]).await;
    app.add_openai_key("main", &mock).await;
    let db_path = app.db_path();
    app.stop().await;
    // Everything into the main file (waiting out the stopping server's last users of it), then
    // only that file and the master key go into a fresh folder: no WAL index beside the file,
    // which a read-only folder cannot get, so SQLite cannot even read it the usual way.
    {
        use diesel::Connection;
        let mut conn = diesel::SqliteConnection::establish(db_path.to_str().unwrap()).unwrap();
        conn.batch_execute("PRAGMA busy_timeout = 30000; PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    let dir = std::sync::Arc::new(tempfile::TempDir::new().unwrap());
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for name in ["api-proxy.db", "master.key"] {
        std::fs::copy(first.path().join("data").join(name), data.join(name)).unwrap();
    }

    // The binary goes into the folder too: `nobody` may not reach the build directory.
    let program = dir.path().join("api-proxy");
    std::fs::copy(env!("CARGO_BIN_EXE_api-proxy"), &program).unwrap();
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let set_mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let mut files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    const NOBODY: u32 = 65_534;
    for path in files
        .iter()
        .chain([&data, &program, &dir.path().to_path_buf()])
    {
        if root {
            std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
        }
    }
    for file in &files {
        set_mode(file, 0o400);
    }
    set_mode(&data, 0o500);
    set_mode(&program, 0o500);
    set_mode(dir.path(), 0o500);

    let mut cmd = crate::process::binary_command(&program, &dir, &[("LOG_LEVEL", "info")]);
    // The built-in provider list: `nobody` may not read the repository's `configs/`.
    cmd.env_remove("PROVIDERS_DIR");
    if root {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let proc = crate::process::spawn(cmd);
    let http = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let get = |path: &str| proc.admin(&http, "GET", path).send();

    let mut health = get("/api/health").await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "serving");
    let health: serde_json::Value = health.json().await.unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["database"], "read_only", "{health}");
    for _ in 0..2 {
        let mut reply = http
            .post(format!("{}/v1/chat/completions", proc.base))
            .send_json(&chat_body("gpt-4o"))
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "the stored key serves");
        let body: serde_json::Value = reply.json().await.unwrap();
        assert!(
            body["choices"][0]["message"]["content"].is_string(),
            "{body}"
        );
    }
    let refused = [
        (
            "POST",
            "/api/keys",
            json!({"provider": "openai", "name": "second", "api_key": "sk-second-0123456789"}),
        ),
        ("PUT", "/api/settings", json!({"log_retention_days": 7})),
    ];
    for (method, path, body) in refused {
        let mut reply = proc
            .admin(&http, method, path)
            .send_json(&body)
            .await
            .unwrap();
        assert_eq!(
            reply.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {path}"
        );
        let error: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(error["error"]["code"], "database_read_only", "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("read-only"),
            "{error}"
        );
    }
    let mut keys = get("/api/keys").await.unwrap();
    assert_eq!(keys.status(), StatusCode::OK, "reads still work");
    let keys: serde_json::Value = keys.json().await.unwrap();
    assert_eq!(keys["data"].as_array().unwrap().len(), 1, "{keys}");
    let output = proc.output.lock().unwrap().clone();
    assert!(output.contains("does not take writes"), "{output}");

    drop(proc);
    // Writable again, so the folder can be removed by a non-root owner.
    set_mode(dir.path(), 0o700);
    set_mode(&data, 0o700);
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
