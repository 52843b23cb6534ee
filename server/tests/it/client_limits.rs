//! Client keys' own limits: budgets, request and token rates, requests in flight, model
//! allow-lists, expiry and revocation, exact under concurrency. Concurrency is made
//! deterministic by a mock that holds its answers until released: nothing sleeps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::StatusCode;
use api_proxy::client_limits::prompt_estimate;
use api_proxy::clock::Clock;
use futures_util::future::join_all;
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::support::*;

const T0: i64 = 1_800_000_000_000;
/// Fails a test that would otherwise wait for ever; never part of the synchronisation.
const GUARD: Duration = Duration::from_secs(60);

async fn create_key(app: &TestApp, body: Value) -> (i64, String) {
    let r = app.admin("POST", "/api/client_keys", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (
        r.body["id"].as_i64().unwrap(),
        r.body["key"].as_str().unwrap().to_owned(),
    )
}

async fn call(app: &TestApp, key: &str, body: &Value) -> Reply {
    app.request(
        "POST",
        "/v1/chat/completions",
        Some(key),
        Some(body.clone()),
    )
    .await
}

async fn usage(app: &TestApp, id: i64) -> Value {
    let r = app
        .admin("GET", &format!("/api/client_keys/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["usage"].clone()
}

/// Sends `n` calls at once and holds the forwarded ones at the mock. Once `n - forwarded`
/// calls were refused and `forwarded` reached the mock, every call is decided: checks that no
/// more than `forwarded` went upstream, releases the mock and returns every reply.
async fn burst_with_held(
    app: &TestApp,
    mock: &MockUpstream,
    key: &str,
    body: &Value,
    n: usize,
    forwarded: usize,
) -> Vec<Reply> {
    let settled = n - forwarded;
    mock.hold();
    let done = AtomicUsize::new(0);
    let notify = Notify::new();
    let calls = join_all((0..n).map(|_| async {
        let reply = call(app, key, body).await;
        done.fetch_add(1, Ordering::AcqRel);
        notify.notify_waiters();
        reply
    }));
    let release = async {
        tokio::time::timeout(GUARD, async {
            loop {
                let notified = notify.notified();
                if done.load(Ordering::Acquire) >= settled {
                    return;
                }
                notified.await;
            }
        })
        .await
        .expect("the refused calls answer while the admitted ones are held");
        tokio::time::timeout(GUARD, mock.wait_received(forwarded))
            .await
            .expect("the admitted calls reach the mock");
        assert_eq!(mock.request_count(), forwarded, "held upstream at once");
        mock.release();
    };
    futures_util::future::join(calls, release).await.0
}

fn count(replies: &[Reply], status: StatusCode) -> usize {
    replies.iter().filter(|r| r.status == status).count()
}

#[actix_web::test]
async fn a_budget_for_ten_calls_forwards_at_most_ten_of_200_concurrent() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("k", &mock).await;
    let body = json!({"model": "gpt-4o", "max_tokens": 1000,
        "messages": [{"role": "user", "content": "Say hello"}]});
    // The reservation of one call: its prompt by the byte heuristic plus max_tokens, at
    // gpt-4o's prices (2.5 and 10 USD per million tokens).
    let prompt = prompt_estimate(body.to_string().len()) as f64;
    let estimate = (prompt * 2.5 + 1000.0 * 10.0) / 1e6;
    let budget = estimate * 10.5;
    let (id, key) = create_key(&app, json!({"name": "team", "budget_usd": budget})).await;

    let replies = burst_with_held(&app, &mock, &key, &body, 200, 10).await;
    assert_eq!(count(&replies, StatusCode::OK), 10);
    assert_eq!(count(&replies, StatusCode::PAYMENT_REQUIRED), 190);
    assert_eq!(mock.request_count(), 10);
    let refused = replies
        .iter()
        .find(|r| r.status == StatusCode::PAYMENT_REQUIRED)
        .unwrap();
    assert_eq!(refused.error_code(), Some("budget_exceeded"));
    assert_eq!(refused.body["error"]["type"], "insufficient_quota");
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`team` has spent its total budget"));

    // Settled to the real cost: what the answers said they cost, within the budget.
    let charged: f64 = replies
        .iter()
        .filter_map(|r| r.header("x-api-proxy-cost"))
        .map(|c| c.parse::<f64>().unwrap())
        .sum();
    let used = usage(&app, id).await;
    assert!(
        (used["spent_usd"].as_f64().unwrap() - charged).abs() < 1e-8,
        "{used}"
    );
    assert!(used["spent_usd"].as_f64().unwrap() <= budget);
    assert_eq!(used["reserved_usd"], 0.0);
    assert_eq!(used["calls"], 200);
    assert_eq!(used["errors"], 190);
    assert_eq!(used["limited"], 190);
    assert_eq!(used["in_flight"], 0);
    app.stop().await;
}

#[actix_web::test]
async fn a_burst_passes_exactly_rpm_with_openai_headers() {
    let clock = Clock::manual(T0);
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start_with_clock(clock.clone()).await;
    app.add_openai_key("k", &mock).await;
    let (_, key) = create_key(&app, json!({"name": "bot", "rpm": 5})).await;
    let body = chat_body("gpt-4o");

    let replies = join_all((0..20).map(|_| call(&app, &key, &body))).await;
    assert_eq!(count(&replies, StatusCode::OK), 5);
    assert_eq!(count(&replies, StatusCode::TOO_MANY_REQUESTS), 15);
    assert_eq!(mock.request_count(), 5);
    let ok = replies.iter().find(|r| r.status == StatusCode::OK).unwrap();
    assert_eq!(ok.header("x-ratelimit-limit-requests"), Some("5"));
    assert!(ok.header("x-ratelimit-remaining-requests").is_some());
    let limited = replies
        .iter()
        .find(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .unwrap();
    assert_eq!(limited.error_code(), Some("rate_limit_exceeded"));
    assert_eq!(limited.header("retry-after"), Some("12"));
    assert_eq!(limited.header("x-ratelimit-limit-requests"), Some("5"));
    assert_eq!(limited.header("x-ratelimit-remaining-requests"), Some("0"));
    assert_eq!(limited.header("x-ratelimit-reset-requests"), Some("1m0s"));

    // One request's worth drips back in every 12 s.
    clock.advance(11_999);
    assert_eq!(
        call(&app, &key, &body).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    clock.advance(1);
    assert_eq!(call(&app, &key, &body).await.status, StatusCode::OK);
    assert_eq!(
        call(&app, &key, &body).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}

#[actix_web::test]
async fn tokens_per_minute_are_settled_to_what_was_used() {
    let clock = Clock::manual(T0);
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start_with_clock(clock.clone()).await;
    app.add_openai_key("k", &mock).await;
    let (id, key) = create_key(&app, json!({"name": "bot", "tpm": 1000})).await;
    let body = json!({"model": "gpt-4o", "max_tokens": 400,
        "messages": [{"role": "user", "content": "Say hello"}]});

    let first = call(&app, &key, &body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.header("x-ratelimit-limit-tokens"), Some("1000"));
    let used = first.body["usage"]["total_tokens"].as_u64().unwrap();
    // The reservation (prompt estimate + 400) became the tokens really used.
    assert_eq!(usage(&app, id).await["tokens_left"], 1000 - used);
    // Three more fit the bucket only because each was settled down.
    for _ in 0..3 {
        assert_eq!(call(&app, &key, &body).await.status, StatusCode::OK);
    }
    let big = json!({"model": "gpt-4o", "max_tokens": 990,
        "messages": [{"role": "user", "content": "Say hello"}]});
    let refused = call(&app, &key, &big).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.error_code(), Some("tokens_rate_limit_exceeded"));
    assert!(refused.header("retry-after").is_some());
    assert_eq!(refused.header("x-ratelimit-limit-tokens"), Some("1000"));
    assert!(refused.header("x-ratelimit-remaining-tokens").is_some());
    assert!(refused.header("x-ratelimit-reset-tokens").is_some());
    app.stop().await;
}

#[actix_web::test]
async fn max_parallel_is_an_exact_semaphore() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("k", &mock).await;
    let (id, key) = create_key(&app, json!({"name": "agents", "max_parallel": 3})).await;
    let body = chat_body("gpt-4o");

    let replies = burst_with_held(&app, &mock, &key, &body, 10, 3).await;
    assert_eq!(count(&replies, StatusCode::OK), 3);
    assert_eq!(count(&replies, StatusCode::TOO_MANY_REQUESTS), 7);
    let limited = replies
        .iter()
        .find(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .unwrap();
    assert_eq!(limited.error_code(), Some("too_many_parallel_requests"));
    assert_eq!(limited.header("retry-after"), Some("1"));
    // The slots came back.
    assert_eq!(usage(&app, id).await["in_flight"], 0);
    let again = join_all((0..3).map(|_| call(&app, &key, &body))).await;
    assert_eq!(count(&again, StatusCode::OK), 3);
    app.stop().await;
}

#[actix_web::test]
async fn models_off_the_allow_list_are_403_after_aliases() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("k", &mock).await;
    app.put_settings(json!({"model_aliases": {"cheap": "gpt-4o-mini", "gpt-4o-mini": "gpt-4o"}}))
        .await;
    let (_, key) = create_key(&app, json!({"name": "intern", "models": ["gpt-4o-mini*"]})).await;

    let denied = call(&app, &key, &chat_body("gpt-4o")).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.error_code(), Some("model_not_allowed"));
    assert_eq!(denied.body["error"]["param"], "model");
    assert_eq!(mock.request_count(), 0);

    // An alias of an allowed model is allowed, and goes as that model.
    let cheap = call(&app, &key, &chat_body("cheap")).await;
    assert_eq!(cheap.status, StatusCode::OK, "{}", cheap.text);
    assert_eq!(mock.received()[0].body["model"], "gpt-4o-mini");
    // An allowed model is never routed to a disallowed equivalent.
    assert_eq!(
        call(&app, &key, &chat_body("gpt-4o-mini")).await.status,
        StatusCode::OK
    );
    assert!(mock
        .received()
        .iter()
        .all(|r| r.body["model"] == "gpt-4o-mini"));
    app.stop().await;
}

#[actix_web::test]
async fn expired_disabled_and_revoked_keys_get_401_even_on_loopback() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("k", &mock).await;
    let body = chat_body("gpt-4o");
    let (id, key) = create_key(&app, json!({"name": "temp", "expires_at": 1})).await;
    let path = format!("/api/client_keys/{id}");

    let expired = call(&app, &key, &body).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.error_code(), Some("client_key_expired"));
    assert_eq!(expired.header("www-authenticate"), Some("Bearer"));

    let patched = app
        .admin(
            "PATCH",
            &path,
            Some(json!({"expires_at": null, "enabled": false})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["expires_at"], Value::Null);
    assert_eq!(
        call(&app, &key, &body).await.error_code(),
        Some("client_key_disabled")
    );
    app.admin("PATCH", &path, Some(json!({"enabled": true})))
        .await;
    assert_eq!(call(&app, &key, &body).await.status, StatusCode::OK);

    assert_eq!(
        app.admin("DELETE", &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    let revoked = call(&app, &key, &body).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked.error_code(), Some("client_key_revoked"));
    let listed = app.admin("GET", "/api/client_keys", None).await;
    assert!(listed.body["data"][0]["revoked_at"].is_i64());
    assert!(!listed.text.contains(&key), "the key is never shown again");

    // Without a client key, loopback calls work as before.
    assert_eq!(app.chat(body).await.status, StatusCode::OK);
    app.stop().await;
}

#[actix_web::test]
async fn limits_are_edited_and_validated() {
    let app = TestApp::start().await;
    let (id, _) = create_key(&app, json!({"name": "a", "rpm": 10, "note": "ci"})).await;
    let path = format!("/api/client_keys/{id}");
    let r = app
        .admin(
            "PATCH",
            &path,
            Some(json!({"rpm": null, "tpm": 5000, "budget_usd": 2.5,
            "budget_period": "monthly"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["rpm"], Value::Null);
    assert_eq!(r.body["tpm"], 5000);
    assert_eq!(r.body["budget_period"], "monthly");
    assert_eq!(r.body["note"], "ci", "members not sent are kept");
    assert_eq!(r.body["usage"]["budget_left_usd"], 2.5);
    for bad in [
        json!({"rpm": 0}),
        json!({"budget_usd": -1}),
        json!({"name": ""}),
        json!({"bogus": 1}),
    ] {
        let r = app.admin("PATCH", &path, Some(bad.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    assert_eq!(
        app.admin("PATCH", "/api/client_keys/999", Some(json!({"rpm": 1})))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[actix_web::test]
async fn stats_and_logs_per_client_key_match_the_calls_made() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("k", &mock).await;
    let (id, key) = create_key(&app, json!({"name": "alice", "max_parallel": 10})).await;
    let (other, other_key) = create_key(&app, json!({"name": "bob"})).await;
    let mut tokens = 0;
    for _ in 0..3 {
        let r = call(&app, &key, &chat_body("gpt-4o")).await;
        assert_eq!(r.status, StatusCode::OK);
        tokens += r.body["usage"]["total_tokens"].as_u64().unwrap();
    }
    mock.set_behaviour(mock_upstream::Behaviour::Status(400));
    assert_eq!(
        call(&app, &key, &chat_body("gpt-4o")).await.status,
        StatusCode::BAD_REQUEST
    );
    mock.set_behaviour(mock_upstream::Behaviour::Normal);
    call(&app, &other_key, &chat_body("gpt-4o")).await;

    let used = usage(&app, id).await;
    assert_eq!(used["calls"], 4);
    assert_eq!(used["errors"], 1);
    assert_eq!(used["limited"], 0);
    assert_eq!(
        used["prompt_tokens"].as_u64().unwrap() + used["completion_tokens"].as_u64().unwrap(),
        tokens
    );
    assert!(used["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(usage(&app, other).await["calls"], 1);

    let logs = app
        .admin("GET", &format!("/api/logs?client_key_id={id}"), None)
        .await;
    let rows = logs.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r["client_key_id"] == id));
    app.stop().await;
}

#[actix_web::test]
async fn messages_get_the_same_limits_in_anthropic_shape() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("k", &mock).await;
    let (_, only_mini) = create_key(&app, json!({"name": "m", "models": ["gpt-4o-mini"]})).await;
    let (_, broke) = create_key(&app, json!({"name": "b", "budget_usd": 0})).await;
    let (_, gone) = create_key(&app, json!({"name": "g", "expires_at": 1})).await;
    let send = |key: String| {
        let app = &app;
        async move {
            let mut resp = app
                .http
                .post(format!("{}/v1/messages", app.base))
                .insert_header(("x-api-key", key))
                .insert_header(("anthropic-version", "2023-06-01"))
                .send_json(&messages_body("gpt-4o"))
                .await
                .unwrap();
            let bytes = resp.body().await.unwrap();
            Reply {
                status: resp.status(),
                headers: resp.headers().clone(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                text: String::from_utf8_lossy(&bytes).into_owned(),
            }
        }
    };
    let denied = send(only_mini).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.anthropic_error_type(), "permission_error");
    let spent = send(broke).await;
    assert_eq!(spent.status, StatusCode::PAYMENT_REQUIRED, "{}", spent.text);
    assert_eq!(spent.anthropic_error_type(), "billing_error");
    let expired = send(gone).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.anthropic_error_type(), "authentication_error");
    assert_eq!(mock.request_count(), 0);
    app.stop().await;
}
