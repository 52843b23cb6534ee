//! A stored key goes only where it was entered for: moving it needs the secret itself, a row
//! pointed elsewhere behind api-proxy's back no longer opens (its key is sent nowhere), and keys
//! sealed before this binding existed are re-sealed once at start.

use std::sync::Arc;

use actix_web::http::StatusCode;
use api_proxy::crypto::{legacy_secret_aad, unb64, KeyCipher, Secret, SecretBinding};
use api_proxy::db::api_keys;
use api_proxy::db::Db;
use diesel::connection::SimpleConnection;
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::json;
use shared::providers::AuthStyle;
use tempfile::TempDir;

use crate::support::*;

const NEW_SECRET: &str = "sk-entered-again-0123456789";

#[actix_web::test]
async fn moving_a_key_elsewhere_needs_its_secret_in_the_same_request() {
    let (home, elsewhere) = (
        MockUpstream::start(MockConfig::default()),
        MockUpstream::start(MockConfig::default()),
    );
    let app = TestApp::start().await;
    let id = app.add_openai_key("main", &home).await;
    let path = format!("/api/keys/{id}");

    // The admin token alone cannot point the stored key at another host ...
    let moved = app
        .admin(
            "PATCH",
            &path,
            Some(json!({"base_url": elsewhere.openai_base()})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::BAD_REQUEST, "{}", moved.text);
    assert_eq!(moved.body["error"]["param"], "base_url");
    assert!(moved.text.contains("api_key"), "{}", moved.text);
    let cleared = app
        .admin("PATCH", &path, Some(json!({"base_url": null})))
        .await;
    assert_eq!(
        cleared.status,
        StatusCode::BAD_REQUEST,
        "back to the provider's URL too"
    );
    // ... nor change its provider at all.
    let provider = app
        .admin("PATCH", &path, Some(json!({"provider": "deepseek"})))
        .await;
    assert_eq!(
        provider.status,
        StatusCode::BAD_REQUEST,
        "{}",
        provider.text
    );
    let tested = app.admin("POST", &format!("{path}/test"), None).await;
    assert_eq!(tested.body["ok"], true, "{}", tested.text);
    assert_eq!(elsewhere.request_count(), 0);
    assert_eq!(home.request_count(), 1);

    // Sending the same base URL again is no move.
    let same = app
        .admin(
            "PATCH",
            &path,
            Some(json!({"base_url": home.openai_base(), "name": "renamed"})),
        )
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.text);

    // With the secret in the same request, it moves, and the new secret is what is sent.
    let moved = app
        .admin(
            "PATCH",
            &path,
            Some(json!({"base_url": elsewhere.openai_base(), "api_key": NEW_SECRET})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    let received = elsewhere.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].header("authorization"),
        Some(format!("Bearer {NEW_SECRET}").as_str())
    );
    app.stop().await;
}

async fn sql(db_path: &std::path::Path, statement: String) {
    let db = Db::open(db_path).unwrap();
    db.run(move |conn| Ok(conn.batch_execute(&statement)?))
        .await
        .unwrap();
}

#[actix_web::test]
async fn a_row_pointed_elsewhere_behind_api_proxys_back_sends_its_key_nowhere() {
    let (home, elsewhere) = (
        MockUpstream::start(MockConfig::default()),
        MockUpstream::start(MockConfig::default()),
    );
    let app = TestApp::start().await;
    let id = app.add_openai_key("main", &home).await;
    let db_path = app.db_path();
    let dir = app.stop().await;
    // Someone with write access to the database, but not the master key, repoints the row.
    sql(
        &db_path,
        format!(
            "UPDATE api_keys SET base_url = '{}' WHERE id = {id}",
            elsewhere.openai_base()
        ),
    )
    .await;

    let app = TestApp::start_in(dir, &[]).await;
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    let key = app.admin("GET", &format!("/api/keys/{id}"), None).await;
    assert_eq!(key.body["state"], "sealed_mismatch", "{}", key.text);
    // Not even the admin's explicit test sends it.
    let tested = app
        .admin("POST", &format!("/api/keys/{id}/test"), None)
        .await;
    assert_eq!(tested.body["ok"], false, "{}", tested.text);
    assert!(
        tested.body["message"]
            .as_str()
            .unwrap()
            .contains("enter its api_key again"),
        "{}",
        tested.text
    );
    let route = app.admin("GET", "/api/route?model=gpt-4o", None).await;
    assert!(
        route.body["candidates"][0]["filtered"]
            .as_str()
            .unwrap()
            .contains("does not open"),
        "{}",
        route.text
    );
    assert_eq!(elsewhere.request_count(), 0, "the key never left");
    assert_eq!(home.request_count(), 0);

    // Entering the key again (the admin vouches for the new place) makes it usable there.
    let fixed = app
        .admin(
            "PATCH",
            &format!("/api/keys/{id}"),
            Some(json!({"api_key": NEW_SECRET})),
        )
        .await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.text);
    assert_eq!(fixed.body["state"], "active");
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(
        elsewhere.received()[0].header("authorization"),
        Some(format!("Bearer {NEW_SECRET}").as_str())
    );
    app.stop().await;
}

fn master_cipher(dir: &TempDir) -> KeyCipher {
    let text = std::fs::read_to_string(dir.path().join("data/master.key")).unwrap();
    let key: [u8; 32] = unb64(&text).unwrap().try_into().unwrap();
    KeyCipher::new(&key)
}

async fn row(db_path: &std::path::Path, id: i32) -> api_keys::ApiKeyRow {
    let db = Db::open(db_path).unwrap();
    db.run(move |conn| api_keys::get(conn, id))
        .await
        .unwrap()
        .unwrap()
}

#[actix_web::test]
async fn keys_sealed_before_the_binding_are_resealed_once_at_start() {
    let mock = MockUpstream::start(MockConfig::default());
    let dir = Arc::new(TempDir::new().unwrap());
    let app = TestApp::start_in(dir.clone(), &[]).await;
    let id = app.add_openai_key("main", &mock).await as i32;
    let db_path = app.db_path();
    app.stop().await;

    // The row as an older api-proxy left it: sealed for its uid only, seal version 1.
    let cipher = master_cipher(&dir);
    let before = row(&db_path, id).await;
    assert_eq!(
        before.seal_version, 2,
        "new rows are sealed for their binding"
    );
    let legacy = cipher.seal_secret(&Secret::new(SECRET), &legacy_secret_aad(&before.uid));
    let hex: String = legacy.iter().map(|b| format!("{b:02x}")).collect();
    sql(
        &db_path,
        format!(
            "UPDATE api_keys SET secret_ciphertext = X'{hex}', seal_version = 1 WHERE id = {id}"
        ),
    )
    .await;

    let app = TestApp::start_in(dir.clone(), &[]).await;
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(
        mock.received()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    app.stop().await;
    let resealed = row(&db_path, id).await;
    assert_eq!(resealed.seal_version, 2);
    let binding = SecretBinding {
        uid: &resealed.uid,
        provider: "openai",
        base_url: resealed.base_url.as_deref(),
        auth: AuthStyle::Bearer,
    };
    assert_eq!(
        cipher
            .open_secret(&resealed.secret_ciphertext, &binding.aad())
            .unwrap(),
        Secret::new(SECRET)
    );
    assert!(cipher
        .open_secret(
            &resealed.secret_ciphertext,
            &legacy_secret_aad(&resealed.uid)
        )
        .is_err());

    // Idempotent: the next start leaves the row alone.
    let app = TestApp::start_in(dir, &[]).await;
    let _dir = app.stop().await;
    assert_eq!(
        row(&db_path, id).await.secret_ciphertext,
        resealed.secret_ciphertext
    );
}
