//! A web page cannot spend the keys or drive the admin API: the exact requests a browser sends
//! for a page on another site (a `no-cors` fetch with a Blob body from a sandboxed frame, a form,
//! a same-site page on another port) are refused before anything reaches an upstream, while
//! the dashboard's own same-origin requests and a followed link still work.

use actix_web::http::StatusCode;
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::json;

use crate::support::*;

const PROXY_ROUTES: [&str; 5] = [
    "/v1/chat/completions",
    "/api/v1/chat/completions",
    "/v1/embeddings",
    "/api/chat/completions",
    "/api/proxy/openai/chat/completions",
];

/// Sends `body` (no `Content-Type` unless given) to `path` with `headers`.
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> StatusCode {
    let mut req = app
        .http
        .request(method.parse().unwrap(), format!("{}{path}", app.base));
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    req.send_body(body.to_owned()).await.unwrap().status()
}

fn chat_json() -> String {
    chat_body("gpt-4o").to_string()
}

#[actix_web::test]
async fn the_no_cors_blob_fetch_of_a_sandboxed_frame_is_refused() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("main", &mock).await;
    // What Chromium sends for `fetch(url, {method: 'POST', mode: 'no-cors', body: new Blob([json])})`
    // from `<iframe sandbox="allow-scripts">` on another site: an opaque origin, no content type.
    let browser = [
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "no-cors"),
        ("sec-fetch-dest", "empty"),
        ("accept", "*/*"),
    ];
    for path in PROXY_ROUTES {
        assert_eq!(
            send(&app, "POST", path, &browser, &chat_json()).await,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // Each defence holds by itself.
    let json = ("content-type", "application/json");
    for path in PROXY_ROUTES {
        // `Origin: null` alone, even with a JSON body.
        let opaque = send(
            &app,
            "POST",
            path,
            &[("origin", "null"), json],
            &chat_json(),
        )
        .await;
        assert_eq!(opaque, StatusCode::FORBIDDEN, "{path}: Origin null");
        // `Sec-Fetch-Site` alone: the browser sends it where it sends no `Origin`.
        for site in ["cross-site", "same-site"] {
            let headers = [("sec-fetch-site", site), json];
            let fetched = send(&app, "POST", path, &headers, &chat_json()).await;
            assert_eq!(fetched, StatusCode::FORBIDDEN, "{path}: {site}");
        }
        // A body that is not declared JSON, whatever else the request says.
        for content_type in [
            None,
            Some("text/plain;charset=UTF-8"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let headers: Vec<(&str, &str)> = content_type
                .map(|t| ("content-type", t))
                .into_iter()
                .collect();
            let status = send(&app, "POST", path, &headers, &chat_json()).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path}: {content_type:?}"
            );
        }
    }
    assert_eq!(mock.request_count(), 0, "nothing reached the upstream");

    // The dashboard's own requests and local tools still work.
    let port = app.base.rsplit(':').next().unwrap();
    let same_origin = format!("http://127.0.0.1:{port}");
    let own = [
        ("origin", same_origin.as_str()),
        ("sec-fetch-site", "same-origin"),
        ("sec-fetch-mode", "cors"),
        json,
    ];
    assert_eq!(
        send(&app, "POST", "/v1/chat/completions", &own, &chat_json()).await,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, "POST", "/v1/chat/completions", &[json], &chat_json()).await,
        StatusCode::OK
    );
    // A link to the dashboard followed from another site opens it.
    let followed = [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "navigate"),
    ];
    assert_eq!(send(&app, "GET", "/", &followed, "").await, StatusCode::OK);
    assert_eq!(mock.request_count(), 2);
    app.stop().await;
}

#[actix_web::test]
async fn an_allowed_origin_may_call_cross_site() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start_with(&[("CORS_ORIGINS", "http://localhost:5173")]).await;
    app.add_openai_key("main", &mock).await;
    let key = app
        .admin("POST", "/api/client_keys", Some(json!({"name": "web"})))
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = format!("Bearer {key}");
    let headers = [
        ("origin", "http://localhost:5173"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "cors"),
        ("content-type", "application/json"),
        ("authorization", bearer.as_str()),
    ];
    assert_eq!(
        send(&app, "POST", "/v1/chat/completions", &headers, &chat_json()).await,
        StatusCode::OK
    );
    // Another site is still refused, and `*` would not admit the opaque origin either.
    let other = [
        ("origin", "https://attacker.example"),
        ("content-type", "application/json"),
    ];
    assert_eq!(
        send(&app, "POST", "/v1/chat/completions", &other, &chat_json()).await,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[actix_web::test]
async fn admin_writes_take_json_only() {
    let app = TestApp::start().await;
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let token = ("authorization", auth.as_str());
    for (method, path, body) in [
        (
            "POST",
            "/api/keys",
            r#"{"provider":"openai","name":"k","api_key":"sk-0123456789"}"#,
        ),
        ("PATCH", "/api/keys/1", r#"{"name":"k2"}"#),
        ("PUT", "/api/settings", r#"{"max_attempts":5}"#),
        ("POST", "/api/client_keys", r#"{"name":"laptop"}"#),
    ] {
        for content_type in [None, Some("text/plain")] {
            let mut headers = vec![token];
            headers.extend(content_type.map(|t| ("content-type", t)));
            let status = send(&app, method, path, &headers, body).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {path} {content_type:?}"
            );
        }
    }
    assert_eq!(
        app.admin("GET", "/api/settings", None).await.body["max_attempts"],
        3
    );
    // Writes without a body need no content type.
    let created = app
        .add_key(json!({"provider": "openai", "name": "k", "api_key": SECRET}))
        .await;
    assert_eq!(
        send(
            &app,
            "DELETE",
            &format!("/api/keys/{created}"),
            &[token],
            ""
        )
        .await,
        StatusCode::NO_CONTENT
    );
    app.stop().await;
}
