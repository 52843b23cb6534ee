//! A restart keeps keys, settings, call logs and key counters.

use actix_web::http::StatusCode;
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn keys_settings_and_logs_survive_a_restart() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let id = app
        .add_key(
            json!({"provider": "openai", "name": "main", "api_key": SECRET,
        "base_url": mock.openai_base(), "quota_total": 10}),
        )
        .await;
    app.put_settings(json!({"max_attempts": 4, "model_aliases": {"fast": "gpt-4o-mini"}}))
        .await;
    let client_key = app
        .admin("POST", "/api/client_keys", Some(json!({"name": "ci"})))
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(app.chat(chat_body("fast")).await.status, StatusCode::OK);
    let dir = app.stop().await;

    let app = TestApp::start_in(dir, &[("REQUIRE_CLIENT_KEYS", "true")]).await;
    let key = app.admin("GET", &format!("/api/keys/{id}"), None).await;
    assert_eq!(key.status, StatusCode::OK);
    assert_eq!(key.body["masked_key"], "sk-…1234");
    assert_eq!(key.body["usage"]["calls"], 2, "counters persist");
    assert_eq!(key.body["quota_remaining"], 8.0, "quota persists");
    let settings = app.admin("GET", "/api/settings", None).await;
    assert_eq!(settings.body["max_attempts"], 4);
    assert_eq!(settings.body["model_aliases"]["fast"], "gpt-4o-mini");
    assert_eq!(app.logs().await.len(), 2);
    // The stored secret still decrypts and the client key still works.
    let r = app
        .request(
            "POST",
            "/v1/chat/completions",
            Some(&client_key),
            Some(chat_body("gpt-4o")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        mock.received()[2].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    app.stop().await;
}
