//! Routing scenarios with several mock upstreams: strategies, tiers, throttling and recovery,
//! cooling and the half-open probe, failover trails, quotas under concurrency, rate-limit headers
//! and explainable picks. Each runs from every client surface ([`SURFACES`]): routing must not
//! depend on the dialect a call came in. Time is driven by hand; nothing sleeps.

use actix_web::http::StatusCode;
use api_proxy::actors::key::{GetSnapshot, SimulatePanic};
use api_proxy::clock::Clock;
use mock_upstream::{Behaviour, MockConfig, MockUpstream};
use serde_json::{json, Value};

use crate::support::surface::{Surface, SURFACES};
use crate::support::*;

const T0: i64 = 1_800_000_000_000;

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
async fn cost_strategy_picks_the_cheaper_key_and_explains_why() {
    for surface in SURFACES {
        cost_strategy_picks_the_cheaper_key_and_explains_why_on(*surface).await;
    }
}

async fn cost_strategy_picks_the_cheaper_key_and_explains_why_on(surface: Surface) {
    let (a, b) = (
        MockUpstream::start(MockConfig::default()),
        MockUpstream::start(MockConfig::default()),
    );
    let app = TestApp::start().await;
    key(&app, "pricey", &a, json!({"cost_per_request": 0.01})).await;
    let cheap = key(&app, "cheap", &b, json!({"cost_per_request": 0.001})).await;
    app.put_settings(json!({"routing_strategy": "cost"})).await;
    for _ in 0..3 {
        let r = surface.call(&app, "gpt-4o").await;
        assert_eq!(r.header("x-api-proxy-key"), Some("cheap"));
        let cost: f64 = r.header("x-api-proxy-cost").unwrap().parse().unwrap();
        assert!(cost > 0.001, "fee plus tokens: {cost}");
    }
    assert_eq!(a.request_count(), 0);

    let route = app.admin("GET", "/api/route?model=gpt-4o", None).await;
    assert_eq!(route.status, StatusCode::OK, "{}", route.text);
    assert_eq!(route.body["strategy"], "cost");
    assert_eq!(route.body["winner"], cheap);
    let candidates = route.body["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2);
    let by_name = |n: &str| candidates.iter().find(|c| c["name"] == n).unwrap().clone();
    assert!(
        by_name("cheap")["score"]["total"].as_f64() > by_name("pricey")["score"]["total"].as_f64()
    );
    assert_eq!(by_name("cheap")["score"]["cost"], 1.0);

    // A per-model override beats the global strategy.
    app.put_settings(json!({"model_strategies": {"gpt-4o": "round_robin"}}))
        .await;
    let names: std::collections::HashSet<String> =
        futures_util::future::join_all((0..4).map(|_| surface.call(&app, "gpt-4o")))
            .await
            .iter()
            .map(|r| r.header("x-api-proxy-key").unwrap().to_owned())
            .collect();
    assert_eq!(names.len(), 2, "round robin uses both keys");
    app.stop().await;
}

#[actix_web::test]
async fn round_robin_shares_evenly_and_weights_are_honoured() {
    for surface in SURFACES {
        round_robin_shares_evenly_and_weights_are_honoured_on(*surface).await;
    }
}

async fn round_robin_shares_evenly_and_weights_are_honoured_on(surface: Surface) {
    let mocks: Vec<MockUpstream> = (0..3)
        .map(|_| MockUpstream::start(MockConfig::default()))
        .collect();
    let app = TestApp::start().await;
    for (i, m) in mocks.iter().enumerate() {
        key(&app, &format!("k{i}"), m, json!({})).await;
    }
    app.put_settings(json!({"routing_strategy": "round_robin"}))
        .await;
    for _ in 0..1000 {
        assert_eq!(surface.call(&app, "gpt-4o").await.status, StatusCode::OK);
    }
    for m in &mocks {
        let n = m.request_count() as f64;
        assert!(
            (n - 1000.0 / 3.0).abs() <= 1000.0 / 3.0 * 0.05,
            "uneven share: {n}"
        );
    }
    app.stop().await;
}

#[actix_web::test]
async fn priority_tiers_hold_and_exhausted_keys_are_never_chosen() {
    for surface in SURFACES {
        priority_tiers_hold_and_exhausted_keys_are_never_chosen_on(*surface).await;
    }
}

async fn priority_tiers_hold_and_exhausted_keys_are_never_chosen_on(surface: Surface) {
    let (first, second, last) = (
        MockUpstream::start(MockConfig::default()),
        MockUpstream::start(MockConfig::default()),
        MockUpstream::start(MockConfig::default()),
    );
    let app = TestApp::start().await;
    key(
        &app,
        "tier1",
        &first,
        json!({"priority": 1, "quota_total": 2}),
    )
    .await;
    key(&app, "tier2", &second, json!({"priority": 2})).await;
    key(&app, "untiered", &last, json!({"cost_per_request": 0.0})).await;
    let served: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(
                surface
                    .call(&app, "gpt-4o")
                    .await
                    .header("x-api-proxy-key")
                    .unwrap()
                    .to_owned(),
            );
        }
        v
    };
    assert_eq!(
        served,
        ["tier1", "tier1", "tier2", "tier2"],
        "tier 1 until its quota is spent"
    );
    assert_eq!(first.request_count(), 2);
    assert_eq!(last.request_count(), 0, "keys without a priority come last");
    app.stop().await;
}

#[actix_web::test]
async fn a_429_throttles_until_retry_after_then_the_key_recovers() {
    for surface in SURFACES {
        a_429_throttles_until_retry_after_then_the_key_recovers_on(*surface).await;
    }
}

async fn a_429_throttles_until_retry_after_then_the_key_recovers_on(surface: Surface) {
    let limited = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(429),
        extra_headers: vec![("retry-after".into(), "30".into())],
        ..Default::default()
    });
    let backup = MockUpstream::start(MockConfig::default());
    let clock = Clock::manual(T0);
    let app = TestApp::start_with_clock(clock.clone()).await;
    let a = key(&app, "a", &limited, json!({"priority": 1})).await;
    key(&app, "b", &backup, json!({"priority": 2})).await;

    let r = surface.call(&app, "gpt-4o").await;
    assert_eq!(r.header("x-api-proxy-key"), Some("b"));
    assert_eq!(r.header("x-api-proxy-attempts"), Some("2"));
    let state = key_state(&app, a).await;
    assert_eq!(state["state"], "throttled");
    assert_eq!(state["state_until"], T0 + 30_000);

    // While throttled, a is not even tried.
    surface.call(&app, "gpt-4o").await;
    assert_eq!(limited.request_count(), 1);

    // Thirty seconds later it is back.
    limited.set_behaviour(Behaviour::Normal);
    clock.advance(30_000);
    assert_eq!(key_state(&app, a).await["state"], "active");
    let r = surface.call(&app, "gpt-4o").await;
    assert_eq!(r.header("x-api-proxy-key"), Some("a"));
    app.stop().await;
}

#[actix_web::test]
async fn all_keys_throttled_answers_429_with_retry_after_at_once() {
    for surface in SURFACES {
        all_keys_throttled_answers_429_with_retry_after_at_once_on(*surface).await;
    }
}

async fn all_keys_throttled_answers_429_with_retry_after_at_once_on(surface: Surface) {
    let limited = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(429),
        extra_headers: vec![("retry-after-ms".into(), "4500".into())],
        ..Default::default()
    });
    let clock = Clock::manual(T0);
    let app = TestApp::start_with_clock(clock.clone()).await;
    key(&app, "only", &limited, json!({})).await;
    assert_eq!(
        surface.call(&app, "gpt-4o").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = surface.call(&app, "gpt-4o").await;
    surface.assert_all_keys_throttled(&r);
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(
        limited.request_count(),
        1,
        "answered without calling the upstream again"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_5xx_storm_cools_the_key_then_a_probe_brings_it_back() {
    for surface in SURFACES {
        a_5xx_storm_cools_the_key_then_a_probe_brings_it_back_on(*surface).await;
    }
}

async fn a_5xx_storm_cools_the_key_then_a_probe_brings_it_back_on(surface: Surface) {
    let flaky = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(500),
        ..Default::default()
    });
    let steady = MockUpstream::start(MockConfig::default());
    let clock = Clock::manual(T0);
    let app = TestApp::start_with_clock(clock.clone()).await;
    let f = key(&app, "flaky", &flaky, json!({"priority": 1})).await;
    key(&app, "steady", &steady, json!({"priority": 2})).await;

    // One failure does not take the key out.
    surface.call(&app, "gpt-4o").await;
    assert_eq!(key_state(&app, f).await["state"], "active");
    surface.call(&app, "gpt-4o").await;
    surface.call(&app, "gpt-4o").await;
    let cooled = key_state(&app, f).await;
    assert_eq!(cooled["state"], "cooling", "{cooled}");
    assert_eq!(flaky.request_count(), 3);
    let r = surface.call(&app, "gpt-4o").await;
    assert_eq!(r.header("x-api-proxy-key"), Some("steady"));
    assert_eq!(flaky.request_count(), 3, "a cooling key gets no traffic");

    // After the cool-down one probe goes through; it succeeds and the key is active again.
    flaky.set_behaviour(Behaviour::Normal);
    clock.advance(cooled["state_until"].as_i64().unwrap() - T0);
    assert_eq!(key_state(&app, f).await["state"], "probing");
    let r = surface.call(&app, "gpt-4o").await;
    assert_eq!(r.header("x-api-proxy-key"), Some("flaky"));
    assert_eq!(key_state(&app, f).await["state"], "active");
    app.stop().await;
}

#[actix_web::test]
async fn failover_keeps_the_attempt_trail() {
    for surface in SURFACES {
        failover_keeps_the_attempt_trail_on(*surface).await;
    }
}

async fn failover_keeps_the_attempt_trail_on(surface: Surface) {
    let down = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(503),
        ..Default::default()
    });
    let up = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    key(&app, "down", &down, json!({"priority": 1})).await;
    key(&app, "up", &up, json!({"priority": 2})).await;
    assert_eq!(surface.call(&app, "gpt-4o").await.status, StatusCode::OK);
    let log = app.logs().await[0].clone();
    assert_eq!(
        log["endpoint"],
        surface.endpoint(),
        "the call is logged with its surface"
    );
    let trail = log["attempt_trail"].as_array().unwrap();
    assert_eq!(trail.len(), 2, "{log}");
    assert_eq!(trail[0]["key_name"], "down");
    assert_eq!(trail[0]["status"], 503);
    assert!(trail[0]["error"].as_str().unwrap().contains("overloaded"));
    assert_eq!(trail[1]["key_name"], "up");
    assert_eq!(trail[1]["status"], 200);
    assert_eq!(
        log["prices"]["input"], 2.5,
        "the prices charged are kept with the call"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_request_quota_is_not_overdrawn_by_200_parallel_requests() {
    for surface in SURFACES {
        a_request_quota_is_not_overdrawn_by_200_parallel_requests_on(*surface).await;
    }
}

async fn a_request_quota_is_not_overdrawn_by_200_parallel_requests_on(surface: Surface) {
    let mock = MockUpstream::start(MockConfig {
        workers: 2,
        ..Default::default()
    });
    let app = TestApp::start_with(&[("WORKERS", "2")]).await;
    let id = key(&app, "limited", &mock, json!({"quota_total": 50})).await;
    let replies =
        futures_util::future::join_all((0..200).map(|_| surface.call(&app, "gpt-4o"))).await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert!(replies
        .iter()
        .all(|r| r.status == StatusCode::OK || r.status == surface.no_key_status()));
    assert_eq!(
        mock.request_count(),
        50,
        "exactly the quota reached the upstream"
    );
    assert_eq!(ok, 50);
    let k = key_state(&app, id).await;
    assert_eq!(k["quota_remaining"], 0.0);
    assert_eq!(k["state"], "quota_exhausted");
    assert_eq!(k["in_flight"], 0, "every lease was released");
    app.stop().await;
}

#[actix_web::test]
async fn rate_limit_headers_steer_traffic_before_the_key_runs_dry() {
    for surface in SURFACES {
        rate_limit_headers_steer_traffic_before_the_key_runs_dry_on(*surface).await;
    }
}

async fn rate_limit_headers_steer_traffic_before_the_key_runs_dry_on(surface: Surface) {
    let dry = MockUpstream::start(MockConfig {
        extra_headers: vec![
            ("x-ratelimit-limit-requests".into(), "100".into()),
            ("x-ratelimit-remaining-requests".into(), "0".into()),
            ("x-ratelimit-reset-requests".into(), "20s".into()),
        ],
        ..Default::default()
    });
    let other = MockUpstream::start(MockConfig::default());
    let clock = Clock::manual(T0);
    let app = TestApp::start_with_clock(clock.clone()).await;
    let d = key(&app, "dry", &dry, json!({"priority": 1})).await;
    key(&app, "other", &other, json!({"priority": 2})).await;
    // The call succeeds, but the headers say nothing is left for 20 s.
    assert_eq!(
        surface.call(&app, "gpt-4o").await.header("x-api-proxy-key"),
        Some("dry")
    );
    let state = key_state(&app, d).await;
    assert_eq!(state["state"], "throttled");
    assert_eq!(state["rate_limit"]["requests_remaining"], 0.0);
    assert_eq!(
        surface.call(&app, "gpt-4o").await.header("x-api-proxy-key"),
        Some("other")
    );
    assert_eq!(dry.request_count(), 1);
    clock.advance(20_000);
    assert_eq!(
        surface.call(&app, "gpt-4o").await.header("x-api-proxy-key"),
        Some("dry")
    );
    app.stop().await;
}

#[actix_web::test]
async fn insufficient_quota_from_the_provider_exhausts_the_key_until_topped_up() {
    for surface in SURFACES {
        insufficient_quota_from_the_provider_exhausts_the_key_until_topped_up_on(*surface).await;
    }
}

async fn insufficient_quota_from_the_provider_exhausts_the_key_until_topped_up_on(
    surface: Surface,
) {
    let broke = MockUpstream::start(MockConfig {
        behaviour: Behaviour::RawStatus {
            status: 429,
            content_type: "application/json".into(),
            body: r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#.into(),
        },
        ..Default::default()
    });
    let app = TestApp::start().await;
    let id = key(&app, "broke", &broke, json!({})).await;
    assert_eq!(
        surface.call(&app, "gpt-4o").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(key_state(&app, id).await["state"], "quota_exhausted");
    assert_eq!(
        surface.call(&app, "gpt-4o").await.status,
        surface.no_key_status()
    );
    broke.set_behaviour(Behaviour::Normal);
    app.admin(
        "PATCH",
        &format!("/api/keys/{id}"),
        Some(json!({"quota_remaining": null})),
    )
    .await;
    assert_eq!(key_state(&app, id).await["state"], "active");
    assert_eq!(surface.call(&app, "gpt-4o").await.status, StatusCode::OK);
    app.stop().await;
}

#[actix_web::test]
async fn a_supervisor_restart_keeps_a_throttle() {
    for surface in SURFACES {
        a_supervisor_restart_keeps_a_throttle_on(*surface).await;
    }
}

async fn a_supervisor_restart_keeps_a_throttle_on(surface: Surface) {
    let limited = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(429),
        extra_headers: vec![("retry-after".into(), "60".into())],
        ..Default::default()
    });
    let clock = Clock::manual(T0);
    let app = TestApp::start_with_clock(clock).await;
    let id = key(&app, "a", &limited, json!({})).await;
    surface.call(&app, "gpt-4o").await;
    let addr = app.state().keys.addr(id as i32).unwrap();
    addr.do_send(SimulatePanic);
    let after = addr.send(GetSnapshot).await.unwrap();
    assert_eq!(after.generation, 1);
    assert_eq!(after.state, shared::keys::KeyState::Throttled);
    assert_eq!(after.state_until, Some(T0 + 60_000));
    app.stop().await;
}

#[actix_web::test]
async fn burn_rate_and_forecast_are_reported() {
    for surface in SURFACES {
        burn_rate_and_forecast_are_reported_on(*surface).await;
    }
}

async fn burn_rate_and_forecast_are_reported_on(surface: Surface) {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let id = key(
        &app,
        "k",
        &mock,
        json!({"quota_total": 100, "quota_reset": "monthly"}),
    )
    .await;
    for _ in 0..4 {
        surface.call(&app, "gpt-4o").await;
    }
    let k = key_state(&app, id).await;
    assert_eq!(k["quota_remaining"], 96.0);
    assert!(k["burn_rate_per_hour"].as_f64().unwrap() > 0.0, "{k}");
    assert!(
        k["quota_forecast_exhausted_at"].as_i64().unwrap()
            > k["usage"]["last_used_at"].as_i64().unwrap()
    );
    assert!(k["quota_reset_at"].as_i64().unwrap() > k["created_at"].as_i64().unwrap());
    assert_eq!(k["quota_reset"], "monthly");
    app.stop().await;
}

#[actix_web::test]
async fn conversations_stick_to_their_key_until_it_is_throttled() {
    for surface in SURFACES {
        conversations_stick_to_their_key_until_it_is_throttled_on(*surface).await;
    }
}

async fn conversations_stick_to_their_key_until_it_is_throttled_on(surface: Surface) {
    let a = MockUpstream::start(MockConfig::default());
    let b = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let ka = key(&app, "a", &a, json!({})).await;
    key(&app, "b", &b, json!({})).await;
    app.put_settings(json!({"routing_strategy": "round_robin", "conversation_affinity": true}))
        .await;
    let turn = |n: usize| {
        let mut messages = vec![
            ("system", "You are a pirate.".to_owned()),
            ("user", "Tell me about ships".to_owned()),
        ];
        for i in 0..n {
            messages.push(("assistant", format!("Arr {i}")));
            messages.push(("user", format!("More {i}")));
        }
        surface.conversation("gpt-4o", &messages)
    };
    let first = surface
        .send(&app, turn(0))
        .await
        .header("x-api-proxy-key")
        .unwrap()
        .to_owned();
    for n in 1..6 {
        let r = surface.send(&app, turn(n)).await;
        assert_eq!(
            r.header("x-api-proxy-key"),
            Some(first.as_str()),
            "turn {n} left its key"
        );
    }
    // When the sticky key stops being usable, the conversation moves.
    let sticky_id = if first == "a" { ka } else { ka + 1 };
    app.admin(
        "PATCH",
        &format!("/api/keys/{sticky_id}"),
        Some(json!({"enabled": false})),
    )
    .await;
    let moved = surface.send(&app, turn(6)).await;
    assert_ne!(moved.header("x-api-proxy-key"), Some(first.as_str()));
    assert_eq!(moved.status, StatusCode::OK);
    app.stop().await;
}
