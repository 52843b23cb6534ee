//! Several api-proxy processes on one PostgreSQL database, as they run behind a load balancer:
//! a request quota holds exactly under concurrent calls spread over them, an edit through one is
//! heeded by the others within a second, every instance's calls land in the same log tables, and
//! one instance killed (`kill -9`) under load leaves the others serving.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use futures_util::future::join_all;
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::process::{spawn_binary_with, Process};
use crate::support::pg::TestPg;
use crate::support::*;

const MASTER_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

/// An instance process on `pg`, in a data folder of its own.
fn instance(pg: &TestPg) -> (Process, TempDir) {
    let dir = TempDir::new().unwrap();
    let process = spawn_binary_with(
        &dir,
        &[
            ("DATABASE_URL", &pg.url),
            ("ENCRYPTION_KEY", MASTER_KEY),
            ("LOG_LEVEL", "info"),
        ],
    );
    (process, dir)
}

fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish()
}

async fn admin(http: &awc::Client, on: &Process, method: &str, path: &str, body: Value) -> Value {
    let mut resp = on
        .admin(http, method, path)
        .force_close()
        .send_json(&body)
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {body}");
    body
}

/// A chat call on `on`; its status.
async fn chat(http: &awc::Client, on: &Process, model: &str) -> StatusCode {
    match http
        .post(format!("{}/v1/chat/completions", on.base))
        .send_json(&chat_body(model))
        .await
    {
        Ok(mut resp) => {
            let _ = resp.body().await;
            resp.status()
        }
        // The instance is gone (killed).
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

/// Adds a key that serves only the model `probe` through `on`, and waits until every one of
/// `all` lists that model (from its own live keys): an instance that does has loaded every
/// change made before it too, since a reload reads the change counter before the rows.
async fn caught_up(http: &awc::Client, on: &Process, all: &[&Process], probe: &str) {
    admin(
        http,
        on,
        "POST",
        "/api/keys",
        json!({"provider": "openai", "name": probe, "api_key": SECRET,
            "base_url": "http://127.0.0.1:9", "models": [probe]}),
    )
    .await;
    for instance in all {
        eventually(
            Duration::from_secs(5),
            "an instance loads the others' edits",
            || async {
                match http
                    .get(format!("{}/v1/models", instance.base))
                    .send()
                    .await
                {
                    Ok(mut resp) => String::from_utf8_lossy(&resp.body().await.unwrap_or_default())
                        .contains(probe),
                    Err(_) => false,
                }
            },
        )
        .await;
    }
}

/// 400 concurrent calls spread over three instances against a request quota of 100: exactly 100
/// reach the upstream, and all 400 calls are in the one call-log table.
#[actix_web::test]
async fn three_instances_forward_exactly_the_request_quota() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig {
        workers: 2,
        ..Default::default()
    });
    let (a, _da) = instance(&pg);
    let (b, _db) = instance(&pg);
    let (c, _dc) = instance(&pg);
    let http = client();
    admin(
        &http,
        &a,
        "POST",
        "/api/keys",
        json!({"provider": "openai", "name": "quota", "api_key": SECRET,
            "base_url": mock.openai_base(), "quota_total": 100, "quota_unit": "requests"}),
    )
    .await;
    caught_up(&http, &a, &[&a, &b, &c], "probe-model").await;

    let instances = [&a, &b, &c];
    let statuses = join_all((0..400).map(|i| chat(&http, instances[i % 3], "gpt-4o"))).await;
    let served = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(
        mock.request_count(),
        100,
        "exactly the quota reached the upstream"
    );
    assert_eq!(served, 100);
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    // Every instance's calls, in the same tables.
    eventually(
        Duration::from_secs(5),
        "all 400 calls are logged",
        || async { pg.count("SELECT count(*) AS n FROM call_logs") == 400 },
    )
    .await;
    assert_eq!(
        pg.count("SELECT count(*) AS n FROM call_logs WHERE status = 200"),
        100
    );
    eventually(
        Duration::from_secs(5),
        "the rollups count the fleet",
        || async { pg.count("SELECT COALESCE(SUM(calls), 0)::bigint AS n FROM usage_hour") == 400 },
    )
    .await;
    assert_eq!(
        pg.count("SELECT count(*) AS n FROM api_keys WHERE quota_remaining = 0"),
        1
    );
}

/// A key disabled through one instance is not used by another a second later; one instance
/// killed under load leaves the other serving, and what it answered is in the logs except at
/// most its last unflushed batch.
#[actix_web::test]
async fn edits_travel_between_processes_and_one_killed_leaves_the_other_serving() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig {
        workers: 2,
        ..Default::default()
    });
    let (mut a, _da) = instance(&pg);
    let (b, _db) = instance(&pg);
    let http = client();
    let key = admin(
        &http,
        &a,
        "POST",
        "/api/keys",
        json!({"provider": "openai", "name": "main", "api_key": SECRET,
            "base_url": mock.openai_base()}),
    )
    .await;
    let id = key["id"].as_i64().unwrap();
    eventually(
        Duration::from_secs(2),
        "B serves the key added on A",
        || async { chat(&http, &b, "gpt-4o").await == StatusCode::OK },
    )
    .await;

    admin(
        &http,
        &a,
        "PATCH",
        &format!("/api/keys/{id}"),
        json!({"enabled": false}),
    )
    .await;
    let disabled_at = Instant::now();
    eventually(
        Duration::from_secs(1),
        "B stops using the key disabled on A",
        || async { chat(&http, &b, "gpt-4o").await != StatusCode::OK },
    )
    .await;
    let before = mock.request_count();
    assert_ne!(chat(&http, &b, "gpt-4o").await, StatusCode::OK);
    assert_eq!(
        mock.request_count(),
        before,
        "B sends nothing with the disabled key"
    );
    assert!(disabled_at.elapsed() < Duration::from_secs(2));
    admin(
        &http,
        &a,
        "PATCH",
        &format!("/api/keys/{id}"),
        json!({"enabled": true}),
    )
    .await;
    eventually(
        Duration::from_secs(1),
        "B uses the key enabled again",
        || async { chat(&http, &b, "gpt-4o").await == StatusCode::OK },
    )
    .await;

    // Load on both; A is killed (SIGKILL: no drain, no last flush) while it runs.
    let logged_before = pg.count("SELECT count(*) AS n FROM call_logs");
    let load = join_all((0..200).map(|i| {
        let on = if i % 2 == 0 { &a.base } else { &b.base };
        let url = format!("{on}/v1/chat/completions");
        let http = &http;
        async move {
            let status = match http.post(&url).send_json(&chat_body("gpt-4o")).await {
                Ok(mut resp) => {
                    let _ = resp.body().await;
                    resp.status()
                }
                Err(_) => StatusCode::BAD_GATEWAY,
            };
            (i % 2 == 0, status)
        }
    }));
    let started = mock.request_count();
    let kill = async {
        // Once some of the load has reached the upstream.
        eventually(Duration::from_secs(10), "the load is under way", || async {
            mock.request_count() >= started + 20
        })
        .await;
        a.child.kill().unwrap();
        a.child.wait().unwrap();
    };
    let (results, ()) = futures_util::join!(load, kill);
    let answered_by_b = results
        .iter()
        .filter(|(on_a, s)| !on_a && *s == StatusCode::OK)
        .count();
    let answered_by_a = results
        .iter()
        .filter(|(on_a, s)| *on_a && *s == StatusCode::OK)
        .count();
    assert_eq!(answered_by_b, 100, "B answered every call sent to it");
    // And keeps serving.
    for _ in 0..20 {
        assert_eq!(chat(&http, &b, "gpt-4o").await, StatusCode::OK);
    }
    // B's calls are all logged; of A's, at most its last batch (LOG_FLUSH_MS) is missing.
    let want_at_least = logged_before as usize + answered_by_b + 20;
    eventually(Duration::from_secs(5), "B's calls are logged", || async {
        pg.count("SELECT count(*) AS n FROM call_logs") as usize >= want_at_least
    })
    .await;
    let logged = pg.count("SELECT count(*) AS n FROM call_logs") as usize;
    // What is logged beyond B's calls is A's: no more than A was sent, and at least what it
    // answered before its last unflushed batch (its size depends on the moment of the kill).
    let logged_by_a = logged - want_at_least;
    assert!(logged_by_a <= 100, "A logged {logged_by_a} of 100 calls");
    eprintln!("A answered {answered_by_a} calls before the kill and logged {logged_by_a}");
}

/// A client key's USD budget is the fleet's: calls alternating between two processes stop when
/// the one budget is spent, not when each process has spent it.
#[actix_web::test]
async fn a_client_key_budget_holds_across_processes() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig::default());
    let (a, _da) = instance(&pg);
    let (b, _db) = instance(&pg);
    let http = client();
    admin(
        &http,
        &a,
        "POST",
        "/api/keys",
        json!({"provider": "openai", "name": "paid", "api_key": SECRET,
            "base_url": mock.openai_base(), "cost_per_request": 1.0}),
    )
    .await;
    let created = admin(
        &http,
        &a,
        "POST",
        "/api/client_keys",
        json!({"name": "team", "budget_usd": 5.0}),
    )
    .await;
    let secret = created["key"].as_str().unwrap().to_owned();
    caught_up(&http, &a, &[&a, &b], "probe-model").await;
    let mut served = 0;
    for i in 0..12 {
        let on = if i % 2 == 0 { &a } else { &b };
        let mut resp = http
            .post(format!("{}/v1/chat/completions", on.base))
            .bearer_auth(&secret)
            .send_json(&chat_body("gpt-4o"))
            .await
            .unwrap();
        let _ = resp.body().await;
        if resp.status() == StatusCode::OK {
            served += 1;
        } else {
            assert_eq!(resp.status(), StatusCode::PAYMENT_REQUIRED);
        }
        // Charged when the call ends, off its path.
        let want = served;
        eventually(Duration::from_secs(2), "the spend is charged", || async {
            pg.count("SELECT FLOOR(COALESCE(SUM(spent_usd), 0))::bigint AS n FROM client_keys")
                >= want
        })
        .await;
    }
    // Alone, each process would have served five (ten in all). Four when the reservation of the
    // fifth (its fee plus an estimate of its tokens) does not fit what is left.
    assert!((4..=5).contains(&served), "served {served}");
    assert!(
        pg.count("SELECT CEIL(SUM(spent_usd))::bigint AS n FROM client_keys") <= 6,
        "overdrawn"
    );
}
