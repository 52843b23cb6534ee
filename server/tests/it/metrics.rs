//! `GET /metrics`: who may read it, that it can be turned off, and that its counts, tokens and
//! costs are those of the calls made (read back from the call log and the answers' headers).
//! `tests/e2e/test_metrics.py` parses the same page with Prometheus' own Python parser.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use mock_upstream::{Behaviour, MockConfig, MockUpstream};
use serde_json::json;

use crate::support::*;

const METRICS_TOKEN: &str = "scrape-token-0123456789abcdef";

/// One sample line: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

async fn scrape(app: &TestApp, token: Option<&str>) -> Reply {
    app.request("GET", "/metrics", token, None).await
}

/// The samples of an OpenMetrics page (label values here hold no escaped quotes or commas).
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').expect("closing brace");
                    let labels = inner
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                            (k.to_owned(), v.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
                None => (series.to_owned(), BTreeMap::new()),
            };
            (name, labels, value.parse().expect("a number"))
        })
        .collect()
}

/// The sum of `name`'s samples whose labels include all of `labels`.
fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[actix_web::test]
async fn counts_tokens_and_cost_are_those_of_the_calls_made() {
    let mock = MockUpstream::start(MockConfig {
        prompt_tokens: 40,
        cached_tokens: 8,
        ..Default::default()
    });
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    let mut cost = 0.0;
    for _ in 0..3 {
        let reply = app.chat(chat_body("gpt-4o")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        cost += reply
            .header("x-api-proxy-cost")
            .unwrap()
            .parse::<f64>()
            .unwrap();
    }
    let (status, _) = app.stream_chat(stream_body("gpt-4o")).await;
    assert_eq!(status, StatusCode::OK);
    let missing = app.chat(chat_body("no-such-model")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let logs = app.logs().await;
    let served: Vec<_> = logs.iter().filter(|l| l["status"] == 200).collect();
    assert_eq!(served.len(), 4);
    let total = |field: &str| {
        served
            .iter()
            .map(|l| l[field].as_f64().unwrap())
            .sum::<f64>()
    };
    let stream_cost = served.iter().find(|l| l["stream"] == true).unwrap()["cost_usd"]
        .as_f64()
        .unwrap();
    cost += stream_cost;

    let reply = scrape(&app, Some(ADMIN_TOKEN)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(reply.text.ends_with("# EOF\n"));
    let s = samples(&reply.text);
    let main = [("key", "main"), ("provider", "openai"), ("model", "gpt-4o")];
    let requests = "api_proxy_requests_total";
    assert_eq!(sum(&s, requests, &main), 4.0);
    assert_eq!(
        sum(
            &s,
            requests,
            &[("endpoint", "chat/completions"), ("status", "200")]
        ),
        4.0
    );
    // The call no key could serve: an unknown model is `other`, never its own label.
    assert_eq!(
        sum(
            &s,
            requests,
            &[("key", "none"), ("model", "other"), ("status", "404")]
        ),
        1.0
    );
    assert!(!reply.text.contains("no-such-model"));
    let tokens = |kind| {
        sum(
            &s,
            "api_proxy_tokens_total",
            &[("key", "main"), ("type", kind)],
        )
    };
    assert_eq!(tokens("input"), total("prompt_tokens"));
    assert_eq!(tokens("output"), total("completion_tokens"));
    assert_eq!(tokens("cached"), 4.0 * 8.0);
    assert!(tokens("input") >= 4.0 * 40.0);
    let counted_cost = sum(&s, "api_proxy_cost_usd_total", &main);
    assert!(counted_cost > 0.0);
    assert!(
        (counted_cost - cost).abs() < 1e-6,
        "{counted_cost} vs {cost}"
    );
    assert!((counted_cost - total("cost_usd")).abs() < 1e-9);

    // The GenAI semantic conventions' histograms.
    let chat = [
        ("gen_ai_operation_name", "chat"),
        ("gen_ai_provider_name", "openai"),
        ("gen_ai_request_model", "gpt-4o"),
    ];
    assert_eq!(
        sum(&s, "gen_ai_client_operation_duration_seconds_count", &chat),
        4.0
    );
    let usage_sum = |kind| {
        let mut labels = chat.to_vec();
        labels.push(("gen_ai_token_type", kind));
        sum(&s, "gen_ai_client_token_usage_sum", &labels)
    };
    assert_eq!(usage_sum("input"), total("prompt_tokens"));
    assert_eq!(usage_sum("output"), total("completion_tokens"));
    assert_eq!(
        sum(&s, "gen_ai_server_time_to_first_token_seconds_count", &chat),
        4.0
    );
    assert_eq!(
        sum(&s, "api_proxy_overhead_seconds_count", &[]),
        5.0,
        "every call, served or not"
    );
    assert_eq!(
        sum(
            &s,
            "api_proxy_upstream_attempts_total",
            &[("key", "main"), ("outcome", "success")]
        ),
        4.0
    );
    // Per-key state, read at the scrape.
    assert_eq!(
        sum(
            &s,
            "api_proxy_key_state",
            &[("key", "main"), ("state", "active")]
        ),
        1.0
    );
    assert_eq!(sum(&s, "api_proxy_key_state", &[("key", "main")]), 1.0);
    assert!(s
        .iter()
        .any(|(n, _, _)| n == "api_proxy_writer_queue_depth"));
    assert!(s.iter().any(|(n, _, _)| n == "api_proxy_open_connections"));
    assert_eq!(
        sum(&s, "api_proxy_trace_dropped_spans_total", &[]),
        0.0,
        "traces off: nothing queued, nothing dropped"
    );
    assert!(s
        .iter()
        .any(|(n, _, _)| n == "api_proxy_trace_dropped_spans_total"));
    assert_eq!(
        sum(&s, "api_proxy_db_faults_total", &[]),
        0.0,
        "a healthy database"
    );
    app.stop().await;
}

#[actix_web::test]
async fn metrics_need_the_admin_token_or_the_metrics_token() {
    let app = TestApp::start_with(&[("METRICS_TOKEN", METRICS_TOKEN)]).await;
    let none = scrape(&app, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{}", none.text);
    assert_eq!(none.error_code(), Some("invalid_api_key"));
    let wrong = scrape(&app, Some("not-the-token-0123456789")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(!wrong.text.contains("api_proxy_requests"));
    assert_eq!(
        scrape(&app, Some(METRICS_TOKEN)).await.status,
        StatusCode::OK
    );
    assert_eq!(scrape(&app, Some(ADMIN_TOKEN)).await.status, StatusCode::OK);
    // The metrics token opens nothing else.
    let admin = app
        .request("GET", "/api/keys", Some(METRICS_TOKEN), None)
        .await;
    assert_eq!(admin.status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[actix_web::test]
async fn metrics_can_be_turned_off() {
    let app = TestApp::start_with(&[("METRICS_ENABLED", "false")]).await;
    let reply = scrape(&app, Some(ADMIN_TOKEN)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    assert_eq!(reply.error_code(), Some("not_found"));
    assert!(!app.state().metrics.is_enabled());
    app.stop().await;
}

#[actix_web::test]
async fn failed_attempts_and_failovers_are_counted() {
    let (app, _mocks) = failing_over_app(json!({})).await;
    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.header("x-api-proxy-attempts"), Some("2"));

    let s = samples(&scrape(&app, Some(ADMIN_TOKEN)).await.text);
    let attempts = "api_proxy_upstream_attempts_total";
    assert_eq!(
        sum(&s, attempts, &[("key", "first"), ("outcome", "error")]),
        1.0
    );
    assert_eq!(
        sum(&s, attempts, &[("key", "second"), ("outcome", "success")]),
        1.0
    );
    assert_eq!(
        sum(&s, attempts, &[("key", "first"), ("outcome", "success")]),
        0.0
    );
    assert_eq!(
        sum(&s, "api_proxy_failovers_total", &[("model", "gpt-4o")]),
        1.0
    );
    // The request is counted once, under the key that served it.
    assert_eq!(sum(&s, "api_proxy_requests_total", &[]), 1.0);
    assert_eq!(
        sum(&s, "api_proxy_requests_total", &[("key", "second")]),
        1.0
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_renamed_key_is_counted_under_its_new_name() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let id = app.add_openai_key("before", &mock).await;
    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let renamed = app
        .admin(
            "PATCH",
            &format!("/api/keys/{id}"),
            Some(json!({"name": "after"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.header("x-api-proxy-key"), Some("after"));

    let s = samples(&scrape(&app, Some(ADMIN_TOKEN)).await.text);
    let requests = "api_proxy_requests_total";
    assert_eq!(sum(&s, requests, &[("key", "before")]), 1.0);
    assert_eq!(sum(&s, requests, &[("key", "after")]), 1.0);
    let cost = |key| sum(&s, "api_proxy_cost_usd_total", &[("key", key)]);
    assert!(cost("before") > 0.0 && (cost("before") - cost("after")).abs() < 1e-12);
    // The gauges follow the key's current name.
    assert_eq!(sum(&s, "api_proxy_key_state", &[("key", "after")]), 1.0);
    assert_eq!(sum(&s, "api_proxy_key_state", &[("key", "before")]), 0.0);
    app.stop().await;
}

#[actix_web::test]
async fn models_a_key_does_not_configure_are_folded_into_other() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_key(
        json!({"provider": "openai", "name": "any", "api_key": SECRET,
        "base_url": mock.openai_base(), "models": ["*", "house-model"]}),
    )
    .await;
    for model in ["house-model", "random-1", "random-2"] {
        let reply = app.chat(chat_body(model)).await;
        assert_eq!(reply.status, StatusCode::OK, "{model}: {}", reply.text);
    }
    let text = scrape(&app, Some(ADMIN_TOKEN)).await.text;
    let s = samples(&text);
    let requests = "api_proxy_requests_total";
    assert_eq!(sum(&s, requests, &[("model", "house-model")]), 1.0);
    assert_eq!(sum(&s, requests, &[("model", "other")]), 2.0);
    assert!(!text.contains("random-"));
    app.stop().await;
}

#[actix_web::test]
async fn key_gauges_show_state_and_quota() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_key(
        json!({"provider": "openai", "name": "metered", "api_key": SECRET,
        "base_url": mock.openai_base(), "quota_unit": "requests", "quota_total": 10}),
    )
    .await;
    app.add_key(
        json!({"provider": "openai", "name": "off", "api_key": SECRET,
        "base_url": mock.openai_base(), "enabled": false}),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    }
    app.state().keys.settle_all().await;
    let s = samples(&scrape(&app, Some(ADMIN_TOKEN)).await.text);
    assert_eq!(
        sum(
            &s,
            "api_proxy_key_state",
            &[("key", "off"), ("state", "disabled")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &s,
            "api_proxy_key_state",
            &[("key", "metered"), ("state", "active")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &s,
            "api_proxy_key_quota_remaining",
            &[("key", "metered"), ("unit", "requests")]
        ),
        8.0
    );
    assert!(
        sum(
            &s,
            "api_proxy_key_burn_rate_per_hour",
            &[("key", "metered")]
        ) > 0.0
    );
    assert!(!s
        .iter()
        .any(|(n, l, _)| n == "api_proxy_key_quota_remaining" && l["key"] == "off"));
    app.stop().await;
}

#[actix_web::test]
async fn reasoning_tokens_are_counted_apart() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    mock.set_behaviour(Behaviour::RawStatus {
        status: 200,
        content_type: "application/json".into(),
        body: r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",
            "choices":[{"index":0,"message":{"role":"assistant","content":"4"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":10,"completion_tokens":30,"total_tokens":40,
            "completion_tokens_details":{"reasoning_tokens":24}}}"#
            .into(),
    });
    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let s = samples(&scrape(&app, Some(ADMIN_TOKEN)).await.text);
    let tokens = |kind| {
        sum(
            &s,
            "api_proxy_tokens_total",
            &[("key", "main"), ("type", kind)],
        )
    };
    assert_eq!(tokens("output"), 30.0);
    assert_eq!(tokens("reasoning"), 24.0);
    app.stop().await;
}

#[actix_web::test]
async fn client_keys_are_counted_by_spend_and_limit_hits() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("k", &mock).await;
    let created = app
        .admin(
            "POST",
            "/api/client_keys",
            Some(json!({"name": "laptop", "rpm": 2})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let key = created.body["key"].as_str().unwrap().to_owned();
    let mut cost = 0.0;
    for expected in [
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let reply = app
            .request(
                "POST",
                "/v1/chat/completions",
                Some(&key),
                Some(chat_body("gpt-4o")),
            )
            .await;
        assert_eq!(reply.status, expected, "{}", reply.text);
        if let Some(c) = reply.header("x-api-proxy-cost") {
            cost += c.parse::<f64>().unwrap();
        }
    }
    assert!(cost > 0.0);

    let s = samples(&scrape(&app, Some(ADMIN_TOKEN)).await.text);
    let spend = sum(
        &s,
        "api_proxy_client_key_spend_usd_total",
        &[("client_key", "laptop")],
    );
    assert!((spend - cost).abs() < 1e-9, "{spend} vs {cost}");
    assert_eq!(
        sum(
            &s,
            "api_proxy_client_key_limit_hits_total",
            &[("client_key", "laptop"), ("kind", "rate_limit_exceeded")]
        ),
        1.0
    );
    app.stop().await;
}

#[actix_web::test]
async fn the_grafana_dashboard_queries_only_metrics_that_exist() {
    let dashboard = std::fs::read_to_string(repo_path("configs/grafana/api-proxy.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert_eq!(parsed["uid"], "api-proxy");
    // Every family has samples once a call failed over to a metered key and a client key spent
    // (an empty family is not written at all).
    let (app, _mocks) = failing_over_app(json!({"quota_unit": "usd", "quota_total": 5})).await;
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    app.state().keys.settle_all().await;
    app.state().metrics.client_key_spend("laptop", 0.1);
    app.state().metrics.client_key_limit_hit("laptop", "budget");
    let page = scrape(&app, Some(ADMIN_TOKEN)).await.text;
    let mut names: Vec<&str> = Vec::new();
    for (start, _) in dashboard
        .match_indices("api_proxy_")
        .chain(dashboard.match_indices("gen_ai_"))
    {
        let name = dashboard[start..]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap();
        names.push(name);
    }
    names.sort_unstable();
    names.dedup();
    // Label names (`gen_ai_request_model`) are not metrics.
    let metrics: Vec<&str> = names
        .into_iter()
        .filter(|n| !n.starts_with("gen_ai_request") && !n.starts_with("gen_ai_token"))
        .collect();
    assert!(metrics.len() > 15, "{metrics:?}");
    for name in metrics {
        let family = ["_bucket", "_total"]
            .iter()
            .fold(name, |n, suffix| n.strip_suffix(suffix).unwrap_or(n));
        assert!(
            page.contains(&format!("# TYPE {family} ")),
            "the dashboard queries {name}, which /metrics does not have"
        );
    }
    app.stop().await;
}
