//! The admin API: keys CRUD with masking, auth, cross-site refusal, stats, logs, providers,
//! settings, client keys and health.

use actix_web::http::StatusCode;
use mock_upstream::{Behaviour, MockConfig, MockUpstream};
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn keys_crud_never_returns_the_secret() {
    let app = TestApp::start().await;
    let created = app
        .admin(
            "POST",
            "/api/keys",
            Some(json!({
                "provider": "openai", "name": "prod", "api_key": SECRET, "priority": 1,
                "quota_total": 100, "quota_unit": "requests", "cost_per_request": 0.002,
                "models": ["gpt-4o"]
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["masked_key"], "sk-…1234");
    assert_eq!(created.body["quota_remaining"], 100.0);
    assert_eq!(created.body["state"], "active");
    let id = created.body["id"].as_i64().unwrap();

    let list = app.admin("GET", "/api/keys", None).await;
    let one = app.admin("GET", &format!("/api/keys/{id}"), None).await;
    let patched = app
        .admin(
            "PATCH",
            &format!("/api/keys/{id}"),
            Some(json!({"name": "renamed", "enabled": false, "priority": null})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["name"], "renamed");
    assert_eq!(patched.body["enabled"], false);
    assert_eq!(patched.body["state"], "disabled");
    assert_eq!(patched.body["priority"], serde_json::Value::Null);
    for r in [&created, &list, &one, &patched] {
        assert!(
            !r.text.contains("SECRETSECRET"),
            "a response leaked the key: {}",
            r.text
        );
    }
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);

    // A new secret gets a new mask.
    let rotated = app
        .admin(
            "PATCH",
            &format!("/api/keys/{id}"),
            Some(json!({"api_key": "sk-rotated-key-9999"})),
        )
        .await;
    assert_eq!(rotated.body["masked_key"], "sk-…9999");

    let bad = app
        .admin(
            "POST",
            "/api/keys",
            Some(json!({"provider": "nope", "name": "x", "api_key": "k"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["param"], "provider");
    let bad = app
        .admin(
            "POST",
            "/api/keys",
            Some(json!({"provider": "azure", "name": "x", "api_key": "k"})),
        )
        .await;
    assert_eq!(bad.body["error"]["param"], "base_url", "{}", bad.text);

    let deleted = app.admin("DELETE", &format!("/api/keys/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.admin("GET", &format!("/api/keys/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.admin("DELETE", &format!("/api/keys/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.state().board.len(), 0, "a deleted key leaves the board");
    app.stop().await;
}

#[actix_web::test]
async fn admin_api_requires_the_token() {
    // Twelve failures: past the throttle's ten a minute, so the clock moves a minute per path
    // (admin_auth.rs tests the throttle itself).
    let clock = api_proxy::clock::Clock::manual(1_800_000_000_000);
    let app = TestApp::start_with_clock(clock.clone()).await;
    for path in [
        "/api/keys",
        "/api/stats",
        "/api/logs",
        "/api/settings",
        "/api/providers",
        "/api/client_keys",
    ] {
        let none = app.request("GET", path, None, None).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{path}");
        none.error_code();
        let wrong = app
            .request("GET", path, Some("test-admin-token-0123456789abcdeX"), None)
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{path}");
        clock.advance(api_proxy::api::auth_throttle::WINDOW_MS);
    }
    let health = app.request("GET", "/api/health", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["database"], "ok");
    assert_eq!(health.body["version"], env!("CARGO_PKG_VERSION"));
    app.stop().await;
}

#[actix_web::test]
async fn cross_site_requests_are_refused() {
    let app = TestApp::start().await;
    let url = format!("{}/api/keys", app.base);
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let send = |host: Option<String>, origin: Option<&str>| {
        let mut req = app
            .http
            .get(&url)
            .insert_header(("authorization", format!("Bearer {ADMIN_TOKEN}")));
        if let Some(h) = host {
            req = req.insert_header(("host", h));
        }
        if let Some(o) = origin {
            req = req.insert_header(("origin", o.to_owned()));
        }
        req.send()
    };
    let rebinding = send(Some(format!("attacker.example:{port}")), None)
        .await
        .unwrap();
    assert_eq!(rebinding.status(), StatusCode::FORBIDDEN);
    let foreign = send(None, Some("https://attacker.example")).await.unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let same = send(
        Some(format!("localhost:{port}")),
        Some(&format!("http://localhost:{port}")),
    )
    .await
    .unwrap();
    assert_eq!(same.status(), StatusCode::OK);
    // The proxy endpoint is protected the same way: a web page cannot spend the keys.
    let r = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .insert_header(("origin", "https://attacker.example"))
        .send_json(&chat_body("gpt-4o"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[actix_web::test]
async fn stats_and_logs_report_calls() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let id = app.add_openai_key("main", &mock).await;
    for _ in 0..2 {
        assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    }
    mock.set_behaviour(Behaviour::Status(400));
    assert_eq!(
        app.chat(chat_body("gpt-4o-mini")).await.status,
        StatusCode::BAD_REQUEST
    );

    let stats = app.admin("GET", "/api/stats", None).await;
    assert_eq!(stats.status, StatusCode::OK);
    let totals = &stats.body["totals"];
    assert_eq!(totals["calls"], 3);
    assert_eq!(totals["errors"], 1);
    assert_eq!(totals["prompt_tokens"], 24);
    assert!(
        totals["latency_p50_ms"].is_i64() && totals["latency_p95_ms"].is_i64(),
        "{}",
        stats.text
    );
    assert_eq!(stats.body["by_key"][0]["key_id"], id);
    assert_eq!(stats.body["by_key"][0]["group"], "main");
    assert_eq!(stats.body["by_provider"][0]["group"], "openai");
    assert_eq!(stats.body["by_model"].as_array().unwrap().len(), 2);

    // Keyset pagination, newest first.
    let page1 = app.admin("GET", "/api/logs?limit=2", None).await;
    let rows = page1.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0]["id"].as_i64() > rows[1]["id"].as_i64());
    assert_eq!(rows[0]["status"], 400);
    let before = page1.body["next_before"].as_i64().expect("a next page");
    let page2 = app
        .admin("GET", &format!("/api/logs?limit=2&before={before}"), None)
        .await;
    assert_eq!(page2.body["data"].as_array().unwrap().len(), 1);
    assert!(page2.body["next_before"].is_null());
    // Filters.
    let errors = app.admin("GET", "/api/logs?status=error", None).await;
    assert_eq!(errors.body["data"].as_array().unwrap().len(), 1);
    let by_model = app.admin("GET", "/api/logs?model=gpt-4o", None).await;
    assert_eq!(by_model.body["data"].as_array().unwrap().len(), 2);
    let by_key = app
        .admin("GET", &format!("/api/logs?key_id={id}&status=200"), None)
        .await;
    assert_eq!(by_key.body["data"].as_array().unwrap().len(), 2);
    assert!(!page1.text.contains("Say hello"), "prompts are not stored");

    // The key's own counters agree.
    let key = app.admin("GET", &format!("/api/keys/{id}"), None).await;
    assert_eq!(key.body["usage"]["calls"], 3);
    assert_eq!(
        key.body["usage"]["errors"], 0,
        "a client's 400 is not held against the key"
    );
    assert!(key.body["usage"]["latency_ewma_ms"].is_f64());
    app.stop().await;
}

#[actix_web::test]
async fn providers_capabilities_and_settings() {
    let app = TestApp::start().await;
    let providers = app.admin("GET", "/api/providers", None).await;
    let ids: Vec<&str> = providers.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    for id in ["openai", "anthropic", "azure"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let caps = app.admin("GET", "/api/providers/capabilities", None).await;
    let gpt = caps.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["provider"] == "openai" && r["model"] == "gpt-4o")
        .unwrap()
        .clone();
    assert_eq!(gpt["pricing"]["input"], 2.5);
    assert_eq!(gpt["capabilities"]["tools"], true);

    let settings = app.admin("GET", "/api/settings", None).await;
    assert_eq!(settings.body["routing_strategy"], "balanced");
    assert_eq!(settings.body["max_attempts"], 3);
    let updated = app
        .admin("PUT", "/api/settings", Some(json!({"max_attempts": 5})))
        .await;
    assert_eq!(updated.body["max_attempts"], 5);
    let invalid = app
        .admin("PUT", "/api/settings", Some(json!({"max_attempts": 0})))
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    let unknown = app
        .admin("PUT", "/api/settings", Some(json!({"colour": "red"})))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.admin("GET", "/api/settings", None).await.body["max_attempts"],
        5
    );
    app.stop().await;
}

#[actix_web::test]
async fn client_keys_gate_v1_when_required() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start_with(&[("REQUIRE_CLIENT_KEYS", "true")]).await;
    app.add_openai_key("main", &mock).await;
    let anonymous = app
        .request(
            "POST",
            "/v1/chat/completions",
            None,
            Some(chat_body("gpt-4o")),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.error_code(), Some("invalid_api_key"));
    assert_eq!(
        app.chat(chat_body("gpt-4o")).await.status,
        StatusCode::UNAUTHORIZED,
        "an unknown key"
    );

    let created = app
        .admin("POST", "/api/client_keys", Some(json!({"name": "laptop"})))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let key = created.body["key"].as_str().unwrap().to_owned();
    let ok = app
        .request(
            "POST",
            "/v1/chat/completions",
            Some(&key),
            Some(chat_body("gpt-4o")),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert!(
        mock.received()[0]
            .headers
            .iter()
            .all(|(_, v)| !v.contains(&key)),
        "client keys never go upstream"
    );

    let list = app.admin("GET", "/api/client_keys", None).await;
    assert!(!list.text.contains(&key), "shown once only");
    let id = list.body["data"][0]["id"].as_i64().unwrap();
    assert_eq!(
        app.admin("DELETE", &format!("/api/client_keys/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let revoked = app
        .request(
            "POST",
            "/v1/chat/completions",
            Some(&key),
            Some(chat_body("gpt-4o")),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// Regression: fees, prices and quotas were only checked to be finite, so a fee near `f64::MAX`
/// made the summed costs infinite, which JSON cannot carry: `cost_usd` came back as `null` where
/// the description promises a number. Amounts are now bounded by `MAX_AMOUNT`.
#[actix_web::test]
async fn amounts_are_bounded_so_costs_stay_numbers() {
    use shared::keys::MAX_AMOUNT;

    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let key = |extra: serde_json::Value| {
        let mut body = json!({
            "provider": "openai", "name": "big", "api_key": SECRET, "base_url": mock.openai_base()
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (field, extra) in [
        ("cost_per_request", json!({"cost_per_request": f64::MAX})),
        ("quota_total", json!({"quota_total": MAX_AMOUNT * 10.0})),
        ("quota_remaining", json!({"quota_remaining": 1e300})),
        (
            "price_overrides",
            json!({"price_overrides": {"*": {"input": 1.0, "output": f64::MAX}}}),
        ),
    ] {
        let r = app.admin("POST", "/api/keys", Some(key(extra))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.text);
        assert_eq!(r.body["error"]["param"], field);
    }

    let id = app
        .add_key(key(json!({"cost_per_request": MAX_AMOUNT})))
        .await;
    let r = app
        .admin(
            "PATCH",
            &format!("/api/keys/{id}"),
            Some(json!({"cost_per_request": f64::MAX})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // At the bound, the costs of many calls still add up to a number.
    for _ in 0..3 {
        assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    }
    let stats = app.admin("GET", "/api/stats", None).await;
    let total = stats.body["totals"]["cost_usd"].as_f64();
    assert!(
        total.is_some_and(|c| c >= 3.0 * MAX_AMOUNT),
        "{}",
        stats.text
    );
    let view = app.admin("GET", &format!("/api/keys/{id}"), None).await;
    assert!(view.body["usage"]["cost_usd"].is_f64(), "{}", view.text);
    app.stop().await;
}
