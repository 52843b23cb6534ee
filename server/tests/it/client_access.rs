//! Who may use `/v1` without a client key: only a request from this machine that no forwarder
//! touched, and only while api-proxy is not opened up to other hosts or pages. Whatever reaches
//! the loopback listener through nginx, cloudflared, ngrok or `ssh -R` needs a client key.

use actix_web::http::StatusCode;
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::json;

use crate::support::*;

async fn chat_with(app: &TestApp, headers: &[(&str, &str)]) -> StatusCode {
    let mut req = app.http.post(format!("{}/v1/chat/completions", app.base));
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    req.send_json(&chat_body("gpt-4o")).await.unwrap().status()
}

#[actix_web::test]
async fn forwarded_requests_need_a_client_key_even_on_loopback() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    assert_eq!(chat_with(&app, &[]).await, StatusCode::OK, "a local tool");
    for (name, value) in [
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9;proto=https"),
        ("x-real-ip", "203.0.113.9"),
        ("via", "1.1 cloudflared"),
    ] {
        assert_eq!(
            chat_with(&app, &[(name, value)]).await,
            StatusCode::UNAUTHORIZED,
            "{name}"
        );
        let models = app
            .http
            .get(format!("{}/v1/models", app.base))
            .insert_header((name, value))
            .send()
            .await
            .unwrap();
        assert_eq!(
            models.status(),
            StatusCode::UNAUTHORIZED,
            "{name}: /v1/models"
        );
    }
    // With a client key, forwarded requests are served.
    let key = app
        .admin("POST", "/api/client_keys", Some(json!({"name": "tunnel"})))
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = format!("Bearer {key}");
    let forwarded = [
        ("x-forwarded-for", "203.0.113.9"),
        ("authorization", bearer.as_str()),
    ];
    assert_eq!(chat_with(&app, &forwarded).await, StatusCode::OK);
    assert_eq!(mock.request_count(), 2);
    app.stop().await;
}

#[actix_web::test]
async fn no_exemption_once_other_hosts_or_pages_are_allowed() {
    let mock = MockUpstream::start(MockConfig::default());
    for opened in [
        ("ALLOWED_HOSTS", "proxy.lan"),
        ("CORS_ORIGINS", "http://localhost:5173"),
    ] {
        let app = TestApp::start_with(&[opened]).await;
        app.add_openai_key("main", &mock).await;
        assert_eq!(
            chat_with(&app, &[]).await,
            StatusCode::UNAUTHORIZED,
            "{opened:?}"
        );
        app.stop().await;
    }
    assert_eq!(mock.request_count(), 0);
}
