//! `api-proxy rotate-master-key`: every stored key re-encrypted under a new master key after the
//! old one is checked, in one transaction; a failure before the commit leaves the old key valid,
//! and one after it is finished at the next start.

use std::sync::Arc;

use actix_web::http::StatusCode;
use api_proxy::cli::rotate_master_key;
use api_proxy::crypto::Secret;
use api_proxy::db::Db;
use api_proxy::key_rotation::{NEW_KEY_FILE, OLD_KEY_FILE};
use diesel::connection::SimpleConnection;
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::json;
use tempfile::TempDir;

use crate::process::binary_command;
use crate::support::*;

fn data(dir: &TempDir, file: &str) -> std::path::PathBuf {
    dir.path().join("data").join(file)
}

async fn start_err(dir: &TempDir, extra: &[(&str, &str)]) -> String {
    api_proxy::app::start(config_for(dir, extra))
        .await
        .err()
        .expect("must not start")
        .to_string()
}

/// Serves a call with `app` and checks the mock got `secret`.
async fn served_with(app: &TestApp, mock: &MockUpstream, secret: &str) {
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let last = mock.received().pop().unwrap();
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {secret}").as_str())
    );
}

#[actix_web::test]
async fn the_binary_rotates_the_key_file() {
    let mock = MockUpstream::start(MockConfig::default());
    let dir = Arc::new(TempDir::new().unwrap());
    let app = TestApp::start_in(dir.clone(), &[]).await;
    app.add_openai_key("one", &mock).await;
    app.add_key(
        json!({"provider": "anthropic", "name": "two", "api_key": "sk-ant-0123456789abcdef"}),
    )
    .await;
    app.stop().await;
    let old_key = std::fs::read_to_string(data(&dir, "master.key")).unwrap();

    let out = binary_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_api-proxy")),
        &dir,
        &[],
    )
    .arg("rotate-master-key")
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("re-encrypted 2 stored key(s)"), "{stdout}");
    let new_key = std::fs::read_to_string(data(&dir, "master.key")).unwrap();
    assert_ne!(new_key, old_key);
    assert!(!data(&dir, NEW_KEY_FILE).exists() && !data(&dir, OLD_KEY_FILE).exists());

    // The old key opens nothing any more; the new one opens every key.
    let err = start_err(&dir, &[("ENCRYPTION_KEY", old_key.trim())]).await;
    assert!(err.contains("master key does not match"), "{err}");
    let app = TestApp::start_in(dir.clone(), &[]).await;
    served_with(&app, &mock, SECRET).await;
    let keys = app.admin("GET", "/api/keys", None).await;
    assert!(
        keys.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["state"] == "active"),
        "{}",
        keys.text
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_key_from_the_environment_is_rotated_to_new_encryption_key() {
    let (old, new) = (
        "correct horse battery staple",
        "a new passphrase for the vault",
    );
    let mock = MockUpstream::start(MockConfig::default());
    let dir = Arc::new(TempDir::new().unwrap());
    let app = TestApp::start_in(dir.clone(), &[("ENCRYPTION_KEY", old)]).await;
    app.add_openai_key("main", &mock).await;
    app.stop().await;

    let config = config_for(&dir, &[("ENCRYPTION_KEY", old)]);
    let missing = rotate_master_key(&config, None).unwrap_err().to_string();
    assert!(missing.contains("NEW_ENCRYPTION_KEY"), "{missing}");
    let done = rotate_master_key(&config, Some(Secret::new(new))).unwrap();
    assert!(done.contains("set ENCRYPTION_KEY"), "{done}");

    let err = start_err(&dir, &[("ENCRYPTION_KEY", old)]).await;
    assert!(err.contains("master key does not match"), "{err}");
    let app = TestApp::start_in(dir, &[("ENCRYPTION_KEY", new)]).await;
    served_with(&app, &mock, SECRET).await;
    app.stop().await;
}

async fn sql(db_path: std::path::PathBuf, statement: &'static str) {
    let db = Db::open(&db_path).unwrap();
    db.run(move |conn| Ok(conn.batch_execute(statement)?))
        .await
        .unwrap();
}

#[actix_web::test]
async fn a_rotation_that_fails_halfway_leaves_the_old_key_valid() {
    let mock = MockUpstream::start(MockConfig::default());
    let dir = Arc::new(TempDir::new().unwrap());
    let app = TestApp::start_in(dir.clone(), &[]).await;
    app.add_openai_key("one", &mock).await;
    app.add_openai_key("two", &mock).await;
    let db_path = app.db_path();
    app.stop().await;
    let old_key = std::fs::read(data(&dir, "master.key")).unwrap();
    // The second key's re-seal fails inside the transaction, after the first one's went through.
    sql(
        db_path.clone(),
        "CREATE TRIGGER fail_second BEFORE UPDATE OF secret_ciphertext ON api_keys \
         WHEN OLD.id = 2 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .await;

    let err = rotate_master_key(&config_for(&dir, &[]), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("injected failure"), "{err}");
    assert_eq!(std::fs::read(data(&dir, "master.key")).unwrap(), old_key);
    assert!(
        !data(&dir, NEW_KEY_FILE).exists(),
        "the unused new key is gone"
    );

    // Both keys still open with the old key: the first one's re-seal was rolled back.
    sql(db_path, "DROP TRIGGER fail_second;").await;
    let app = TestApp::start_in(dir, &[]).await;
    let keys = app.admin("GET", "/api/keys", None).await;
    assert!(
        keys.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["state"] == "active"),
        "{}",
        keys.text
    );
    served_with(&app, &mock, SECRET).await;
    app.stop().await;
}

#[actix_web::test]
async fn a_rotation_interrupted_after_its_commit_is_finished_at_start() {
    let mock = MockUpstream::start(MockConfig::default());
    let dir = Arc::new(TempDir::new().unwrap());
    let app = TestApp::start_in(dir.clone(), &[]).await;
    app.add_openai_key("main", &mock).await;
    app.stop().await;
    let old_key = std::fs::read(data(&dir, "master.key")).unwrap();
    // Something in the way of the file swap (as a crash right after the commit would leave it):
    // a folder where the old key file is kept meanwhile.
    std::fs::create_dir_all(data(&dir, OLD_KEY_FILE).join("in-the-way")).unwrap();

    let err = rotate_master_key(&config_for(&dir, &[]), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the database now uses the new master key"),
        "{err}"
    );
    assert_eq!(std::fs::read(data(&dir, "master.key")).unwrap(), old_key);
    let new_key = std::fs::read(data(&dir, NEW_KEY_FILE)).unwrap();

    // The next start finds master.key.new opening the database and finishes the swap.
    std::fs::remove_dir_all(data(&dir, OLD_KEY_FILE)).unwrap();
    let app = TestApp::start_in(dir.clone(), &[]).await;
    served_with(&app, &mock, SECRET).await;
    app.stop().await;
    assert_eq!(std::fs::read(data(&dir, "master.key")).unwrap(), new_key);
    assert!(!data(&dir, NEW_KEY_FILE).exists() && !data(&dir, OLD_KEY_FILE).exists());
}
