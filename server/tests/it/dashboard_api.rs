//! The endpoints the dashboard is built on: time series from rollups, log details and filters,
//! "test this key", the live websocket, and serving the built-in dashboard.

use std::time::Duration;

use actix_web::http::StatusCode;
use futures_util::StreamExt;
use mock_upstream::{Behaviour, MockConfig, MockUpstream, MOCK_REPLY};
use serde_json::Value;

use crate::support::*;

#[actix_web::test]
async fn time_series_and_stats_come_from_rollups() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    for _ in 0..3 {
        app.chat(chat_body("gpt-4o")).await;
    }
    let hour = app
        .admin("GET", "/api/stats/timeseries?range=hour", None)
        .await;
    assert_eq!(hour.status, StatusCode::OK, "{}", hour.text);
    assert_eq!(hour.body["bucket_ms"], 60_000);
    let points = hour.body["points"].as_array().unwrap();
    assert_eq!(points.len(), 60);
    assert_eq!(
        points
            .iter()
            .map(|p| p["calls"].as_i64().unwrap())
            .sum::<i64>(),
        3
    );
    let busy = points
        .iter()
        .find(|p| p["calls"].as_i64().unwrap() > 0)
        .unwrap();
    assert!(busy["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(busy["latency_p50_ms"].is_i64());
    let day = app
        .admin("GET", "/api/stats/timeseries?range=day", None)
        .await;
    assert_eq!(day.body["points"].as_array().unwrap().len(), 24);
    let month = app
        .admin("GET", "/api/stats/timeseries?range=month", None)
        .await;
    assert_eq!(month.body["points"].as_array().unwrap().len(), 30);
    assert_eq!(
        app.admin("GET", "/api/stats/timeseries?range=year", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let stats = app.admin("GET", "/api/stats", None).await;
    assert_eq!(stats.body["today"]["calls"], 3);
    assert_eq!(stats.body["totals"]["completion_tokens"], 15);
    app.stop().await;
}

#[actix_web::test]
async fn log_details_and_filters() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    app.chat(chat_body("gpt-4o")).await;
    let list = app.logs().await;
    let id = list[0]["id"].as_i64().unwrap();
    let one = app.admin("GET", &format!("/api/logs/{id}"), None).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["request_id"], list[0]["request_id"]);
    assert_eq!(one.body["attempt_trail"][0]["key_name"], "main");
    assert_eq!(
        app.admin("GET", "/api/logs/999999", None).await.status,
        StatusCode::NOT_FOUND
    );

    let created = list[0]["created_at"].as_i64().unwrap();
    let in_window = app
        .admin(
            "GET",
            &format!("/api/logs?since={created}&until={}", created + 1),
            None,
        )
        .await;
    assert_eq!(in_window.body["data"].as_array().unwrap().len(), 1);
    let later = app
        .admin("GET", &format!("/api/logs?since={}", created + 1), None)
        .await;
    assert_eq!(later.body["data"].as_array().unwrap().len(), 0);
    let openai = app.admin("GET", "/api/logs?provider=openai", None).await;
    assert_eq!(openai.body["data"].as_array().unwrap().len(), 1);
    let azure = app.admin("GET", "/api/logs?provider=azure", None).await;
    assert_eq!(azure.body["data"].as_array().unwrap().len(), 0);
    app.stop().await;
}

#[actix_web::test]
async fn testing_a_key_makes_a_real_call_and_revives_it() {
    let mock = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(401),
        ..Default::default()
    });
    let app = TestApp::start().await;
    let id = app.add_openai_key("main", &mock).await;
    let failed = app
        .admin("POST", &format!("/api/keys/{id}/test"), None)
        .await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.text);
    assert_eq!(failed.body["ok"], false);
    // The provider rejected the stored key: a gateway error naming it, not the caller's 401.
    assert_eq!(failed.body["status"], 502);
    assert!(
        failed.body["message"]
            .as_str()
            .unwrap()
            .contains("rejected the key `main`"),
        "{}",
        failed.text
    );
    assert_eq!(
        app.admin("GET", &format!("/api/keys/{id}"), None)
            .await
            .body["state"],
        "auth_dead"
    );

    // Fixed at the provider: the test goes through even though the key is marked dead, and revives it.
    mock.set_behaviour(Behaviour::Normal);
    let ok = app
        .admin("POST", &format!("/api/keys/{id}/test"), None)
        .await;
    assert_eq!(ok.body["ok"], true, "{}", ok.text);
    assert_eq!(ok.body["message"], MOCK_REPLY);
    assert_eq!(ok.body["model"], "gpt-4o");
    assert_eq!(
        app.admin("GET", &format!("/api/keys/{id}"), None)
            .await
            .body["state"],
        "active"
    );
    assert_eq!(mock.received().len(), 2);
    assert_eq!(
        app.admin("POST", "/api/keys/12345/test", None).await.status,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

async fn next_event(
    conn: &mut actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>,
    kind: &str,
) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), conn.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} event"))
            .expect("socket open")
            .expect("frame");
        if let awc::ws::Frame::Text(bytes) = frame {
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            if v["type"] == kind {
                return v;
            }
        }
    }
}

#[actix_web::test]
async fn the_live_feed_pushes_calls_key_states_and_snapshots() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let id = app.add_openai_key("main", &mock).await;
    let ws_url = format!("{}/api/live", app.base.replace("http://", "ws://"));

    let refused = awc::Client::new()
        .ws(format!("{ws_url}?ticket=wrong"))
        .connect()
        .await;
    assert!(refused.is_err(), "a wrong ticket is refused");

    // As the dashboard does: a ticket from an authenticated POST, then the websocket.
    let ticket = app.admin("POST", "/api/live/ticket", None).await;
    assert_eq!(ticket.status, StatusCode::OK, "{}", ticket.text);
    let ticket = ticket.body["ticket"].as_str().unwrap().to_owned();
    let (_, mut conn) = awc::Client::new()
        .ws(format!("{ws_url}?ticket={ticket}"))
        .connect()
        .await
        .expect("websocket connects");
    let hello = next_event(&mut conn, "hello").await;
    assert_eq!(hello["version"], env!("CARGO_PKG_VERSION"));

    app.chat(chat_body("gpt-4o")).await;
    let call = next_event(&mut conn, "call").await;
    assert_eq!(call["status"], 200);
    assert_eq!(call["key_name"], "main");
    let snapshot = next_event(&mut conn, "snapshot").await;
    assert!(snapshot["calls_total"].as_i64().unwrap() >= 1);
    assert_eq!(snapshot["success_rate"], 1.0);

    mock.set_behaviour(Behaviour::Status(401));
    app.chat(chat_body("gpt-4o")).await;
    let change = next_event(&mut conn, "key_state").await;
    assert_eq!(change["key_id"], id);
    assert_eq!(change["state"], "auth_dead");
    // A graceful stop closes the open feed instead of waiting for it (SHUTDOWN_TIMEOUT_SECS is 5).
    tokio::time::timeout(Duration::from_secs(3), app.stop())
        .await
        .expect("the stop does not wait on the websocket");
    // Events already on their way may come first; then the server closes the feed.
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match conn.next().await {
                Some(Ok(awc::ws::Frame::Text(_) | awc::ws::Frame::Ping(_))) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the feed is closed");
    assert!(
        matches!(closed, Some(Ok(awc::ws::Frame::Close(_))) | None),
        "{closed:?}"
    );
}

#[actix_web::test]
async fn without_a_built_dashboard_the_root_says_how_to_build_it() {
    let app = TestApp::start().await;
    let root = app.request("GET", "/", None, None).await;
    assert_eq!(root.status, StatusCode::OK);
    if api_proxy::api::dashboard::is_built() {
        assert!(
            root.text.contains("<html") || root.text.contains("<!DOCTYPE"),
            "{}",
            root.text
        );
        let page = app.request("GET", "/keys", None, None).await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "client-side routes get the app"
        );
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
    } else {
        assert!(root.text.contains("build-dashboard.sh"), "{}", root.text);
        assert_eq!(
            app.request("GET", "/keys", None, None).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let head = app
        .http
        .head(format!("{}/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.status(),
        StatusCode::OK,
        "HEAD / is answered like GET /"
    );
    // API paths never fall through to the dashboard.
    let api = app.request("GET", "/api/nope", None, None).await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    api.error_code();
    app.stop().await;
}
