//! PostgreSQL (`DATABASE_URL=postgres://…`): the same server on a shared database, and several
//! instances (in this process) on one database: migrations once, the master-key check,
//! persistence, request quotas, client-key budgets and edits that hold across instances.
//! Each test has its own fresh database (`support::pg`).

use std::time::Duration;

use actix_web::http::StatusCode;
use diesel::RunQueryDsl;
use futures_util::future::join_all;
use mock_upstream::{Behaviour, MockConfig, MockUpstream};
use serde_json::json;

use crate::support::pg::TestPg;
use crate::support::*;

const KEY_A: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const KEY_B: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";

/// An instance on `pg` (its own data folder, the database shared).
async fn instance(pg: &TestPg) -> TestApp {
    TestApp::start_with(&[("DATABASE_URL", &pg.url), ("ENCRYPTION_KEY", KEY_A)]).await
}

#[test]
fn instances_starting_together_migrate_once() {
    let pg = TestPg::new();
    let url = api_proxy::crypto::Secret::new(pg.url.clone());
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || api_proxy::db::Db::open_postgres(&url).map(|_| ()))
        })
        .collect();
    for handle in opened {
        handle
            .join()
            .unwrap()
            .expect("every instance opens the database");
    }
    let folders = std::fs::read_dir(repo_path("migrations/postgres"))
        .unwrap()
        .count() as i64;
    assert_eq!(
        pg.count("SELECT count(*) AS n FROM __diesel_schema_migrations"),
        folders
    );
    // Both backends have the same migrations, by name.
    let names = |dir: &str| {
        let mut names: Vec<String> = std::fs::read_dir(repo_path(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("migrations/sqlite"), names("migrations/postgres"));
}

#[actix_web::test]
async fn an_instance_with_another_master_key_does_not_start() {
    let pg = TestPg::new();
    let first = instance(&pg).await;
    let dir = tempfile::TempDir::new().unwrap();
    let refused = api_proxy::app::start(config_for(
        &dir,
        &[("DATABASE_URL", &pg.url), ("ENCRYPTION_KEY", KEY_B)],
    ))
    .await
    .err()
    .expect("a second master key must not start")
    .to_string();
    assert!(refused.contains("key"), "{refused}");
    let second = instance(&pg).await;
    second.stop().await;
    first.stop().await;
}

#[actix_web::test]
async fn keys_settings_logs_and_counters_persist_in_postgres() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig::default());
    let app = instance(&pg).await;
    let id = app
        .add_key(
            json!({"provider": "openai", "name": "main", "api_key": SECRET,
            "base_url": mock.openai_base(), "quota_total": 10, "quota_unit": "requests"}),
        )
        .await;
    app.put_settings(json!({"max_attempts": 4, "model_aliases": {"fast": "gpt-4o-mini"}}))
        .await;
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(app.chat(chat_body("fast")).await.status, StatusCode::OK);
    app.stop().await;

    // Another instance (another data folder) finds it all in the database.
    let app = instance(&pg).await;
    assert!(
        app.state().live.snapshot(0, 0).instance_only,
        "the live feed says it is this instance's"
    );
    let key = app.admin("GET", &format!("/api/keys/{id}"), None).await;
    assert_eq!(key.status, StatusCode::OK, "{}", key.text);
    assert_eq!(key.body["usage"]["calls"], 2, "{}", key.text);
    assert_eq!(key.body["quota_remaining"], 8.0, "{}", key.text);
    let settings = app.admin("GET", "/api/settings", None).await;
    assert_eq!(settings.body["model_aliases"]["fast"], "gpt-4o-mini");
    assert_eq!(app.logs().await.len(), 2);
    let stats = app.admin("GET", "/api/stats?group=total", None).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.text);
    assert!(stats.text.contains("\"calls\":2"), "{}", stats.text);
    // The stored secret opens with the shared master key.
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(
        mock.received()[2].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_request_quota_holds_across_instances_under_concurrency() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig::default());
    let a = instance(&pg).await;
    let b = instance(&pg).await;
    a.add_key(json!({"provider": "openai", "name": "q", "api_key": SECRET,
        "base_url": mock.openai_base(), "quota_total": 100, "quota_unit": "requests"}))
        .await;
    eventually(
        Duration::from_secs(2),
        "B serves the key added on A",
        || async { b.state().keys.len() == 1 },
    )
    .await;
    let calls = (0..300).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.chat(chat_body("gpt-4o"))
    });
    let replies = join_all(calls).await;
    let served = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(
        mock.request_count(),
        100,
        "exactly the quota reached the upstream"
    );
    assert_eq!(served, 100);
    a.stop().await;
    b.stop().await;
    assert_eq!(
        pg.count("SELECT count(*) AS n FROM api_keys WHERE quota_remaining = 0"),
        1
    );
}

#[actix_web::test]
async fn edits_and_verdicts_on_one_instance_reach_the_other_within_a_second() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig::default());
    let a = instance(&pg).await;
    let b = instance(&pg).await;
    let id = a.add_openai_key("main", &mock).await;
    eventually(
        Duration::from_secs(1),
        "B serves the key added on A",
        || async { b.chat(chat_body("gpt-4o")).await.status == StatusCode::OK },
    )
    .await;

    // Disabled through A: B stops using it.
    let r = a
        .admin(
            "PATCH",
            &format!("/api/keys/{id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    eventually(
        Duration::from_secs(1),
        "B stops using the key disabled on A",
        || async { b.chat(chat_body("gpt-4o")).await.status != StatusCode::OK },
    )
    .await;
    let before = mock.request_count();
    assert_ne!(b.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(mock.request_count(), before, "B sent nothing upstream");

    // Enabled again; then the provider refuses the key on A: B stops too.
    a.admin(
        "PATCH",
        &format!("/api/keys/{id}"),
        Some(json!({"enabled": true})),
    )
    .await;
    eventually(
        Duration::from_secs(1),
        "B uses the key enabled again",
        || async { b.chat(chat_body("gpt-4o")).await.status == StatusCode::OK },
    )
    .await;
    mock.set_behaviour(Behaviour::Status(401));
    assert_ne!(a.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    let refused_at = mock.request_count();
    mock.set_behaviour(Behaviour::Normal);
    eventually(Duration::from_secs(1), "B holds the key dead", || async {
        b.state()
            .board
            .get(id as i32)
            .is_some_and(|bid| bid.health == api_proxy::routing::Health::AuthDead)
    })
    .await;
    assert_ne!(b.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(
        mock.request_count(),
        refused_at,
        "B did not try the dead key"
    );

    // Settings and client keys made on B reach A.
    b.put_settings(json!({"model_aliases": {"fleet": "gpt-4o"}}))
        .await;
    eventually(Duration::from_secs(1), "A has B's settings", || async {
        a.state().settings().model_aliases.contains_key("fleet")
    })
    .await;
    let client = b
        .admin("POST", "/api/client_keys", Some(json!({"name": "ci"})))
        .await;
    let hash = api_proxy::crypto::sha256_hex(client.body["key"].as_str().unwrap());
    eventually(Duration::from_secs(1), "A knows B's client key", || async {
        a.state().client_keys.by_hash(&hash).is_some()
    })
    .await;
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn a_client_key_budget_holds_across_instances() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig::default());
    let a = instance(&pg).await;
    let b = instance(&pg).await;
    a.add_key(
        json!({"provider": "openai", "name": "paid", "api_key": SECRET,
        "base_url": mock.openai_base(), "cost_per_request": 1.0}),
    )
    .await;
    let created = a
        .admin(
            "POST",
            "/api/client_keys",
            Some(json!({"name": "team", "budget_usd": 5.0})),
        )
        .await;
    assert!(created.status.is_success(), "{}", created.text);
    let secret = created.body["key"].as_str().unwrap().to_owned();
    let hash = api_proxy::crypto::sha256_hex(&secret);
    eventually(
        Duration::from_secs(2),
        "both instances serve the key and client key",
        || async { b.state().keys.len() == 1 && b.state().client_keys.by_hash(&hash).is_some() },
    )
    .await;
    // One call at a time, alternating: each instance sees the other's spend.
    let mut served = 0;
    for i in 0..12 {
        let app = if i % 2 == 0 { &a } else { &b };
        let r = app
            .request(
                "POST",
                "/v1/chat/completions",
                Some(&secret),
                Some(chat_body("gpt-4o")),
            )
            .await;
        if r.status == StatusCode::OK {
            served += 1;
        } else {
            assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.text);
        }
        // The charge is written when the call ends, off its path.
        let want = f64::from(served);
        eventually(Duration::from_secs(2), "the spend is charged", || async {
            spent(&pg) >= want
        })
        .await;
    }
    // Alone, each instance would have served five (ten in all): the budget is the fleet's.
    // (Four when the reservation of the fifth, its fee plus an estimate of its tokens, does
    // not fit what is left.)
    assert!((4..=5).contains(&served), "served {served}");
    assert!(spent(&pg) <= 5.0, "spent {}", spent(&pg));
    a.stop().await;
    b.stop().await;
}

fn spent(pg: &TestPg) -> f64 {
    #[derive(diesel::QueryableByName)]
    struct Spent {
        #[diesel(sql_type = diesel::sql_types::Double)]
        spent_usd: f64,
    }
    diesel::sql_query("SELECT spent_usd FROM client_keys")
        .get_result::<Spent>(&mut pg.connect())
        .map_or(0.0, |s| s.spent_usd)
}

#[actix_web::test]
async fn a_usd_key_quota_holds_across_instances() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig::default());
    let a = instance(&pg).await;
    let b = instance(&pg).await;
    a.add_key(
        json!({"provider": "openai", "name": "usd", "api_key": SECRET,
        "base_url": mock.openai_base(), "cost_per_request": 1.0,
        "quota_total": 3, "quota_unit": "usd"}),
    )
    .await;
    eventually(
        Duration::from_secs(2),
        "B serves the key added on A",
        || async { b.state().keys.len() == 1 },
    )
    .await;
    // One call at a time, alternating; each is charged before the next (a quota is overdrawn
    // by no more than the calls in flight, and here none is).
    for i in 0..8 {
        let app = if i % 2 == 0 { &a } else { &b };
        let served = mock.request_count();
        let status = app.chat(chat_body("gpt-4o")).await.status;
        if status == StatusCode::OK {
            eventually(
                Duration::from_secs(2),
                "the spend is subtracted",
                || async { quota_left(&pg) <= 3.0 - (served + 1) as f64 + 1e-9 },
            )
            .await;
        }
    }
    // Alone, each instance would have spent its own 3 USD (six calls in all).
    assert_eq!(mock.request_count(), 3);
    a.stop().await;
    b.stop().await;
}

fn quota_left(pg: &TestPg) -> f64 {
    #[derive(diesel::QueryableByName)]
    struct Left {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
        quota_remaining: Option<f64>,
    }
    diesel::sql_query("SELECT quota_remaining FROM api_keys")
        .get_result::<Left>(&mut pg.connect())
        .unwrap()
        .quota_remaining
        .unwrap()
}

/// With plenty of quota left, instances take requests in small leases (fewer queries); what a
/// lease holds unused goes back when idle, and at shutdown: nothing is lost, nothing overdrawn.
#[actix_web::test]
async fn quota_leases_go_back_when_idle_and_at_shutdown() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig::default());
    let a = instance(&pg).await;
    let b = instance(&pg).await;
    a.add_key(
        json!({"provider": "openai", "name": "big", "api_key": SECRET,
        "base_url": mock.openai_base(), "quota_total": 10000, "quota_unit": "requests"}),
    )
    .await;
    eventually(
        Duration::from_secs(2),
        "B serves the key added on A",
        || async { b.state().keys.len() == 1 },
    )
    .await;
    let replies = join_all((0..300).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.chat(chat_body("gpt-4o"))
    }))
    .await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(mock.request_count(), 300);
    // What the instances still hold in their leases goes back after a second without calls.
    eventually(Duration::from_secs(3), "idle leases go back", || async {
        quota_left(&pg) == 10000.0 - 300.0
    })
    .await;
    // A lease taken again, then given back at shutdown.
    assert_eq!(a.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    a.stop().await;
    b.stop().await;
    assert_eq!(quota_left(&pg), 10000.0 - 301.0);
}

#[actix_web::test]
async fn a_throttle_seen_by_one_instance_holds_on_the_other() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig::default());
    let a = instance(&pg).await;
    let b = instance(&pg).await;
    let id = a.add_openai_key("main", &mock).await as i32;
    eventually(
        Duration::from_secs(2),
        "B serves the key added on A",
        || async { b.state().keys.len() == 1 },
    )
    .await;
    mock.set_config(MockConfig {
        behaviour: Behaviour::Status(429),
        extra_headers: vec![("retry-after".into(), "30".into())],
        ..MockConfig::default()
    });
    assert_eq!(
        a.chat(chat_body("gpt-4o")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    eventually(Duration::from_secs(1), "B holds the key throttled", || async {
        b.state().board.get(id).is_some_and(|bid| {
            matches!(bid.health, api_proxy::routing::Health::Throttled { until_ms } if until_ms > api_proxy::db::now_ms() + 20_000)
        })
    })
    .await;
    let before = mock.request_count();
    assert_ne!(b.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    assert_eq!(
        mock.request_count(),
        before,
        "B did not try the throttled key"
    );
    a.stop().await;
    b.stop().await;
}

/// The call-log insert stores awkward text, floats at the edges of `f64` and the integer extremes
/// on PostgreSQL exactly as sent.
#[test]
fn call_logs_with_awkward_values_are_stored_exactly() {
    use api_proxy::db::call_logs::{self, CallLogRow, NewCallLog};
    use api_proxy::db::schema::call_logs as table;
    use diesel::{Connection, ExpressionMethods, QueryDsl, SelectableHelper};

    let pg = TestPg::new();
    let db =
        api_proxy::db::Db::open_postgres(&api_proxy::crypto::Secret::new(pg.url.clone())).unwrap();
    let texts = [
        "quote \" backslash \\ slash /",
        "tab\tnewline\ncarriage\rbell\u{7}",
        "ünïcödé 漢字 🦀 \u{2028}",
        "",
    ];
    let floats = [
        0.1 + 0.2,
        1.0 / 3.0,
        5e-324,
        1.797_693_134_862_315_7e308,
        3e-7,
    ];
    let rows: Vec<NewCallLog> = (0..20)
        .map(|n| NewCallLog {
            created_at: if n % 2 == 0 { i64::MAX } else { i64::MIN },
            request_id: texts[n % texts.len()].to_owned(),
            key_id: Some(i32::MIN + n as i32),
            key_name: (n % 3 == 0).then(|| texts[(n + 1) % texts.len()].to_owned()),
            provider: Some("openai".into()),
            model: "gpt-4o".into(),
            endpoint: "/v1/chat/completions".into(),
            stream: n % 2 == 0,
            status: 200 + n as i32,
            error: (n % 4 == 1).then(|| texts[(n + 2) % texts.len()].to_owned()),
            latency_ms: n as i64,
            ttfb_ms: (n % 3 == 1).then_some(n as i64),
            prompt_tokens: i64::MAX - n as i64,
            completion_tokens: n as i64,
            cached_tokens: 0,
            total_tokens: n as i64,
            cost_usd: floats[n % floats.len()],
            attempts: 1,
            client_key_id: (n % 5 == 0).then_some(i32::MAX),
            attempt_trail: (n % 2 == 1).then(|| r#"[{"key":"a","status":502}]"#.to_owned()),
            price_input: Some(floats[(n + 1) % floats.len()]),
            price_output: None,
            price_cached_input: (n % 2 == 0).then_some(floats[(n + 2) % floats.len()]),
            price_cache_write: None,
            price_per_call: Some(0.0),
        })
        .collect();
    let mut conn = db.conn().unwrap();
    conn.transaction::<_, api_proxy::db::DbError, _>(|c| call_logs::insert_batch(c, &rows))
        .unwrap();
    let mut pg_conn = pg.connect();
    let stored: Vec<CallLogRow> = table::table
        .select(CallLogRow::as_select())
        .order(table::id.asc())
        .load(&mut pg_conn)
        .unwrap();
    assert_eq!(stored.len(), rows.len());
    for (sent, got) in rows.iter().zip(stored) {
        assert_eq!(got.cost_usd.to_bits(), sent.cost_usd.to_bits(), "{sent:?}");
        assert_eq!(&NewCallLog::from(got), sent);
    }
}

/// `rotate-master-key` with `DATABASE_URL` re-encrypts the fleet's stored keys in PostgreSQL:
/// afterwards an instance with the old key refuses to start and one with the new key serves.
#[actix_web::test]
async fn the_master_key_of_a_fleet_is_rotated_in_postgres() {
    let pg = TestPg::new();
    let mock = MockUpstream::start(MockConfig::default());
    let app = instance(&pg).await;
    app.add_openai_key("main", &mock).await;
    app.stop().await;

    let dir = tempfile::TempDir::new().unwrap();
    let old = [("DATABASE_URL", pg.url.as_str()), ("ENCRYPTION_KEY", KEY_A)];
    let done = api_proxy::cli::rotate_master_key(
        &config_for(&dir, &old),
        Some(api_proxy::crypto::Secret::new(KEY_B)),
    )
    .unwrap();
    assert!(done.contains("set ENCRYPTION_KEY"), "{done}");

    let refused = api_proxy::app::start(config_for(&dir, &old))
        .await
        .err()
        .expect("the old key must not start")
        .to_string();
    assert!(refused.contains("master key does not match"), "{refused}");
    let app = TestApp::start_with(&[("DATABASE_URL", &pg.url), ("ENCRYPTION_KEY", KEY_B)]).await;
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        mock.received().pop().unwrap().header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    app.stop().await;
}
