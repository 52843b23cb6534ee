//! Non-streamed proxying: pass-through fidelity, header hygiene, the seed's paths, models,
//! failover, Azure addressing and upstream failures.

use actix_web::http::StatusCode;
use mock_upstream::{Behaviour, MockConfig, MockUpstream, MOCK_REPLY};
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn chat_passes_every_field_through_and_returns_the_upstream_answer() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;

    let body = json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Say hello"}],
        "temperature": 0.3,
        "x_vendor_extension": {"nested": [1, 2, 3]},
        "user": "u-1"
    });
    let reply = app.chat(body.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["choices"][0]["message"]["content"], MOCK_REPLY);
    assert_eq!(reply.body["model"], "gpt-4o");
    assert_eq!(reply.body["usage"]["prompt_tokens"], 12);
    assert_eq!(reply.body["system_fingerprint"], "fp_mock");
    assert_eq!(reply.header("x-api-proxy-key"), Some("main"));
    assert_eq!(reply.header("x-api-proxy-provider"), Some("openai"));
    assert_eq!(reply.header("x-api-proxy-attempts"), Some("1"));
    assert!(reply
        .header("x-request-id")
        .is_some_and(|id| id.starts_with("req_")));

    let received = mock.received();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.body, body,
        "the upstream must get the client's body untouched"
    );
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert!(
        sent.headers
            .iter()
            .all(|(_, v)| !v.contains("any-client-key")),
        "the client's own bearer must never be forwarded"
    );

    let logs = app.logs().await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["status"], 200);
    assert_eq!(logs[0]["prompt_tokens"], 12);
    assert_eq!(logs[0]["completion_tokens"], 5);
    // gpt-4o: $2.50 in / $10 out per 1M tokens.
    let cost = logs[0]["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (12.0 * 2.5 + 5.0 * 10.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn seed_paths_and_api_v1_reach_the_same_keys() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    for path in [
        "/api/v1/chat/completions",
        "/api/chat/completions?provider=openai",
        "/api/proxy/openai/chat/completions",
    ] {
        let r = app
            .request("POST", path, None, Some(chat_body("gpt-4o")))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert_eq!(r.body["choices"][0]["message"]["content"], MOCK_REPLY);
    }
    // A provider with no key for the model, and a provider that does not exist.
    let r = app
        .request(
            "POST",
            "/api/proxy/azure/chat/completions",
            None,
            Some(chat_body("gpt-4o")),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), Some("model_not_found"));
    let r = app
        .request(
            "POST",
            "/api/proxy/nope/chat/completions",
            None,
            Some(chat_body("gpt-4o")),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(mock.request_count(), 3);
    app.stop().await;
}

#[actix_web::test]
async fn models_lists_what_enabled_keys_reach() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let empty = app.request("GET", "/v1/models", None, None).await;
    assert_eq!(empty.body["object"], "list");
    assert_eq!(empty.body["data"].as_array().unwrap().len(), 0);

    app.add_openai_key("main", &mock).await;
    let custom = app
        .add_key(
            json!({"provider": "openai", "name": "local", "api_key": "sk-local-0000",
            "base_url": mock.openai_base(), "models": ["llama-3-8b"]}),
        )
        .await;
    let models = app.request("GET", "/v1/models", None, None).await;
    let ids: Vec<&str> = models.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"gpt-4o") && ids.contains(&"llama-3-8b"),
        "{ids:?}"
    );
    let gpt = models.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "gpt-4o")
        .unwrap();
    assert_eq!(gpt["owned_by"], "openai");
    assert_eq!(gpt["object"], "model");

    // The custom model is served by its key...
    assert_eq!(
        app.chat(chat_body("llama-3-8b")).await.status,
        StatusCode::OK
    );
    // ...and vanishes from the list when that key is disabled.
    let r = app
        .admin(
            "PATCH",
            &format!("/api/keys/{custom}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let models = app.request("GET", "/api/v1/models", None, None).await;
    assert!(!models.text.contains("llama-3-8b"), "{}", models.text);
    app.stop().await;
}

#[actix_web::test]
async fn a_failing_key_fails_over_to_the_next_one() {
    let (app, [broken, healthy]) = failing_over_app(json!({})).await;

    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("x-api-proxy-key"), Some("second"));
    assert_eq!(reply.header("x-api-proxy-attempts"), Some("2"));
    assert_eq!(broken.request_count(), 1);
    assert_eq!(healthy.request_count(), 1);
    let logs = app.logs().await;
    assert_eq!(logs[0]["attempts"], 2);
    assert_eq!(logs[0]["key_name"], "second");
    app.stop().await;
}

#[actix_web::test]
async fn client_errors_are_not_retried_and_keep_openai_shape() {
    let rejecting = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(400),
        ..Default::default()
    });
    let other = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_key(
        json!({"provider": "openai", "name": "a", "api_key": "sk-aaaaaaaaaaaa",
        "base_url": rejecting.openai_base(), "priority": 1}),
    )
    .await;
    app.add_key(
        json!({"provider": "openai", "name": "b", "api_key": "sk-bbbbbbbbbbbb",
        "base_url": other.openai_base(), "priority": 2}),
    )
    .await;
    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"]["message"], "Invalid request.");
    assert_eq!(
        other.request_count(),
        0,
        "a 400 is the client's fault: no failover"
    );
    app.stop().await;
}

#[actix_web::test]
async fn upstream_rate_limit_passes_through_when_no_other_key_can_serve() {
    let limited = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(429),
        ..Default::default()
    });
    let app = TestApp::start().await;
    app.add_openai_key("only", &limited).await;
    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.error_code(), Some("rate_limit_exceeded"));
    app.stop().await;
}

#[actix_web::test]
async fn upstream_failures_map_to_502_and_504_and_the_server_keeps_serving() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.put_settings(json!({"first_byte_timeout_ms": 300, "max_attempts": 1}))
        .await;
    let key = app.add_openai_key("main", &mock).await;

    // Stalled upstream: 504 after the first-byte deadline.
    mock.set_behaviour(Behaviour::Stall);
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{}", r.text);
    assert_eq!(r.error_code(), Some("upstream_timeout"));
    // The cases below answer at once: a short deadline would only make them time out on a
    // loaded machine (a 504 where a 502 is expected).
    app.put_settings(json!({"first_byte_timeout_ms": 30_000}))
        .await;

    // Garbage instead of JSON: 502.
    mock.set_behaviour(Behaviour::Garbage);
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    assert_eq!(r.error_code(), Some("upstream_invalid_response"));

    // JSON cut off in the middle: 502, not a half answer.
    mock.set_behaviour(Behaviour::RawStatus {
        status: 200,
        content_type: "application/json".into(),
        body: r#"{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "mess"#
            .into(),
    });
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    assert_eq!(r.error_code(), Some("upstream_invalid_response"));

    // Non-JSON error page: 502 wrapped in OpenAI's shape.
    mock.set_behaviour(Behaviour::RawStatus {
        status: 502,
        content_type: "text/html".into(),
        body: "<html>Bad Gateway</html>".into(),
    });
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    assert_eq!(r.error_code(), Some("upstream_error"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Bad Gateway"));

    // Nothing listening: 502.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let r = app
        .admin(
            "PATCH",
            &format!("/api/keys/{key}"),
            // A new base URL needs the key's secret in the same request.
            Some(json!({"base_url": dead_url, "api_key": SECRET})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.error_code(), Some("upstream_unreachable"));

    // And the server still serves.
    mock.set_behaviour(Behaviour::Normal);
    app.admin(
        "PATCH",
        &format!("/api/keys/{key}"),
        Some(json!({"base_url": mock.openai_base(), "api_key": SECRET})),
    )
    .await;
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    app.stop().await;
}

#[actix_web::test]
async fn azure_keys_use_the_deployment_url_and_api_key_header() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_key(json!({
        "provider": "azure", "name": "az", "api_key": "azure-key-0123456789",
        "base_url": mock.url(), "azure_api_version": "2024-10-21",
        "azure_deployments": {"gpt-4o": "prod-gpt4o"}
    }))
    .await;
    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("x-api-proxy-provider"), Some("azure"));
    let sent = &mock.received()[0];
    assert_eq!(sent.path, "/openai/deployments/prod-gpt4o/chat/completions");
    assert_eq!(sent.query, "api-version=2024-10-21");
    assert_eq!(sent.header("api-key"), Some("azure-key-0123456789"));
    assert_eq!(sent.header("authorization"), None);
    app.stop().await;
}

#[actix_web::test]
async fn model_aliases_route_and_are_listed() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    app.put_settings(json!({"model_aliases": {"fast": "gpt-4o-mini"}}))
        .await;
    let reply = app.chat(chat_body("fast")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(mock.received()[0].body["model"], "gpt-4o-mini");
    assert_eq!(
        reply.body["model"], "gpt-4o-mini",
        "the response names the model actually used"
    );
    let models = app.request("GET", "/v1/models", None, None).await;
    assert!(models.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "fast"));
    app.stop().await;
}

/// Usage an upstream reports is not believed blindly: a negative count is 0, an absurd one (past
/// `i64`, or in the quadrillions) is 1e12, and sums over such calls do not wrap.
#[actix_web::test]
async fn absurd_usage_from_an_upstream_is_clamped() {
    let mock = MockUpstream::start(MockConfig {
        behaviour: Behaviour::RawStatus {
            status: 200,
            content_type: "application/json".into(),
            body: json!({
                "id": "chatcmpl-absurd", "object": "chat.completion", "created": 1, "model": "gpt-4o",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": -7, "completion_tokens": 9_000_000_000_000_000_000u64, "total_tokens": 1}
            })
            .to_string(),
        },
        ..Default::default()
    });
    let app = TestApp::start().await;
    let id = app.add_openai_key("main", &mock).await;
    for _ in 0..2 {
        let r = app.chat(chat_body("gpt-4o")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // A count past i64 (1e20, as a float some servers write) is read, not a broken answer.
    mock.set_behaviour(Behaviour::RawStatus {
        status: 200,
        content_type: "application/json".into(),
        body: r#"{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":1e20,"completion_tokens":3}}"#.into(),
    });
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let logs = app.logs().await;
    assert_eq!(logs.len(), 3);
    for log in &logs[1..] {
        assert_eq!(log["prompt_tokens"], 0, "{log}");
        assert_eq!(log["completion_tokens"], 1_000_000_000_000i64, "{log}");
    }
    assert_eq!(logs[0]["prompt_tokens"], 1_000_000_000_000i64);
    assert_eq!(logs[0]["completion_tokens"], 3);
    // The key's own counters and the totals add up, saturating at worst, never negative.
    let key = app.admin("GET", &format!("/api/keys/{id}"), None).await;
    assert_eq!(
        key.body["usage"]["tokens"], 3_000_000_000_003i64,
        "{}",
        key.text
    );
    let stats = app.admin("GET", "/api/stats", None).await;
    assert_eq!(stats.body["totals"]["prompt_tokens"], 1_000_000_000_000i64);
    assert_eq!(
        stats.body["totals"]["completion_tokens"],
        2_000_000_000_003i64
    );
    app.stop().await;
}

/// A stored key its provider rejects is not the client's fault: the client gets 502
/// `upstream_key_rejected` naming the key and every key tried, never a 401 that its SDK would
/// read as "your API key is wrong"; a Messages client gets the same in Anthropic's shape.
#[actix_web::test]
async fn a_stored_key_rejected_by_its_provider_is_a_502_naming_every_key_tried() {
    let refused = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(401),
        ..Default::default()
    });
    let forbidden = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(403),
        ..Default::default()
    });
    for messages in [false, true] {
        let app = TestApp::start().await;
        app.add_openai_key("first", &refused).await;
        app.add_openai_key("second", &forbidden).await;
        let r = if messages {
            app.messages(messages_body("gpt-4o")).await
        } else {
            app.chat(chat_body("gpt-4o")).await
        };
        assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
        let message = if messages {
            assert_eq!(r.anthropic_error_type(), "api_error");
            r.body["error"]["message"].as_str().unwrap().to_owned()
        } else {
            assert_eq!(r.error_code(), Some("upstream_key_rejected"));
            assert_eq!(r.body["error"]["type"], "api_error");
            assert!(r.body["error"].get("param").is_some(), "{}", r.text);
            r.body["error"]["message"].as_str().unwrap().to_owned()
        };
        for part in [
            "`first` (HTTP 401)",
            "`second` (HTTP 403)",
            "stored in api-proxy",
        ] {
            assert!(message.contains(part), "{part} in {message}");
        }
        app.stop().await;
    }
}

/// An upstream error that is OpenAI-like but incomplete (Azure's `{"error":{"code","message"}}`,
/// without `type`) reaches the client with `type`, `param` and `code` filled in, every other
/// member kept.
#[actix_web::test]
async fn an_incomplete_upstream_error_is_completed_to_openais_shape() {
    let mock = MockUpstream::start(MockConfig {
        behaviour: Behaviour::RawStatus {
            status: 400,
            content_type: "application/json".into(),
            body: r#"{"error":{"code":"DeploymentNotFound","message":"The deployment does not exist.","innererror":{"x":1}}}"#.into(),
        },
        ..Default::default()
    });
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.error_code(), Some("DeploymentNotFound"));
    assert_eq!(r.body["error"]["type"], "invalid_request_error");
    assert!(r.body["error"]["param"].is_null());
    assert!(r.body["error"].get("param").is_some(), "{}", r.text);
    assert_eq!(r.body["error"]["innererror"]["x"], 1);
    app.stop().await;
}
