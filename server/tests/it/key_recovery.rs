//! When a key comes back, and not before: a 5xx or 529 that says "retry after N s" keeps the key
//! out until then, a key that just failed goes after its healthy tier-mates, and a request quota
//! that resets daily is usable again once its period turns (from the key actor's timer or while
//! it applies outcomes). Time is driven by hand.

use actix_web::http::StatusCode;
use api_proxy::clock::Clock;
use mock_upstream::{Behaviour, MockConfig, MockUpstream};
use serde_json::{json, Value};

use crate::support::*;

const T0: i64 = 1_800_000_000_000;
const DAY_MS: i64 = 86_400_000;

async fn key(app: &TestApp, name: &str, mock: &MockUpstream, extra: Value) -> i64 {
    let mut body = json!({"provider": "openai", "name": name, "api_key": format!("sk-{name}-0123456789"), "base_url": mock.openai_base()});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.add_key(body).await
}

async fn key_state(app: &TestApp, id: i64) -> Value {
    app.admin("GET", &format!("/api/keys/{id}"), None)
        .await
        .body
}

#[actix_web::test]
async fn a_5xx_or_529_with_retry_after_keeps_the_key_out_until_then() {
    for status in [500, 503, 529] {
        let overloaded = MockUpstream::start(MockConfig {
            behaviour: Behaviour::RawStatus {
                status,
                content_type: "application/json".into(),
                body: r#"{"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}}"#.into(),
            },
            extra_headers: vec![("retry-after".into(), "20".into())],
            ..Default::default()
        });
        let backup = MockUpstream::start(MockConfig::default());
        let clock = Clock::manual(T0);
        let app = TestApp::start_with_clock(clock.clone()).await;
        let a = key(&app, "a", &overloaded, json!({"priority": 1})).await;
        key(&app, "b", &backup, json!({"priority": 2})).await;

        let r = app.chat(chat_body("gpt-4o")).await;
        assert_eq!(r.header("x-api-proxy-key"), Some("b"), "{status}");
        assert_eq!(r.header("x-api-proxy-attempts"), Some("2"));
        let state = key_state(&app, a).await;
        assert_eq!(state["state"], "throttled", "{status}: {state}");
        assert_eq!(state["state_until"], T0 + 20_000);

        // Every following request goes straight to b: no failed round trip to a first.
        for _ in 0..3 {
            let r = app.chat(chat_body("gpt-4o")).await;
            assert_eq!(r.header("x-api-proxy-attempts"), Some("1"), "{status}");
        }
        assert_eq!(overloaded.request_count(), 1, "{status}: a was tried again");

        // Twenty seconds later a is tried, and serves.
        overloaded.set_behaviour(Behaviour::Normal);
        clock.advance(20_000);
        let r = app.chat(chat_body("gpt-4o")).await;
        assert_eq!(r.header("x-api-proxy-key"), Some("a"), "{status}");
        app.stop().await;
    }
}

#[actix_web::test]
async fn a_key_that_just_failed_goes_after_its_healthy_tier_mates() {
    // Same tier; the cheaper key would win, but it answers 500 (no Retry-After).
    let flaky = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(500),
        ..Default::default()
    });
    let steady = MockUpstream::start(MockConfig::default());
    let clock = Clock::manual(T0);
    let app = TestApp::start_with_clock(clock.clone()).await;
    let f = key(&app, "cheap", &flaky, json!({"cost_per_request": 0.001})).await;
    key(&app, "pricey", &steady, json!({"cost_per_request": 0.01})).await;
    app.put_settings(json!({"routing_strategy": "cost"})).await;

    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.header("x-api-proxy-key"), Some("pricey"));
    assert_eq!(r.header("x-api-proxy-attempts"), Some("2"));
    // One failure does not take the key out (hysteresis) ...
    assert_eq!(key_state(&app, f).await["state"], "active");
    // ... but the next requests try the healthy key first.
    for _ in 0..3 {
        let r = app.chat(chat_body("gpt-4o")).await;
        assert_eq!(r.header("x-api-proxy-attempts"), Some("1"));
        assert_eq!(r.header("x-api-proxy-key"), Some("pricey"));
    }
    assert_eq!(flaky.request_count(), 1);

    // Past the failure window the cheaper key leads again.
    flaky.set_behaviour(Behaviour::Normal);
    clock.advance(api_proxy::routing::health::FAILURE_WINDOW_MS + 1);
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.header("x-api-proxy-key"), Some("cheap"));
    app.stop().await;
}

/// Waits (bounded) until `check` holds for the key's view.
async fn wait_for_key(app: &TestApp, id: i64, what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let state = key_state(app, id).await;
        if check(&state) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not happen: {state}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_daily_request_quota_comes_back_when_the_timer_refills_it() {
    let mock = MockUpstream::start(MockConfig::default());
    // One second before a UTC midnight: the key actor's refill timer fires a second from now.
    let midnight = (T0 / DAY_MS + 1) * DAY_MS;
    let clock = Clock::manual(midnight - 1_000);
    let app = TestApp::start_with_clock(clock.clone()).await;
    let id = key(
        &app,
        "daily",
        &mock,
        json!({"quota_total": 1, "quota_reset": "daily"}),
    )
    .await;
    assert_eq!(key_state(&app, id).await["quota_reset_at"], midnight);
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    let spent = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(
        spent.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        spent.text
    );

    // Midnight: the timer refills the quota ...
    clock.advance(1_000);
    wait_for_key(&app, id, "the refill", |k| k["quota_remaining"] == 1.0).await;
    assert_eq!(key_state(&app, id).await["state"], "active");
    // ... and the key serves again (before the fix: 503, "no usable key", until a restart).
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(mock.request_count(), 2);
    app.stop().await;
}

#[actix_web::test]
async fn a_daily_request_quota_comes_back_when_an_outcome_refills_it() {
    let mock = MockUpstream::start(MockConfig::default());
    let clock = Clock::manual(T0);
    let app = TestApp::start_with_clock(clock.clone()).await;
    let id = key(
        &app,
        "daily",
        &mock,
        json!({"quota_total": 2, "quota_reset": "daily"}),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    }
    assert_eq!(
        app.chat(chat_body("gpt-4o")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // A day later (hours before the timer would fire in real time), the admin's test of the key
    // is the next call: the actor refills the quota while applying its outcome.
    clock.advance(DAY_MS);
    let tested = app
        .admin("POST", &format!("/api/keys/{id}/test"), None)
        .await;
    assert_eq!(tested.body["ok"], true, "{}", tested.text);
    let k = key_state(&app, id).await;
    assert_eq!(
        k["quota_remaining"], 1.0,
        "refilled to 2, then the test spent 1: {k}"
    );
    // The one request left is served, and then the quota is spent again.
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        app.chat(chat_body("gpt-4o")).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    app.stop().await;
}
