//! Admin authentication resists guessing and leaks nowhere: a short `ADMIN_TOKEN` stops start-up,
//! failed authentications are throttled per address (the websocket included), and the live feed
//! opens with a single-use ticket instead of a token in the URL.

use std::sync::Arc;

use actix_web::http::StatusCode;
use api_proxy::api::auth_throttle::{MAX_FAILURES, WINDOW_MS};
use api_proxy::api::live_tickets::TICKET_TTL_MS;
use api_proxy::clock::Clock;
use tempfile::TempDir;

use crate::support::*;

const T0: i64 = 1_800_000_000_000;
const WRONG: &str = "test-admin-token-0123456789abcdeX";

#[actix_web::test]
async fn a_short_admin_token_stops_start_up() {
    let dir = Arc::new(TempDir::new().unwrap());
    let err = api_proxy::app::start(config_for(&dir, &[("ADMIN_TOKEN", "hunter2-hunter2")]))
        .await
        .err()
        .expect("a 15-character token must not start")
        .to_string();
    assert!(err.contains("ADMIN_TOKEN is 15 characters long"), "{err}");
    assert!(err.contains("at least 16"), "{err}");
    let ok = TestApp::start_in(dir, &[("ADMIN_TOKEN", "hunter2-hunter22")]).await;
    ok.stop().await;
}

async fn ws_status(app: &TestApp, query: &str, token: Option<&str>) -> Option<StatusCode> {
    let url = format!("{}/api/live{query}", app.base.replace("http://", "ws://"));
    let mut ws = awc::Client::new().ws(url);
    if let Some(t) = token {
        ws = ws.bearer_auth(t);
    }
    match ws.connect().await {
        Ok((response, _)) => Some(response.status()),
        Err(awc::error::WsClientError::InvalidResponseStatus(status)) => Some(status),
        Err(_) => None,
    }
}

#[actix_web::test]
async fn failed_authentications_are_throttled_per_address() {
    let clock = Clock::manual(T0);
    let app = TestApp::start_with_clock(clock.clone()).await;
    // Successes never count.
    for _ in 0..2 * MAX_FAILURES {
        assert_eq!(
            app.admin("GET", "/api/keys", None).await.status,
            StatusCode::OK
        );
    }
    for _ in 0..MAX_FAILURES {
        let r = app.request("GET", "/api/keys", Some(WRONG), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // The 11th attempt within the minute is not even checked: the right token gets 429 too.
    for token in [Some(WRONG), Some(ADMIN_TOKEN), None] {
        let r = app.request("GET", "/api/keys", token, None).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{token:?}");
        assert_eq!(r.error_code(), Some("too_many_failed_authentications"));
        assert_eq!(r.header("retry-after"), Some("60"));
    }
    let r = app.admin("POST", "/api/live/ticket", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // The websocket too, with the token or a ticket.
    assert_eq!(
        ws_status(&app, "", Some(ADMIN_TOKEN)).await,
        Some(StatusCode::TOO_MANY_REQUESTS)
    );
    assert_eq!(
        ws_status(&app, "?ticket=apx-live-guess", None).await,
        Some(StatusCode::TOO_MANY_REQUESTS)
    );
    // Proxied calls are not admin requests.
    assert_ne!(
        app.chat(chat_body("gpt-4o")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // The description says so for every admin operation, and only for those.
    let spec = app
        .request("GET", "/api/openapi.json", None, None)
        .await
        .body;
    let throttled = |method: &str, path: &str| {
        spec["paths"][path][method]["responses"]["429"]["$ref"]
            == "#/components/responses/TooManyFailedAuthentications"
    };
    assert!(throttled("get", "/api/keys") && throttled("patch", "/api/keys/{id}"));
    assert!(throttled("get", "/api/live") && throttled("post", "/api/live/ticket"));
    assert!(!throttled("get", "/api/health") && !throttled("post", "/v1/chat/completions"));

    // A minute after the first failure, the address may try again.
    clock.advance(WINDOW_MS / 2);
    assert_eq!(
        app.admin("GET", "/api/keys", None)
            .await
            .header("retry-after"),
        Some("30")
    );
    clock.advance(WINDOW_MS / 2);
    assert_eq!(
        app.admin("GET", "/api/keys", None).await.status,
        StatusCode::OK
    );
    app.stop().await;
}

#[actix_web::test]
async fn websocket_failures_count_towards_the_throttle() {
    let clock = Clock::manual(T0);
    let app = TestApp::start_with_clock(clock).await;
    for i in 0..MAX_FAILURES {
        let status = ws_status(&app, &format!("?ticket=apx-live-guess-{i}"), None).await;
        assert_eq!(status, Some(StatusCode::UNAUTHORIZED));
    }
    assert_eq!(
        app.admin("GET", "/api/keys", None).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}

#[actix_web::test]
async fn the_live_feed_opens_with_a_single_use_ticket_never_the_token_in_the_url() {
    let clock = Clock::manual(T0);
    let app = TestApp::start_with_clock(clock.clone()).await;
    // The token in the URL is refused outright, even the right one.
    assert_eq!(
        ws_status(&app, &format!("?token={ADMIN_TOKEN}"), None).await,
        Some(StatusCode::BAD_REQUEST)
    );
    let r = app
        .request("GET", &format!("/api/live?token={ADMIN_TOKEN}"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["param"], "token");

    let ticket = || async {
        let r = app.admin("POST", "/api/live/ticket", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["expires_at"], T0 + TICKET_TTL_MS);
        r.body["ticket"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        app.request("POST", "/api/live/ticket", None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "a ticket needs the admin token"
    );
    let first = ticket().await;
    assert_eq!(
        ws_status(&app, &format!("?ticket={first}"), None).await,
        Some(StatusCode::SWITCHING_PROTOCOLS)
    );
    assert_eq!(
        ws_status(&app, &format!("?ticket={first}"), None).await,
        Some(StatusCode::UNAUTHORIZED),
        "single use"
    );
    let late = ticket().await;
    clock.advance(TICKET_TTL_MS);
    assert_eq!(
        ws_status(&app, &format!("?ticket={late}"), None).await,
        Some(StatusCode::UNAUTHORIZED),
        "expired"
    );
    // Clients that can send headers use the token as on any admin call.
    assert_eq!(
        ws_status(&app, "", Some(ADMIN_TOKEN)).await,
        Some(StatusCode::SWITCHING_PROTOCOLS)
    );
    app.stop().await;
}
