//! `/v1/messages` (Anthropic's Messages API): passed through to Anthropic keys byte for byte
//! (unknown fields and betas included, thinking signatures intact), translated for OpenAI-format
//! keys both ways, streamed in Anthropic's events, with Anthropic-shaped errors and statuses;
//! `count_tokens` exact from Anthropic and estimated otherwise; the models list in Anthropic's
//! shape.

use actix_web::http::StatusCode;
use mock_upstream::{
    thinking_signature, Behaviour, MockConfig, MockUpstream, MOCK_REPLY, MOCK_THINKING,
    MOCK_TOOL_PREAMBLE, MOCK_TOOL_RESULT_REPLY,
};
use serde_json::{json, Value};

use crate::support::*;

const CLAUDE: &str = "claude-sonnet-4-5";

async fn add_anthropic_key(app: &TestApp, name: &str, mock: &MockUpstream) -> i64 {
    app.add_key(
        json!({"provider": "anthropic", "name": name, "api_key": SECRET,
        "base_url": mock.anthropic_base()}),
    )
    .await
}

fn weather_tool() -> Value {
    json!({"name": "get_weather", "description": "Weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}})
}

/// A request shaped as Claude Code sends one: system blocks with `cache_control`, many tools,
/// extended thinking, `metadata.user_id`, streamed.
fn claude_code_request(model: &str) -> Value {
    let mut tools: Vec<Value> = ["Bash", "Read", "Edit", "Glob", "Grep", "TodoWrite"]
        .iter()
        .map(|name| {
            json!({"name": name, "description": format!("The {name} tool"),
                "input_schema": {"type": "object", "properties": {"arg": {"type": "string"}}}})
        })
        .collect();
    tools.push(weather_tool());
    tools[6]["cache_control"] = json!({"type": "ephemeral"});
    json!({
        "model": model,
        "max_tokens": 32000,
        "stream": true,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": "Work in /home/user/project.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>Be careful.</system-reminder>"},
            {"type": "text", "text": "What files are here?", "cache_control": {"type": "ephemeral"}}
        ]}],
        "tools": tools,
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "metadata": {"user_id": "user_0123_account__session_4567"},
        "temperature": 1
    })
}

#[actix_web::test]
async fn an_anthropic_key_gets_the_request_byte_for_byte_and_its_answer_comes_back_as_is() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    add_anthropic_key(&app, "claude", &mock).await;
    // Fields and a beta api-proxy has never heard of, and a document with citations.
    let body = format!(
        r#"{{"model":"{CLAUDE}","max_tokens":64,"messages":[{{"role":"user","content":[{{"type":"document","source":{{"type":"text","media_type":"text/plain","data":"The sky is blue."}},"citations":{{"enabled":true}}}},{{"type":"text","text":"Say hello","cache_control":{{"type":"ephemeral","ttl":"1h"}}}}]}}],"context_management":{{"edits":[{{"type":"clear_tool_uses_20250919"}}]}},"x_future_field":[1,2.50,"three"]}}"#
    );
    let r = app
        .anthropic_raw(
            "/v1/messages?beta=true",
            body.clone(),
            &[
                ("anthropic-beta", "context-management-2025-06-27"),
                ("anthropic-beta", "brand-new-beta-2099-01-01"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sent = &mock.received()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(
        &sent.raw_body[..],
        body.as_bytes(),
        "forwarded byte for byte"
    );
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("context-management-2025-06-27,brand-new-beta-2099-01-01")
    );
    assert_eq!(sent.header("anthropic-version"), Some(ANTHROPIC_VERSION));
    assert_eq!(
        sent.header("x-api-key"),
        Some(SECRET),
        "the key's secret, not the client's"
    );
    // The answer is the mock's, untouched.
    assert_eq!(r.body["type"], "message");
    assert!(r.body["id"].as_str().unwrap().starts_with("msg_mock"));
    assert_eq!(r.body["content"][0]["text"], MOCK_REPLY);
    assert_eq!(r.body["usage"]["input_tokens"], 12);
    assert_eq!(r.header("x-api-proxy-provider"), Some("anthropic"));
    let cost: f64 = r.header("x-api-proxy-cost").unwrap().parse().unwrap();
    assert!(cost > 0.0);
    let log = &app.logs().await[0];
    assert_eq!(log["endpoint"], "messages");
    assert_eq!(log["model"], CLAUDE);
    assert_eq!(log["prompt_tokens"], 12);
    assert_eq!(log["completion_tokens"], 5);
    assert_eq!(log["status"], 200);
    app.stop().await;
}

#[actix_web::test]
async fn an_alias_changes_only_the_model_of_a_passthrough() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    add_anthropic_key(&app, "claude", &mock).await;
    app.put_settings(json!({"model_aliases": {"fast": CLAUDE}}))
        .await;
    // Under /api/v1 as well.
    let r = app
        .anthropic_raw("/api/v1/messages", messages_body("fast").to_string(), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sent = &mock.received()[0];
    assert_eq!(sent.body, {
        let mut b = messages_body(CLAUDE);
        b["model"] = json!(CLAUDE);
        b
    });
    app.stop().await;
}

#[actix_web::test]
async fn a_passthrough_stream_is_relayed_event_for_event_with_thinking_signed() {
    let mock = MockUpstream::start(MockConfig {
        cached_tokens: 30,
        ..Default::default()
    });
    let app = TestApp::start().await;
    add_anthropic_key(&app, "claude", &mock).await;
    let r = app
        .anthropic_raw(
            "/v1/messages",
            claude_code_request(CLAUDE).to_string(),
            &[("anthropic-beta", "interleaved-thinking-2025-05-14")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events = anthropic_events(&r.text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[..2], ["message_start", "ping"]);
    assert_eq!(names.last(), Some(&"message_stop"));
    // Each event's name is its data's type, as Anthropic sends them.
    assert!(events.iter().all(|(n, d)| d["type"] == n.as_str()));
    let signature = events
        .iter()
        .find(|(_, d)| d["delta"]["type"] == "signature_delta")
        .map(|(_, d)| d["delta"]["signature"].clone())
        .expect("a signature delta");
    assert_eq!(signature, thinking_signature(MOCK_THINKING));
    let log = &app.logs().await[0];
    assert_eq!(log["endpoint"], "messages");
    assert_eq!(log["stream"], true);
    assert_eq!(log["cached_tokens"], 30);
    assert_eq!(log["prompt_tokens"], 12 + 30);
    assert!(log["completion_tokens"].as_i64().unwrap() > 6);
    // The request went up as it came, every tool and cache_control in place.
    let sent = &mock.received()[0];
    assert_eq!(sent.body, claude_code_request(CLAUDE));
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("interleaved-thinking-2025-05-14")
    );
    app.stop().await;
}

#[actix_web::test]
async fn thinking_signatures_survive_the_next_turn_and_tampering_is_refused() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    add_anthropic_key(&app, "claude", &mock).await;
    let mut first = messages_body(CLAUDE);
    first["max_tokens"] = json!(2048);
    first["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let answer = app.messages(first.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["content"][0]["type"], "thinking");
    let mut next = first.clone();
    next["messages"] = json!([
        first["messages"][0],
        {"role": "assistant", "content": answer.body["content"]},
        {"role": "user", "content": "And again"}
    ]);
    let r = app.messages(next.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the signature came back intact: {}",
        r.text
    );

    next["messages"][1]["content"][0]["thinking"] = json!("Something else entirely.");
    let r = app.messages(next).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.anthropic_error_type(), "invalid_request_error");
    assert!(r.text.contains("signature"), "{}", r.text);
    app.stop().await;
}

#[actix_web::test]
async fn an_openai_key_serves_messages_through_translation() {
    let mock = MockUpstream::start(MockConfig {
        cached_tokens: 4,
        ..Default::default()
    });
    let app = TestApp::start().await;
    app.add_openai_key("gpt", &mock).await;
    let r = app
        .messages(json!({"model": "gpt-4o", "max_tokens": 100,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "stop_sequences": ["END"], "temperature": 0.5, "top_k": 5,
            "metadata": {"user_id": "u-1"},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["type"], "message");
    assert_eq!(r.body["role"], "assistant");
    assert_eq!(
        r.body["content"],
        json!([{"type": "text", "text": MOCK_REPLY}])
    );
    assert_eq!(r.body["stop_reason"], "end_turn");
    assert_eq!(
        r.body["usage"],
        json!({"input_tokens": 8, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4, "output_tokens": 5})
    );
    let sent = &mock.received()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.body["messages"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Say hello"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}
        ])
    );
    assert_eq!(sent.body["max_completion_tokens"], 100);
    assert_eq!(sent.body["stop"], json!(["END"]));
    for dropped in ["top_k", "metadata", "system", "anthropic-version"] {
        assert!(sent.body.get(dropped).is_none(), "{dropped} reached OpenAI");
    }
    assert!(
        sent.header("anthropic-version").is_none(),
        "Anthropic's headers are not sent to OpenAI"
    );
    // One call of each surface; the log can be filtered by the one it came in on.
    assert_eq!(app.chat(chat_body("gpt-4o")).await.status, StatusCode::OK);
    let messages = app.admin("GET", "/api/logs?endpoint=messages", None).await;
    let rows = messages.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", messages.text);
    let chat = app
        .admin("GET", "/api/logs?endpoint=chat%2Fcompletions", None)
        .await;
    assert_eq!(
        chat.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        chat.text
    );
    let log = &rows[0];
    assert_eq!(log["endpoint"], "messages");
    assert_eq!(log["provider"], "openai");
    assert_eq!(log["prompt_tokens"], 12);
    assert_eq!(log["cached_tokens"], 4);
    app.stop().await;
}

#[actix_web::test]
async fn a_translated_stream_speaks_anthropic_events_and_a_tool_round_trip_works() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_openai_key("gpt", &mock).await;
    let mut body = messages_body("gpt-4o");
    body["stream"] = json!(true);
    body["tools"] = json!([weather_tool()]);
    body["messages"] = json!([{"role": "user", "content": "Weather in Paris?"}]);
    let r = app.messages(body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let events = anthropic_events(&r.text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ],
        "{}",
        r.text
    );
    let start = &events[1].1["content_block"];
    assert_eq!(start["type"], "tool_use");
    assert_eq!(start["name"], "get_weather");
    let id = start["id"].as_str().unwrap().to_owned();
    let arguments: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(events[6].1["delta"]["stop_reason"], "tool_use");
    assert_eq!(events[6].1["usage"]["output_tokens"], 5);
    assert_eq!(
        mock.received()[0].body["stream_options"],
        json!({"include_usage": true}),
        "usage asked for, to account the call"
    );

    // The tool's result goes back; the answer is the weather.
    body["stream"] = json!(false);
    body["messages"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "sunny"}]}
    ]);
    let r = app.messages(body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["content"][0]["text"], MOCK_TOOL_RESULT_REPLY);
    let sent = &mock.received()[1].body["messages"];
    assert_eq!(sent[1]["tool_calls"][0]["id"], id.as_str());
    assert_eq!(
        sent[2],
        json!({"role": "tool", "content": "sunny", "tool_call_id": id})
    );
    let log = &app.logs().await[1];
    assert_eq!(log["stream"], true);
    assert_eq!(log["completion_tokens"], 5);
    app.stop().await;
}

#[actix_web::test]
async fn reasoning_of_an_openai_format_model_becomes_thinking() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_key(
        json!({"provider": "deepseek", "name": "ds", "api_key": SECRET,
        "base_url": mock.openai_base(), "models": ["deepseek-reasoner"]}),
    )
    .await;
    let r = app.messages(messages_body("deepseek-reasoner")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["content"][0]["type"], "thinking");
    assert_eq!(r.body["content"][0]["thinking"], MOCK_THINKING);
    assert_eq!(r.body["content"][1]["text"], MOCK_REPLY);
    assert_eq!(
        mock.received()[0].body["max_tokens"],
        256,
        "DeepSeek takes max_tokens"
    );

    let mut body = messages_body("deepseek-reasoner");
    body["stream"] = json!(true);
    let r = app.messages(body).await;
    let events = anthropic_events(&r.text);
    assert_eq!(events[1].1["content_block"]["type"], "thinking");
    let thinking: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["thinking"].as_str())
        .collect();
    assert_eq!(thinking, MOCK_THINKING);
    let text: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, MOCK_REPLY);
    app.stop().await;
}

#[actix_web::test]
async fn a_claude_code_request_is_served_both_natively_and_translated() {
    let anthropic = MockUpstream::start(MockConfig::default());
    let openai = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    add_anthropic_key(&app, "claude", &anthropic).await;
    app.add_openai_key("gpt", &openai).await;
    let beta = [(
        "anthropic-beta",
        "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14",
    )];
    let native = app
        .anthropic_raw(
            "/v1/messages",
            claude_code_request(CLAUDE).to_string(),
            &beta,
        )
        .await;
    assert_eq!(native.status, StatusCode::OK, "{}", native.text);
    assert_eq!(native.header("x-api-proxy-provider"), Some("anthropic"));
    // The built-in equivalents send the same request for an OpenAI model to the OpenAI key.
    let translated = app
        .anthropic_raw(
            "/v1/messages",
            claude_code_request("gpt-4.1").to_string(),
            &beta,
        )
        .await;
    assert_eq!(translated.status, StatusCode::OK, "{}", translated.text);
    assert_eq!(translated.header("x-api-proxy-provider"), Some("openai"));
    for r in [&native, &translated] {
        let events = anthropic_events(&r.text);
        assert_eq!(events.first().unwrap().0, "message_start");
        assert_eq!(events.last().unwrap().0, "message_stop");
        let tool = events
            .iter()
            .find(|(_, d)| d["content_block"]["type"] == "tool_use")
            .map(|(_, d)| d["content_block"]["name"].clone());
        assert_eq!(tool, Some(json!("Bash")), "{}", r.text);
    }
    // Anthropic says a few words before calling the tool; the OpenAI mock calls it at once.
    let said: String = anthropic_events(&native.text)
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(said, MOCK_TOOL_PREAMBLE);
    let sent = &openai.received()[0].body;
    assert_eq!(sent["tools"].as_array().unwrap().len(), 7);
    assert_eq!(
        sent["messages"][0]["content"],
        "You are Claude Code, Anthropic's official CLI for Claude.\n\nWork in /home/user/project."
    );
    assert_eq!(
        sent["messages"][1]["content"],
        "<system-reminder>Be careful.</system-reminder>\n\nWhat files are here?"
    );
    app.stop().await;
}

#[actix_web::test]
async fn api_proxys_own_errors_are_anthropic_shaped_with_anthropic_statuses() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start_with(&[("BODY_LIMIT_BYTES", "2048")]).await;
    // No key at all: the model is unknown.
    let r = app.messages(messages_body(CLAUDE)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.anthropic_error_type(), "not_found_error");
    let id = add_anthropic_key(&app, "claude", &mock).await;

    let r = app.anthropic_raw("/v1/messages", "{not json", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.anthropic_error_type(), "invalid_request_error");
    let r = app
        .anthropic_raw("/v1/messages", json!({"model": CLAUDE}).to_string(), &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("messages"));
    let r = app
        .anthropic_raw("/v1/messages", "x".repeat(4096), &[])
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.anthropic_error_type(), "request_too_large");
    let r = app.request("GET", "/v1/messages", None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.anthropic_error_type(), "invalid_request_error");
    assert_eq!(r.header("allow"), Some("POST"));

    // The only key disabled: no key can serve now, which Anthropic's clients see as overloaded.
    app.admin(
        "PATCH",
        &format!("/api/keys/{id}"),
        Some(json!({"enabled": false})),
    )
    .await;
    let r = app.messages(messages_body(CLAUDE)).await;
    assert_eq!(r.status.as_u16(), 529, "{}", r.text);
    assert_eq!(r.anthropic_error_type(), "overloaded_error");
    // The chat surface keeps OpenAI's shape for the same condition.
    let r = app.chat(chat_body(CLAUDE)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), Some("no_available_key"));
    app.stop().await;
}

#[actix_web::test]
async fn client_keys_are_taken_from_x_api_key_or_bearer() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start_with(&[("REQUIRE_CLIENT_KEYS", "true")]).await;
    add_anthropic_key(&app, "claude", &mock).await;
    let created = app
        .admin("POST", "/api/client_keys", Some(json!({"name": "cli"})))
        .await;
    let key = created.body["key"].as_str().unwrap().to_owned();
    let r = app.messages(messages_body(CLAUDE)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.anthropic_error_type(), "authentication_error");
    // Anthropic's SDK sends the key as x-api-key; Claude Code's auth token as a Bearer.
    let mut req = app
        .http
        .post(format!("{}/v1/messages", app.base))
        .insert_header(("x-api-key", key.as_str()))
        .insert_header(("anthropic-version", ANTHROPIC_VERSION));
    let r = req.send_json(&messages_body(CLAUDE)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    req = app
        .http
        .post(format!("{}/v1/messages", app.base))
        .insert_header(("authorization", format!("Bearer {key}")));
    let r = req.send_json(&messages_body(CLAUDE)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        mock.received()[0].header("x-api-key"),
        Some(SECRET),
        "the client's key never reaches the provider"
    );
    app.stop().await;
}

#[actix_web::test]
async fn upstream_errors_reach_messages_clients_in_anthropics_words() {
    let anthropic = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(529),
        ..Default::default()
    });
    let app = TestApp::start().await;
    add_anthropic_key(&app, "claude", &anthropic).await;
    // Passthrough: Anthropic's own error body and status, as sent.
    let r = app.messages(messages_body(CLAUDE)).await;
    assert_eq!(r.status.as_u16(), 529);
    assert_eq!(r.anthropic_error_type(), "overloaded_error");
    assert!(r.body["request_id"]
        .as_str()
        .unwrap()
        .starts_with("req_mock"));
    app.stop().await;

    // Translated: OpenAI's 429 becomes Anthropic's rate_limit_error.
    let openai = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(429),
        ..Default::default()
    });
    let app = TestApp::start().await;
    app.add_openai_key("gpt", &openai).await;
    let r = app.messages(messages_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.anthropic_error_type(), "rate_limit_error");
    assert_eq!(
        r.body["error"]["message"],
        "Rate limit reached for requests"
    );
    app.stop().await;
}

#[actix_web::test]
async fn an_overloaded_error_mid_stream_ends_the_stream_as_anthropic_does() {
    for translated in [false, true] {
        let mock = MockUpstream::start(MockConfig {
            behaviour: Behaviour::StreamError(2),
            ..Default::default()
        });
        let app = TestApp::start().await;
        let model = if translated {
            app.add_openai_key("gpt", &mock).await;
            "gpt-4o"
        } else {
            add_anthropic_key(&app, "claude", &mock).await;
            CLAUDE
        };
        let mut body = messages_body(model);
        body["stream"] = json!(true);
        let r = app.messages(body).await;
        assert_eq!(r.status, StatusCode::OK);
        let events = anthropic_events(&r.text);
        let (name, data) = events.last().unwrap();
        assert_eq!(name, "error", "{}", r.text);
        assert_eq!(data["type"], "error");
        let kind = if translated {
            "api_error"
        } else {
            "overloaded_error"
        };
        assert_eq!(data["error"]["type"], kind, "{}", r.text);
        assert!(!r.text.contains("message_stop"));
        let log = &app.logs().await[0];
        assert_eq!(log["status"], 502);
        app.stop().await;
    }
}

#[actix_web::test]
async fn count_tokens_is_exact_from_anthropic_and_an_estimate_otherwise() {
    let anthropic = MockUpstream::start(MockConfig::default());
    let openai = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    add_anthropic_key(&app, "claude", &anthropic).await;
    app.add_openai_key("gpt", &openai).await;
    let body = json!({"model": CLAUDE, "system": "Be brief.",
        "messages": [{"role": "user", "content": "Count these five words"}]});
    let r = app
        .anthropic_raw(
            "/v1/messages/count_tokens",
            body.to_string(),
            &[("anthropic-beta", "token-counting-2024-11-01")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The mock's count: 2 + 4 words, 3 per message.
    assert_eq!(r.body, json!({"input_tokens": 9}));
    assert_eq!(r.header("x-api-proxy-estimate"), None);
    let sent = anthropic.received();
    assert_eq!(sent[0].path, "/v1/messages/count_tokens");
    assert_eq!(
        sent[0].header("anthropic-beta"),
        Some("token-counting-2024-11-01")
    );

    let mut body = body;
    body["model"] = json!("gpt-4o");
    let r = app
        .anthropic_raw("/v1/messages/count_tokens", body.to_string(), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("x-api-proxy-estimate"), Some("true"));
    let estimate = r.body["input_tokens"].as_u64().unwrap();
    assert!((8..40).contains(&estimate), "{estimate}");
    assert_eq!(openai.request_count(), 0, "an estimate calls nobody");
    // Counting is free: no call was logged and no quota spent.
    assert!(app.logs().await.is_empty());

    let r = app
        .anthropic_raw(
            "/v1/messages/count_tokens",
            json!({"model": "nope", "messages": []}).to_string(),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.anthropic_error_type(), "not_found_error");
    app.stop().await;
}

#[actix_web::test]
async fn models_are_listed_in_anthropics_shape_when_asked_in_its_dialect() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    add_anthropic_key(&app, "claude", &mock).await;
    let mut req = app
        .http
        .get(format!("{}/v1/models", app.base))
        .insert_header(("anthropic-version", ANTHROPIC_VERSION));
    let mut resp = req.send().await.unwrap();
    let body: Value = resp.json().limit(1 << 20).await.unwrap();
    let data = body["data"].as_array().unwrap();
    assert!(data.iter().any(|m| m["id"] == CLAUDE), "{body}");
    for m in data {
        assert_eq!(m["type"], "model");
        assert_eq!(m["display_name"], m["id"]);
        assert!(m["created_at"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(body["has_more"], false);
    assert_eq!(body["first_id"], data[0]["id"]);
    assert_eq!(body["last_id"], data[data.len() - 1]["id"]);
    req = app.http.get(format!("{}/v1/models", app.base));
    let openai: Value = req.send().await.unwrap().json().await.unwrap();
    assert_eq!(openai["object"], "list");
    app.stop().await;
}

#[actix_web::test]
async fn a_refused_content_type_gets_an_anthropic_shaped_error() {
    let app = TestApp::start().await;
    for path in ["/v1/messages", "/api/v1/messages/count_tokens"] {
        let mut resp = app
            .http
            .post(format!("{}{path}", app.base))
            .insert_header(("x-api-key", "any-client-key"))
            .insert_header(("anthropic-version", ANTHROPIC_VERSION))
            .insert_header(("content-type", "text/plain"))
            .send_body(r#"{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[]}"#)
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path}");
        let body: Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap();
        assert_eq!(body["type"], "error", "{path}: {body}");
        assert!(body["error"]["type"].is_string(), "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
    // The OpenAI surface keeps OpenAI's shape.
    let mut resp = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .insert_header(("content-type", "text/plain"))
        .send_body(r#"{"model":"gpt-4o","messages":[]}"#)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = serde_json::from_slice(&resp.body().await.unwrap()).unwrap();
    assert!(body["error"]["message"].is_string(), "{body}");
    app.stop().await;
}
