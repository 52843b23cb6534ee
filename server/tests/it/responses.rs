//! `POST /v1/responses`: OpenAI keys pass it through byte for byte (and a follow-up naming a
//! stored response goes to the key that stored it); Anthropic and chat-only keys get it
//! translated, and refuse with a 400 what only OpenAI stores or runs. Every call is accounted
//! and logged like a chat call, under endpoint `responses`.

use actix_web::http::header::HeaderMap;
use actix_web::http::StatusCode;
use api_proxy::routing::{call_cost, TokenUsage};
use bytes::Bytes;
use futures_util::StreamExt;
use mock_upstream::{
    Behaviour, MockConfig, MockUpstream, MOCK_REPLY, MOCK_TOOL_PREAMBLE, MOCK_TOOL_RESULT_REPLY,
};
use serde_json::{json, Value};

use crate::support::*;

const CLAUDE: &str = "claude-sonnet-4-5";
const DEEPSEEK: &str = "deepseek-v4-flash";

async fn create(app: &TestApp, body: Value) -> Reply {
    app.request("POST", "/v1/responses", Some("any-client-key"), Some(body))
        .await
}

/// `body` exactly as given; the status, headers and body bytes of the answer (a stream read to
/// its end).
async fn post_bytes(app: &TestApp, body: &'static [u8]) -> (StatusCode, HeaderMap, Bytes) {
    let mut resp = app
        .http
        .post(format!("{}/v1/responses", app.base))
        .insert_header(("content-type", "application/json"))
        .send_body(body)
        .await
        .unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    (resp.status(), resp.headers().clone(), Bytes::from(bytes))
}

/// A streamed call: the status, headers and `(event, data)` of every event.
async fn stream(app: &TestApp, body: Value) -> (StatusCode, HeaderMap, Vec<(String, Value)>) {
    let mut resp = app
        .http
        .post(format!("{}/v1/responses", app.base))
        .send_json(&body)
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(chunk) = resp.next().await {
        match chunk {
            Ok(bytes) => text.push_str(&String::from_utf8_lossy(&bytes)),
            Err(_) => break,
        }
    }
    (resp.status(), resp.headers().clone(), events(&text))
}

fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            let data: Value = serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}"));
            (name, data)
        })
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What `model` of `provider` costs for `usage`, at the shipped prices.
fn cost(app: &TestApp, provider: &str, model: &str, usage: TokenUsage) -> f64 {
    let entry = app.state().catalog.get(provider).unwrap();
    call_cost(Some(&entry.model(model).unwrap().pricing), 0.0, &usage)
}

fn weather_tool() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": true}])
}

async fn openai_key(app: &TestApp, name: &str, mock: &MockUpstream, extra: Value) -> i64 {
    let mut body = json!({"provider": "openai", "name": name, "api_key": SECRET, "base_url": mock.openai_base()});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.add_key(body).await
}

async fn anthropic_key(app: &TestApp, mock: &MockUpstream, extra: Value) -> i64 {
    let mut body = json!({"provider": "anthropic", "name": "claude", "api_key": SECRET, "base_url": mock.anthropic_base()});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.add_key(body).await
}

/// Fields OpenAI knows and api-proxy does not parse, odd spacing, key order: all must arrive as
/// sent.
const NATIVE_REQUEST: &[u8] = br#"{ "model" : "gpt-4o",  "input":[{"role":"user","content":[{"type":"input_text","text":"Hi \u00e9"}]}],
  "include":["reasoning.encrypted_content"], "prompt_cache_key":"k-1","safety_identifier":"u-9",
  "truncation":"auto","service_tier":"flex","metadata":{"b":"2","a":"1"},"store":true,
  "text":{"format":{"type":"text"},"verbosity":"low"},"reasoning":{"effort":"low"} }"#;

const NATIVE_STREAM_REQUEST: &[u8] =
    br#"{"stream":true,"model":"gpt-4o","input":"Hi","stream_options":{"include_obfuscation":true}}"#;

/// An OpenAI answer with fields api-proxy has never heard of, in OpenAI's member order.
const NATIVE_ANSWER: &str = r#"{"id":"resp_native_1","object":"response","created_at":1756315696,"status":"completed","x_future":{"nested":[1,2,3]},"model":"gpt-4o-2024-08-06","output":[{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Salut"}],"role":"assistant"}],"store":true,"usage":{"input_tokens":40,"input_tokens_details":{"cached_tokens":32},"output_tokens":9,"output_tokens_details":{"reasoning_tokens":4},"total_tokens":49}}"#;

const NATIVE_STREAM: &str = concat!(
    "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_native_2\",\"object\":\"response\",\"status\":\"in_progress\",\"store\":true,\"output\":[],\"usage\":null}}\n\n",
    ": a comment line OpenAI does not send\n\n",
    "event: response.brand_new_event\ndata: {\"type\":\"response.brand_new_event\",\"sequence_number\":1,\"x\":true}\n\n",
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Salut\",\"logprobs\":[],\"obfuscation\":\"q8Zr\"}\n\n",
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_native_2\",\"object\":\"response\",\"status\":\"completed\",\"store\":true,\"usage\":{\"input_tokens\":40,\"input_tokens_details\":{\"cached_tokens\":32},\"output_tokens\":9,\"output_tokens_details\":{\"reasoning_tokens\":4},\"total_tokens\":49}}}\n\n",
);

#[actix_web::test]
async fn openai_keys_get_the_bytes_and_answer_with_theirs() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    openai_key(&app, "main", &mock, json!({})).await;

    // A real answer first: the mock validates what it received as OpenAI would.
    let (status, headers, body) = post_bytes(&app, NATIVE_REQUEST).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let received = &mock.received()[0];
    assert_eq!(received.path, "/v1/responses");
    assert_eq!(
        &received.raw_body[..],
        NATIVE_REQUEST,
        "the request went as sent"
    );
    assert_eq!(
        received.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["output"][1]["content"][0]["text"], MOCK_REPLY);
    assert_eq!(header(&headers, "x-api-proxy-key"), Some("main"));
    assert_eq!(header(&headers, "x-api-proxy-provider"), Some("openai"));

    // Then answers with fields api-proxy does not know: relayed byte for byte, read for usage.
    mock.set_behaviour(Behaviour::RawStatus {
        status: 200,
        content_type: "application/json".into(),
        body: NATIVE_ANSWER.into(),
    });
    let (status, headers, body) = post_bytes(&app, NATIVE_REQUEST).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], NATIVE_ANSWER.as_bytes());
    let usage = TokenUsage {
        prompt: 40,
        completion: 9,
        cached: 32,
        cache_write: 0,
        reasoning: 0,
    };
    let expected = cost(&app, "openai", "gpt-4o", usage);
    let charged: f64 = header(&headers, "x-api-proxy-cost")
        .unwrap()
        .parse()
        .unwrap();
    assert!((charged - expected).abs() < 1e-9, "{charged} vs {expected}");

    mock.set_behaviour(Behaviour::RawStatus {
        status: 200,
        content_type: "text/event-stream".into(),
        body: NATIVE_STREAM.into(),
    });
    let (status, headers, body) = post_bytes(&app, NATIVE_STREAM_REQUEST).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), Some("text/event-stream"));
    assert_eq!(&body[..], NATIVE_STREAM.as_bytes());
    assert_eq!(&mock.received()[2].raw_body[..], NATIVE_STREAM_REQUEST);

    let logs = app.logs().await;
    assert_eq!(logs.len(), 3);
    for log in &logs {
        assert_eq!(log["endpoint"], "responses");
        assert_eq!(log["status"], 200);
        assert_eq!(log["provider"], "openai");
    }
    // Newest first: the stream, then the odd answer.
    for log in &logs[..2] {
        assert_eq!(log["prompt_tokens"], 40);
        assert_eq!(log["completion_tokens"], 9);
        assert_eq!(log["cached_tokens"], 32);
        assert!((log["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-9);
    }
    assert_eq!(logs[0]["stream"], true);
    app.stop().await;
}

#[actix_web::test]
async fn an_alias_rewrites_only_the_model() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    openai_key(&app, "main", &mock, json!({})).await;
    app.put_settings(json!({"model_aliases": {"fast": "gpt-4o"}}))
        .await;
    let body = json!({"model": "fast", "input": "Hi", "metadata": {"k": "v"}, "store": false,
        "x_new_field_openai_added_yesterday": {"a": [1, 2]}});
    // The mock rejects fields OpenAI does not know: the unknown one is forwarded, refused there.
    let r = create(&app, body.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "unknown_parameter");
    assert_eq!(
        r.body["error"]["param"],
        "x_new_field_openai_added_yesterday"
    );
    let mut sent = mock.received()[0].body.clone();
    assert_eq!(sent["model"], "gpt-4o");
    sent["model"] = json!("fast");
    assert_eq!(sent, body, "nothing but the model changed");
    app.stop().await;
}

#[actix_web::test]
async fn a_follow_up_goes_to_the_key_whose_account_stored_the_response() {
    let (a, b) = (
        MockUpstream::start(MockConfig::default()),
        MockUpstream::start(MockConfig::default()),
    );
    let app = TestApp::start().await;
    let ka = openai_key(&app, "a", &a, json!({})).await;
    let kb = openai_key(&app, "b", &b, json!({})).await;
    app.put_settings(json!({"routing_strategy": "round_robin"}))
        .await;

    let first = create(
        &app,
        json!({"model": "gpt-4o", "input": "Hi", "tools": weather_tool()}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let owner = first.header("x-api-proxy-key").unwrap().to_owned();
    let (owner_mock, other_mock, owner_id) = if owner == "a" {
        (&a, &b, ka)
    } else {
        (&b, &a, kb)
    };
    let call_id = first.body["output"][0]["call_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Round robin would alternate; every turn of the conversation stays with the owner, plain
    // and streamed, and each turn's own id is followed too.
    let mut previous = first.body["id"].as_str().unwrap().to_owned();
    for turn in 0..4 {
        let input = if turn == 0 {
            json!([{"type": "function_call_output", "call_id": call_id, "output": "sunny"}])
        } else {
            json!(format!("And then? ({turn})"))
        };
        let body = json!({"model": "gpt-4o", "previous_response_id": previous, "input": input,
            "stream": turn % 2 == 1});
        previous = if turn % 2 == 1 {
            let (status, headers, events) = stream(&app, body).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(header(&headers, "x-api-proxy-key"), Some(owner.as_str()));
            assert_eq!(events.last().unwrap().0, "response.completed");
            events[0].1["response"]["id"].as_str().unwrap().to_owned()
        } else {
            let r = create(&app, body).await;
            assert_eq!(r.status, StatusCode::OK, "turn {turn}: {}", r.text);
            assert_eq!(r.header("x-api-proxy-key"), Some(owner.as_str()));
            r.body["id"].as_str().unwrap().to_owned()
        };
    }
    assert_eq!(owner_mock.request_count(), 5);
    assert_eq!(other_mock.request_count(), 0);
    // A request that continues nothing still goes round.
    let r = create(&app, json!({"model": "gpt-4o", "input": "New topic"})).await;
    assert_ne!(r.header("x-api-proxy-key"), Some(owner.as_str()));

    // The owner cannot serve now: the client is told, and no other account is tried.
    app.admin(
        "PATCH",
        &format!("/api/keys/{owner_id}"),
        Some(json!({"enabled": false})),
    )
    .await;
    let r = create(
        &app,
        json!({"model": "gpt-4o", "previous_response_id": previous, "input": "Still there?"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.error_code(), Some("no_available_key"));
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&previous), "{message}");
    assert!(message.contains(&format!("key `{owner}`")), "{message}");
    assert!(message.contains("disabled"), "{message}");
    assert_eq!(
        other_mock.request_count(),
        1,
        "only the new topic reached it"
    );
    let log = &app.logs().await[0];
    assert_eq!(log["status"], 503);
    assert_eq!(log["endpoint"], "responses");

    // An id api-proxy never saw is routed as usual; that account does not have it.
    let r = create(
        &app,
        json!({"model": "gpt-4o", "previous_response_id": "resp_unknown", "input": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), Some("previous_response_not_found"));
    app.stop().await;
}

#[actix_web::test]
async fn a_translated_target_refuses_what_only_openai_stores() {
    let anthropic = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    anthropic_key(&app, &anthropic, json!({})).await;
    for (body, param, says) in [
        (
            json!({"model": CLAUDE, "input": "x", "previous_response_id": "resp_1"}),
            "previous_response_id",
            "stores no prompts",
        ),
        (
            json!({"model": CLAUDE, "input": "x", "tools": [{"type": "web_search"}]}),
            "tools",
            "web_search",
        ),
        (
            json!({"model": CLAUDE, "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]}),
            "input",
            "file_id",
        ),
    ] {
        let r = create(&app, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
        assert_eq!(r.body["error"]["param"], param);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    assert_eq!(anthropic.request_count(), 0);
    let logs = app.logs().await;
    assert_eq!(logs.len(), 3);
    assert!(logs
        .iter()
        .all(|l| l["status"] == 400 && l["endpoint"] == "responses"));
    app.stop().await;
}

#[actix_web::test]
async fn translating_keys_step_aside_for_what_only_openai_has() {
    let (openai, anthropic) = (
        MockUpstream::start(MockConfig::default()),
        MockUpstream::start(MockConfig::default()),
    );
    let app = TestApp::start().await;
    openai_key(&app, "openai", &openai, json!({"priority": 2})).await;
    // This Anthropic key serves `gpt-4o` too (whatever its upstream makes of it), and comes first.
    anthropic_key(
        &app,
        &anthropic,
        json!({"priority": 1, "models": ["gpt-4o"]}),
    )
    .await;
    let r = create(&app, json!({"model": "gpt-4o", "input": "Hi"})).await;
    assert_eq!(r.header("x-api-proxy-provider"), Some("anthropic"));
    let r = create(
        &app,
        json!({"model": "gpt-4o", "input": "Hi", "tools": [{"type": "web_search"}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("x-api-proxy-provider"), Some("openai"));
    assert_eq!(
        r.header("x-api-proxy-attempts"),
        Some("1"),
        "a skip is no attempt"
    );
    assert_eq!(anthropic.request_count(), 1);
    app.stop().await;
}

#[actix_web::test]
async fn anthropic_keys_answer_responses_clients_with_tools_and_outputs() {
    let mock = MockUpstream::start(MockConfig {
        cached_tokens: 3,
        ..Default::default()
    });
    let app = TestApp::start().await;
    anthropic_key(&app, &mock, json!({})).await;

    let r = create(
        &app,
        json!({"model": CLAUDE, "instructions": "Be brief.", "input": "Weather in Paris?",
            "tools": weather_tool(), "max_output_tokens": 300, "metadata": {"run": "7"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("x-api-proxy-provider"), Some("anthropic"));
    assert_eq!(r.body["object"], "response");
    assert_eq!(r.body["status"], "completed");
    assert_eq!(r.body["store"], false, "translated answers are not stored");
    assert_eq!(r.body["metadata"], json!({"run": "7"}));
    let output = r.body["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "message");
    assert_eq!(output[0]["content"][0]["text"], MOCK_TOOL_PREAMBLE);
    assert_eq!(output[1]["type"], "function_call");
    assert_eq!(output[1]["name"], "get_weather");
    let arguments: Value = serde_json::from_str(output[1]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"city": "Paris"}));
    let usage = &r.body["usage"];
    // Anthropic's input_tokens leave the cache out; OpenAI's include it.
    assert_eq!(usage["input_tokens"], 15);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 3);
    let tokens = TokenUsage {
        prompt: 15,
        completion: usage["output_tokens"].as_i64().unwrap(),
        cached: 3,
        cache_write: 0,
        reasoning: 0,
    };
    let charged: f64 = r.header("x-api-proxy-cost").unwrap().parse().unwrap();
    let expected = cost(&app, "anthropic", CLAUDE, tokens);
    assert!((charged - expected).abs() < 1e-9, "{charged} vs {expected}");
    let sent = &mock.received()[0].body;
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(sent["max_tokens"], 300);
    assert_eq!(sent["tools"][0]["name"], "get_weather");

    // The function's output, with the earlier items sent back as the SDKs do; streamed.
    let mut input = vec![json!({"role": "user", "content": "Weather in Paris?"})];
    input.extend(output.iter().cloned());
    input.push(
        json!({"type": "function_call_output", "call_id": output[1]["call_id"], "output": "sunny"}),
    );
    let (status, headers, events) = stream(
        &app,
        json!({"model": CLAUDE, "input": input, "tools": weather_tool(), "stream": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "x-api-proxy-provider"), Some("anthropic"));
    for (n, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], n);
    }
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, MOCK_TOOL_RESULT_REPLY);
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "response.completed");
    assert_eq!(
        done["response"]["output"][0]["content"][0]["text"],
        MOCK_TOOL_RESULT_REPLY
    );
    let sent = &mock.received()[1].body["messages"];
    assert_eq!(sent[2]["content"][0]["type"], "tool_result");
    let log = &app.logs().await[0];
    assert_eq!(log["endpoint"], "responses");
    assert_eq!(log["stream"], true);
    assert_eq!(
        log["prompt_tokens"],
        done["response"]["usage"]["input_tokens"]
    );
    assert_eq!(
        log["completion_tokens"],
        done["response"]["usage"]["output_tokens"]
    );
    app.stop().await;
}

#[actix_web::test]
async fn chat_only_keys_answer_responses_clients() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    app.add_key(json!({"provider": "deepseek", "name": "ds", "api_key": SECRET, "base_url": mock.openai_base()}))
        .await;
    let r = create(
        &app,
        json!({"model": DEEPSEEK, "input": [{"role": "developer", "content": "Be brief."},
            {"role": "user", "content": "Weather?"}], "tools": weather_tool(), "tool_choice": "required"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["output"][0]["type"], "function_call");
    let sent = &mock.received()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(sent.body["tool_choice"], "required");
    assert_eq!(sent.body["tools"][0]["function"]["name"], "get_weather");

    let (status, _, events) = stream(
        &app,
        json!({"model": DEEPSEEK, "input": "Hi", "stream": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, MOCK_REPLY);
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["usage"]["input_tokens"], 12);
    assert_eq!(done["usage"]["output_tokens"], 5);
    assert_eq!(
        mock.received()[1].body["stream_options"],
        json!({"include_usage": true}),
        "usage is asked for, for accounting"
    );
    app.stop().await;
}

#[actix_web::test]
async fn failures_fail_over_and_errors_keep_openai_shape() {
    let (down, up) = (
        MockUpstream::start(MockConfig {
            behaviour: Behaviour::Status(500),
            ..Default::default()
        }),
        MockUpstream::start(MockConfig::default()),
    );
    let app = TestApp::start().await;
    openai_key(&app, "down", &down, json!({"priority": 1})).await;
    openai_key(&app, "up", &up, json!({"priority": 2})).await;
    let r = create(&app, json!({"model": "gpt-4o", "input": "Hi"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("x-api-proxy-key"), Some("up"));
    assert_eq!(r.header("x-api-proxy-attempts"), Some("2"));
    let trail = app.logs().await[0]["attempt_trail"].clone();
    assert_eq!(trail[0]["key_name"], "down");
    assert_eq!(trail[0]["status"], 500);

    // A client error is the upstream's own, not retried.
    up.set_behaviour(Behaviour::Status(400));
    down.set_behaviour(Behaviour::Status(400));
    let r = create(&app, json!({"model": "gpt-4o", "input": "Hi"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["message"], "Invalid request.");
    assert_eq!(r.header("x-api-proxy-attempts"), None);

    // A stream that fails after its first byte: OpenAI's own failure event reaches the client.
    down.set_behaviour(Behaviour::Status(500));
    up.set_behaviour(Behaviour::StreamError(3));
    let (status, _, events) = stream(
        &app,
        json!({"model": "gpt-4o", "input": "Hi", "stream": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (name, failed) = events.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(failed["response"]["error"]["code"], "server_error");
    assert_eq!(
        events.len(),
        4,
        "nothing added after the upstream's own failure"
    );
    let log = &app.logs().await[0];
    assert_eq!(log["status"], 502);
    assert_eq!(log["stream"], true);

    // Bad input and unknown models: OpenAI's shape on this surface too.
    let r = app
        .request(
            "POST",
            "/v1/responses",
            None,
            Some(json!({"model": "gpt-4o", "input": 7})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["param"], "input");
    let r = create(&app, json!({"model": "gpt-9", "input": "x"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), Some("model_not_found"));
    let r = app
        .request(
            "POST",
            "/api/v1/responses",
            None,
            Some(json!({"input": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["param"], "model");
    app.stop().await;
}

#[actix_web::test]
async fn translated_streams_end_in_response_failed_when_the_upstream_breaks() {
    let mock = MockUpstream::start(MockConfig {
        behaviour: Behaviour::StreamError(4),
        ..Default::default()
    });
    let app = TestApp::start().await;
    anthropic_key(&app, &mock, json!({})).await;
    let (status, _, events) = stream(
        &app,
        json!({"model": CLAUDE, "input": "Hi", "stream": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], "response.created");
    assert_eq!(&names[names.len() - 2..], ["response.failed", "error"]);
    let failed = &events[events.len() - 2].1["response"];
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Overloaded"));
    for (n, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], n);
    }
    // Overloaded before the first byte: another key would have been tried; here, OpenAI's shape.
    mock.set_behaviour(Behaviour::Status(529));
    let r = create(&app, json!({"model": CLAUDE, "input": "Hi"})).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["error"]["type"], "server_error");
    assert_eq!(r.body["error"]["code"], "overloaded_error");
    app.stop().await;
}

#[actix_web::test]
async fn answers_have_what_the_description_requires() {
    let (openai, anthropic) = (
        MockUpstream::start(MockConfig::default()),
        MockUpstream::start(MockConfig::default()),
    );
    let app = TestApp::start().await;
    openai_key(&app, "openai", &openai, json!({})).await;
    anthropic_key(&app, &anthropic, json!({})).await;
    let spec = app
        .request("GET", "/api/openapi.json", None, None)
        .await
        .body;
    let operation = &spec["paths"]["/v1/responses"]["post"];
    assert_eq!(
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/OpenAiResponsesRequest"
    );
    let required = spec["components"]["schemas"]["OpenAiResponse"]["required"]
        .as_array()
        .unwrap()
        .clone();
    assert!(required.len() >= 6, "{required:?}");
    for model in ["gpt-4o", CLAUDE] {
        let r = create(&app, json!({"model": model, "input": "Hi"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for field in &required {
            let field = field.as_str().unwrap();
            assert!(
                r.body.get(field).is_some(),
                "{model}: no {field}: {}",
                r.text
            );
        }
    }
}

#[actix_web::test]
async fn quotas_tiers_and_costs_hold_on_this_surface() {
    let (first, second) = (
        MockUpstream::start(MockConfig::default()),
        MockUpstream::start(MockConfig::default()),
    );
    let app = TestApp::start().await;
    let tier1 = openai_key(
        &app,
        "tier1",
        &first,
        json!({"priority": 1, "quota_total": 2, "cost_per_request": 0.01}),
    )
    .await;
    openai_key(&app, "tier2", &second, json!({"priority": 2})).await;
    let mut served = Vec::new();
    for _ in 0..3 {
        let r = create(&app, json!({"model": "gpt-4o", "input": "Hi"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        served.push(r.header("x-api-proxy-key").unwrap().to_owned());
    }
    assert_eq!(
        served,
        ["tier1", "tier1", "tier2"],
        "tier 1 until its quota is spent"
    );
    let key = app
        .admin("GET", &format!("/api/keys/{tier1}"), None)
        .await
        .body;
    assert_eq!(key["quota_remaining"], 0.0);
    assert_eq!(key["state"], "quota_exhausted");
    // The per-request fee is charged on top of the tokens.
    let logs = app.logs().await;
    let usage = TokenUsage {
        prompt: 12,
        completion: 5,
        cached: 0,
        cache_write: 0,
        reasoning: 0,
    };
    let tokens = cost(&app, "openai", "gpt-4o", usage);
    let by_key = |name: &str| {
        logs.iter()
            .filter(|l| l["key_name"] == name)
            .map(|l| l["cost_usd"].as_f64().unwrap())
            .collect::<Vec<_>>()
    };
    for charged in by_key("tier1") {
        assert!((charged - (tokens + 0.01)).abs() < 1e-9, "{charged}");
    }
    assert!((by_key("tier2")[0] - tokens).abs() < 1e-9);
    app.stop().await;
}

#[actix_web::test]
async fn the_live_feed_shows_responses_calls() {
    let mock = MockUpstream::start(MockConfig::default());
    let app = TestApp::start().await;
    openai_key(&app, "main", &mock, json!({})).await;
    let ticket = app.admin("POST", "/api/live/ticket", None).await;
    let ticket = ticket.body["ticket"].as_str().expect("a ticket").to_owned();
    let (_, mut feed) = awc::Client::new()
        .ws(format!(
            "{}/api/live?ticket={ticket}",
            app.base.replace("http://", "ws://")
        ))
        .connect()
        .await
        .expect("the live feed connects");
    let r = create(&app, json!({"model": "gpt-4o", "input": "Hi"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let call = loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), feed.next())
            .await
            .expect("a call event within 10 s")
            .expect("the feed is open")
            .expect("a frame");
        if let awc::ws::Frame::Text(bytes) = frame {
            let event: Value = serde_json::from_slice(&bytes).unwrap();
            if event["type"] == "call" {
                break event;
            }
        }
    };
    assert_eq!(call["endpoint"], "responses");
    assert_eq!(call["key_name"], "main");
    assert_eq!(call["request_id"], r.header("x-request-id").unwrap());
    assert_eq!(call["completion_tokens"], 5);
    app.stop().await;
}
