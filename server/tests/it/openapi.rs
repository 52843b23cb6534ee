//! `GET /api/openapi.json`: the description is served without a token, is OpenAPI 3, lists the
//! API, and real answers carry every property it marks as required, so the description cannot
//! drift from what the handlers send. (`tests/e2e/test_openapi_schemathesis.py` fuzzes the server
//! against it.)

use actix_web::http::StatusCode;
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};

use crate::support::*;

async fn description(app: &TestApp) -> Value {
    let r = app.request("GET", "/api/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.body
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("a local $ref");
            resolve(spec, spec.pointer(pointer).expect("the $ref resolves"))
        }
        None => schema,
    }
}

/// Paths (`$.data[0].usage.cost_usd`) of the required properties that `value` lacks, at any depth.
fn missing_required(spec: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(spec, schema);
    let mut missing = Vec::new();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        missing.extend(missing_required(spec, part, value, at));
    }
    if let Some(object) = value.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                missing.push(format!("{at}.{name}"));
            }
        }
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(inner) = object.get(name) {
                missing.extend(missing_required(
                    spec,
                    property,
                    inner,
                    &format!("{at}.{name}"),
                ));
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, inner) in array.iter().enumerate() {
            missing.extend(missing_required(spec, items, inner, &format!("{at}[{i}]")));
        }
    }
    missing
}

/// The JSON schema of `method path`'s answer with `status` (a code or `default`).
fn response_schema<'a>(spec: &'a Value, method: &str, path: &str, status: &str) -> &'a Value {
    let operation = &spec["paths"][path][method];
    assert!(operation.is_object(), "{method} {path} is not described");
    let response = resolve(spec, &operation["responses"][status]);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} describes no JSON body for {status}"
    );
    schema
}

#[actix_web::test]
async fn the_description_is_public_openapi_3_and_lists_the_api() {
    let app = TestApp::start().await;
    let spec = description(&app).await;
    assert!(
        spec["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        spec["openapi"]
    );
    assert_eq!(spec["info"]["title"], "api-proxy");
    for (path, method) in [
        ("/v1/chat/completions", "post"),
        ("/v1/embeddings", "post"),
        ("/v1/responses", "post"),
        ("/v1/models", "get"),
        ("/api/health", "get"),
        ("/api/keys", "get"),
        ("/api/keys", "post"),
        ("/api/keys/{id}", "patch"),
        ("/api/keys/{id}", "delete"),
        ("/api/keys/{id}/test", "post"),
        ("/api/stats", "get"),
        ("/api/stats/timeseries", "get"),
        ("/api/logs", "get"),
        ("/api/logs/{id}", "get"),
        ("/api/route", "get"),
        ("/api/runtime", "get"),
        ("/api/providers", "get"),
        ("/api/providers/capabilities", "get"),
        ("/api/settings", "get"),
        ("/api/settings", "put"),
        ("/api/client_keys", "post"),
        ("/api/client_keys/{id}", "delete"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} is missing"
        );
    }

    // Every reference resolves: a schema used only by a response must be registered too.
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(refs.len() > 50, "only {} references", refs.len());
    for reference in refs {
        let target = reference.trim_start_matches('#');
        assert!(
            spec.pointer(target).is_some(),
            "{reference} does not resolve"
        );
    }

    let schemes = &spec["components"]["securitySchemes"];
    for scheme in ["admin_token", "client_key"] {
        assert_eq!(schemes[scheme]["scheme"], "bearer", "{scheme}");
    }
    // Admin by default; health is open; `/v1` takes a client key or, on loopback, nothing.
    assert_eq!(spec["security"], json!([{"admin_token": []}]));
    assert_eq!(spec["paths"]["/api/health"]["get"]["security"], json!([{}]));
    assert_eq!(
        spec["paths"]["/v1/chat/completions"]["post"]["security"],
        json!([{"client_key": []}, {}])
    );
    assert_eq!(
        spec["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/OpenAiChatCompletionRequest"
    );
    let chat_request = &spec["components"]["schemas"]["OpenAiChatCompletionRequest"];
    assert_eq!(chat_request["required"], json!(["model", "messages"]));

    // Every error status is answered with the OpenAI-shaped envelope, and Anthropic's surface
    // with Anthropic's.
    let envelope = &spec["components"]["schemas"]["ErrorEnvelope"];
    assert_eq!(envelope["required"], json!(["error"]));
    let detail = resolve(&spec, &envelope["properties"]["error"]);
    assert_eq!(detail["required"], json!(["message", "type"]));
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for status in operation["responses"].as_object().unwrap().keys() {
                if status.starts_with('4') || status.starts_with('5') || status == "default" {
                    if path == "/api/health" {
                        continue; // 503 `degraded` is the health report itself
                    }
                    let schema = response_schema(&spec, method, path, status);
                    let envelope = if path.starts_with("/v1/messages") {
                        "#/components/schemas/AnthropicErrorEnvelope"
                    } else {
                        "#/components/schemas/ErrorEnvelope"
                    };
                    assert_eq!(schema["$ref"], envelope, "{method} {path} {status}");
                }
            }
        }
    }
}

#[actix_web::test]
async fn answers_carry_every_property_the_description_requires() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    let spec = description(&app).await;
    let key = app.add_openai_key("main", &mock).await;
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    let log = app.logs().await[0]["id"].as_i64().unwrap();

    for (method, path, described, status) in [
        ("GET", "/api/keys".to_owned(), "/api/keys", 200),
        ("GET", format!("/api/keys/{key}"), "/api/keys/{id}", 200),
        ("GET", "/api/settings".to_owned(), "/api/settings", 200),
        ("GET", "/api/runtime".to_owned(), "/api/runtime", 200),
        ("GET", "/api/stats".to_owned(), "/api/stats", 200),
        (
            "GET",
            "/api/stats/timeseries?range=day".to_owned(),
            "/api/stats/timeseries",
            200,
        ),
        ("GET", "/api/logs".to_owned(), "/api/logs", 200),
        ("GET", format!("/api/logs/{log}"), "/api/logs/{id}", 200),
        (
            "GET",
            "/api/route?model=gpt-4o".to_owned(),
            "/api/route",
            200,
        ),
        ("GET", "/api/providers".to_owned(), "/api/providers", 200),
        (
            "GET",
            "/api/providers/capabilities".to_owned(),
            "/api/providers/capabilities",
            200,
        ),
        (
            "GET",
            "/api/client_keys".to_owned(),
            "/api/client_keys",
            200,
        ),
        ("GET", "/api/health".to_owned(), "/api/health", 200),
        ("GET", "/v1/models".to_owned(), "/v1/models", 200),
        ("GET", "/api/keys/999".to_owned(), "/api/keys/{id}", 404),
    ] {
        let r = app.admin(method, &path, None).await;
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {}", r.text);
        let schema = response_schema(
            &spec,
            &method.to_lowercase(),
            described,
            &status.to_string(),
        );
        let missing = missing_required(&spec, schema, &r.body, "$");
        assert!(
            missing.is_empty(),
            "{method} {path} lacks {missing:?}: {}",
            r.text
        );
    }

    // The settings the API sends are exactly the ones it describes, all of them required.
    let settings = app.admin("GET", "/api/settings", None).await.body;
    let schema = resolve(&spec, response_schema(&spec, "get", "/api/settings", "200"));
    let mut described: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut sent: Vec<&str> = settings
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    described.sort_unstable();
    sent.sort_unstable();
    assert_eq!(described, sent);
}

/// Every documented path answers a method it does not have with a JSON 405 whose `Allow` lists
/// exactly the methods the description documents for it (so the two cannot drift apart).
#[actix_web::test]
async fn other_methods_on_a_documented_path_get_405_with_the_documented_allow() {
    let app = TestApp::start().await;
    let spec = description(&app).await;
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        documented.sort();
        let concrete = path.replace("{id}", "1").replace("{provider}", "openai");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if documented.iter().any(|m| m == method) {
                continue;
            }
            let r = app.admin(method, &concrete, None).await;
            assert_eq!(
                r.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {}",
                r.text
            );
            let mut allow: Vec<String> = r
                .header("allow")
                .unwrap_or_else(|| panic!("{method} {path}: no Allow"))
                .split(", ")
                .map(str::to_owned)
                .collect();
            allow.sort();
            assert_eq!(allow, documented, "{method} {path}");
            if path.starts_with("/v1/messages") {
                // Anthropic's surface answers in Anthropic's shape.
                assert_eq!(
                    r.anthropic_error_type(),
                    "invalid_request_error",
                    "{method} {path}"
                );
            } else {
                assert_eq!(
                    r.body["error"]["code"], "method_not_allowed",
                    "{method} {path}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} method/path pairs checked");
    // Unknown paths stay 404, and the server still serves.
    let r = app.admin("DELETE", "/api/nope", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.admin("GET", "/api/keys", None).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// Every `$ref` in `value`.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}
