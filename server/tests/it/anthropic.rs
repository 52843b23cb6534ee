//! Anthropic keys answer OpenAI clients exactly as OpenAI would, against a mock that checks what
//! it receives (headers, `system`, `max_tokens`, `tool_result` ordering) and rejects what the real
//! API rejects.

use actix_web::http::StatusCode;
use mock_upstream::{Behaviour, MockConfig, MockUpstream, MOCK_REPLY};
use serde_json::{json, Value};

use crate::support::*;

const CLAUDE: &str = "claude-sonnet-4-5";

async fn app_with_claude(mock: &MockUpstream) -> (TestApp, i64) {
    let app = TestApp::start().await;
    let id = app
        .add_key(json!({"provider": "anthropic", "name": "claude", "api_key": SECRET, "base_url": mock.openai_base()}))
        .await;
    (app, id)
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

#[actix_web::test]
async fn chat_is_translated_both_ways() {
    let mock = MockUpstream::start(MockConfig::default());
    let (app, _) = app_with_claude(&mock).await;
    let reply = app
        .chat(json!({
            "model": CLAUDE,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "user", "content": "Say hello"}
            ],
            "temperature": 1.6, "user": "u-7", "n": 1, "frequency_penalty": 0.2, "seed": 1,
            "stream_options": {"include_usage": true}, "logprobs": false
        }))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["object"], "chat.completion");
    assert_eq!(reply.body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(reply.body["choices"][0]["message"]["content"], MOCK_REPLY);
    assert_eq!(reply.body["choices"][0]["finish_reason"], "stop");
    assert_eq!(reply.body["model"], CLAUDE);
    assert_eq!(reply.body["usage"]["prompt_tokens"], 12);
    assert_eq!(reply.body["usage"]["completion_tokens"], 5);
    assert_eq!(reply.header("x-api-proxy-provider"), Some("anthropic"));

    let sent = &mock.received()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(SECRET));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.body["system"], "Be brief.");
    assert_eq!(
        sent.body["max_tokens"], 64000,
        "the model's limit when the client gave none"
    );
    assert_eq!(sent.body["temperature"], 1.0);
    assert_eq!(sent.body["metadata"], json!({"user_id": "u-7"}));
    assert_eq!(
        sent.body["messages"].as_array().unwrap().len(),
        1,
        "consecutive user turns merged"
    );
    for dropped in [
        "n",
        "frequency_penalty",
        "seed",
        "stream_options",
        "logprobs",
        "user",
    ] {
        assert!(
            sent.body.get(dropped).is_none(),
            "{dropped} must not reach Anthropic"
        );
    }
    let logs = app.logs().await;
    assert_eq!(logs[0]["provider"], "anthropic");
    // claude-sonnet-4-5: $3 in / $15 out per 1M tokens.
    let cost = logs[0]["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (12.0 * 3.0 + 5.0 * 15.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn stream_is_translated_to_openai_chunks() {
    let mock = MockUpstream::start(MockConfig::default());
    let (app, _) = app_with_claude(&mock).await;
    let (status, text) = app.stream_chat(stream_body(CLAUDE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assembled(&text), MOCK_REPLY);
    let data = sse_data(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let ids: std::collections::HashSet<&str> =
        chunks.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "one id across the stream");
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "no usage unless asked"
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );

    let mut body = stream_body(CLAUDE);
    body["stream_options"] = json!({"include_usage": true});
    let (_, text) = app.stream_chat(body).await;
    let data = sse_data(&text);
    let usage: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    let logs = app.logs().await;
    assert!(
        logs.iter()
            .all(|l| l["status"] == 200 && l["completion_tokens"] == 5),
        "{logs:?}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn tool_calls_round_trip_and_stream_like_the_non_streamed_answer() {
    let mock = MockUpstream::start(MockConfig::default());
    let (app, _) = app_with_claude(&mock).await;
    let ask = json!({"model": CLAUDE, "tools": weather_tools(), "tool_choice": "auto",
        "messages": [{"role": "user", "content": "Weather in Paris?"}]});
    let reply = app.chat(ask.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let message = &reply.body["choices"][0]["message"];
    assert_eq!(reply.body["choices"][0]["finish_reason"], "tool_calls");
    let call = &message["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));
    let sent = &mock.received()[0].body;
    assert_eq!(
        sent["tools"][0]["input_schema"]["required"],
        json!(["city"])
    );
    assert_eq!(sent["tool_choice"], json!({"type": "auto"}));

    // The streamed answer assembles to the same tool call.
    let mut streamed = ask.clone();
    streamed["stream"] = json!(true);
    let (_, text) = app.stream_chat(streamed).await;
    let mut id = String::new();
    let mut name = String::new();
    let mut arguments = String::new();
    for d in sse_data(&text).iter().filter(|d| *d != "[DONE]") {
        let v: Value = serde_json::from_str(d).unwrap();
        for tc in v["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(tc["index"], 0);
            id.push_str(tc["id"].as_str().unwrap_or(""));
            name.push_str(tc["function"]["name"].as_str().unwrap_or(""));
            arguments.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(id, call["id"].as_str().unwrap());
    assert_eq!(name, "get_weather");
    assert_eq!(serde_json::from_str::<Value>(&arguments).unwrap(), args);

    // The tool's answer goes back as a tool_result with the same id; the mock rejects any other.
    let follow_up = json!({"model": CLAUDE, "tools": weather_tools(), "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": message["content"].clone(), "tool_calls": message["tool_calls"].clone()},
        {"role": "tool", "tool_call_id": call["id"].clone(), "content": "15 C, sunny"}
    ]});
    let reply = app.chat(follow_up).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["choices"][0]["finish_reason"], "stop");
    let received = mock.received();
    let sent = &received.last().unwrap().body;
    let last = sent["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["role"], "user");
    assert_eq!(last["content"][0]["type"], "tool_result");
    assert_eq!(last["content"][0]["tool_use_id"], call["id"]);
    app.stop().await;
}

#[actix_web::test]
async fn parallel_tool_calls_keep_their_indexes_in_the_stream() {
    let mock = MockUpstream::start(MockConfig::default());
    let (app, _) = app_with_claude(&mock).await;
    let tools = json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}}
    ]);
    let body = json!({"model": CLAUDE, "stream": true, "tools": tools,
        "messages": [{"role": "user", "content": "Use both tools in parallel"}]});
    let (_, text) = app.stream_chat(body).await;
    let mut names: Vec<(i64, String)> = Vec::new();
    for d in sse_data(&text).iter().filter(|d| *d != "[DONE]") {
        let v: Value = serde_json::from_str(d).unwrap();
        for tc in v["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(n) = tc["function"]["name"].as_str() {
                names.push((tc["index"].as_i64().unwrap(), n.to_owned()));
            }
        }
    }
    assert_eq!(
        names,
        vec![(0, "get_weather".into()), (1, "get_time".into())]
    );
    app.stop().await;
}

#[actix_web::test]
async fn anthropic_errors_become_openai_errors_with_matching_statuses() {
    for (upstream, expected, code, state) in [
        (529, 503, "overloaded_error", "active"),
        (429, 429, "rate_limit_error", "throttled"),
        (400, 400, "invalid_request_error", "active"),
        (500, 500, "api_error", "active"),
        // The stored key was rejected: a gateway error, not the caller's 401.
        (401, 502, "upstream_key_rejected", "auth_dead"),
    ] {
        let mock = MockUpstream::start(MockConfig {
            behaviour: Behaviour::Status(upstream),
            ..Default::default()
        });
        let (app, id) = app_with_claude(&mock).await;
        let r = app.chat(chat_body(CLAUDE)).await;
        assert_eq!(r.status.as_u16(), expected, "{upstream}: {}", r.text);
        assert_eq!(r.error_code(), Some(code));
        let key = app.admin("GET", &format!("/api/keys/{id}"), None).await;
        assert_eq!(key.body["state"], state, "{upstream}: {}", key.text);
        app.stop().await;
    }
}

#[actix_web::test]
async fn overloaded_anthropic_fails_over_to_another_key() {
    let overloaded = MockUpstream::start(MockConfig {
        behaviour: Behaviour::Status(529),
        ..Default::default()
    });
    let healthy = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_key(json!({"provider": "anthropic", "name": "a", "api_key": "sk-ant-aaaaaaa", "base_url": overloaded.openai_base(), "priority": 1})).await;
    app.add_key(json!({"provider": "anthropic", "name": "b", "api_key": "sk-ant-bbbbbbb", "base_url": healthy.openai_base(), "priority": 2})).await;
    let r = app.chat(chat_body(CLAUDE)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("x-api-proxy-key"), Some("b"));
    app.stop().await;
}

#[actix_web::test]
async fn stream_error_event_is_an_explicit_error() {
    let mock = MockUpstream::start(MockConfig {
        behaviour: Behaviour::StreamError(4),
        ..Default::default()
    });
    let (app, _) = app_with_claude(&mock).await;
    let (status, text) = app.stream_chat(stream_body(CLAUDE)).await;
    assert_eq!(status, StatusCode::OK);
    let data = sse_data(&text);
    assert!(!data.iter().any(|d| d == "[DONE]"), "{text}");
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Overloaded"),
        "{text}"
    );
    let logs = app.logs().await;
    assert_eq!(logs[0]["status"], 502);
    app.stop().await;
}

#[actix_web::test]
async fn openai_model_names_reach_anthropic_through_aliases() {
    let mock = MockUpstream::start(MockConfig::default());
    let (app, _) = app_with_claude(&mock).await;
    let reply = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(mock.received()[0].body["model"], CLAUDE);
    assert_eq!(
        reply.body["model"], CLAUDE,
        "the response names the model actually used"
    );
    let models = app.request("GET", "/v1/models", None, None).await;
    let gpt = models.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "gpt-4o")
        .cloned();
    assert_eq!(gpt.unwrap()["owned_by"], "anthropic");
    let logs = app.logs().await;
    assert_eq!(logs[0]["model"], CLAUDE);
    app.stop().await;
}

#[actix_web::test]
async fn embeddings_are_proxied_and_anthropic_says_it_has_none() {
    let mock = MockUpstream::start(MockConfig::default());
    let (app, _) = app_with_claude(&mock).await;
    let r = app
        .request(
            "POST",
            "/v1/embeddings",
            None,
            Some(json!({"model": "text-embedding-3-small", "input": "hi"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "no key serves it: {}",
        r.text
    );

    // An OpenAI key for embeddings only: no OpenAI chat model stands in for Claude.
    app.add_key(
        json!({"provider": "openai", "name": "openai", "api_key": SECRET,
        "base_url": mock.openai_base(), "models": ["text-embedding-3-small"]}),
    )
    .await;
    let r = app
        .request(
            "POST",
            "/v1/embeddings",
            None,
            Some(json!({"model": "text-embedding-3-small", "input": ["hello world", "again"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert!(r.body["usage"]["prompt_tokens"].as_i64().unwrap() > 0);
    let logs = app.logs().await;
    assert_eq!(logs[0]["endpoint"], "embeddings");
    assert!(logs[0]["cost_usd"].as_f64().unwrap() > 0.0);

    // A model only Anthropic keys serve cannot be embedded.
    let r = app
        .request(
            "POST",
            "/v1/embeddings",
            None,
            Some(json!({"model": CLAUDE, "input": "hi"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no embeddings API"));
    app.stop().await;
}

#[actix_web::test]
async fn azure_streams_hide_the_filter_preamble_and_filter_errors_pass_through() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_key(
        json!({"provider": "azure", "name": "az", "api_key": "azure-key-0123456789",
        "base_url": mock.url(), "azure_deployments": {"gpt-4o": "prod"}}),
    )
    .await;
    let (status, text) = app.stream_chat(stream_body("gpt-4o")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assembled(&text), MOCK_REPLY);
    let data = sse_data(&text);
    let ids: std::collections::HashSet<String> = data
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(!ids.contains(""), "the empty-id preamble is not relayed");
    assert!(!text.contains("prompt_filter_results"));

    mock.set_behaviour(Behaviour::AzureContentFilter);
    let r = app.chat(chat_body("gpt-4o")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Azure's own body (its `type` is null) passes through with every field.
    assert_eq!(r.body["error"]["code"], "content_filter");
    assert_eq!(r.body["error"]["param"], "prompt");
    assert_eq!(
        r.body["error"]["innererror"]["code"],
        "ResponsibleAIPolicyViolation"
    );
    app.stop().await;
}
