use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mock_upstream::{
    Behaviour, MockConfig, MockUpstream, MOCK_REPLY, MOCK_TOOL_PREAMBLE, MOCK_TOOL_RESULT_REPLY,
};
use serde_json::{json, Value};

use crate::support::{post, post_raw, Reply};

const KEY: &str = "sk-ant-test-key";

fn mock(behaviour: Behaviour) -> MockUpstream {
    MockUpstream::start(MockConfig {
        behaviour,
        expected_key: Some(KEY.into()),
        ..Default::default()
    })
}

async fn send(mock: &MockUpstream, body: &Value) -> Reply {
    post(
        &format!("{}/messages", mock.anthropic_base()),
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01")],
        body,
    )
    .await
}

fn hello() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 256,
           "messages": [{"role": "user", "content": "Hello"}]})
}

fn weather_tools() -> Value {
    json!([
        {"name": "get_weather", "description": "Current weather",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}},
        {"name": "get_time", "input_schema": {"type": "object", "properties": {"utc": {"type": "boolean"}}}}
    ])
}

fn assert_error(reply: &Reply, status: u16, kind: &str) -> String {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(body["request_id"].as_str().unwrap().starts_with("req_mock"));
    body["error"]["message"].as_str().unwrap().to_owned()
}

/// Event names in order, each checked against its data's `type`.
fn event_names(reply: &Reply) -> Vec<String> {
    reply
        .events()
        .into_iter()
        .map(|(name, data)| {
            let name = name.expect("Anthropic events are named");
            let data: Value = serde_json::from_str(&data).unwrap();
            assert_eq!(data["type"], name.as_str());
            name
        })
        .collect()
}

#[actix_web::test]
async fn the_key_and_version_headers_are_required() {
    let mock = mock(Behaviour::Normal);
    let url = format!("{}/messages", mock.anthropic_base());
    let version = ("anthropic-version", "2023-06-01");

    let r = post(&url, &[version], &hello()).await;
    assert!(assert_error(&r, 401, "authentication_error").contains("x-api-key"));
    let bearer = format!("Bearer {KEY}");
    let r = post(&url, &[version, ("authorization", &bearer)], &hello()).await;
    assert_error(&r, 401, "authentication_error");
    let r = post(&url, &[version, ("x-api-key", "wrong")], &hello()).await;
    assert_eq!(
        assert_error(&r, 401, "authentication_error"),
        "invalid x-api-key"
    );
    let r = post(&url, &[("x-api-key", KEY)], &hello()).await;
    assert_eq!(
        assert_error(&r, 400, "invalid_request_error"),
        "anthropic-version: header is required"
    );
    assert_eq!(
        mock.request_count(),
        4,
        "rejected requests are recorded too"
    );

    let r = send(&mock, &hello()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("anthropic-ratelimit-requests-remaining"),
        Some("99")
    );
    assert_eq!(
        r.header("anthropic-ratelimit-tokens-remaining"),
        Some("99000")
    );
    assert!(r.header("request-id").unwrap().starts_with("req_mock"));
    assert_eq!(mock.received()[4].header("x-api-key"), Some(KEY));
}

#[actix_web::test]
async fn invalid_requests_get_the_fields_named() {
    let mock = mock(Behaviour::Normal);
    let with = |field: &str, value: Value| {
        let mut body = hello();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = hello();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let tool_turn = |answer: Value| {
        with(
            "messages",
            json!([
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
                ]},
                {"role": "user", "content": answer}
            ]),
        )
    };
    let user_blocks =
        |blocks: Value| with("messages", json!([{"role": "user", "content": blocks}]));
    let cases = [
        (with("frequency_penalty", json!(0.5)), "frequency_penalty: Extra inputs are not permitted"),
        (without("max_tokens"), "max_tokens: Field required"),
        (without("messages"), "messages: Field required"),
        (with("messages", json!([])), "messages: at least one message is required"),
        (
            with("messages", json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])),
            "messages.0.role",
        ),
        (
            with("messages", json!([{"role": "user", "content": "Hi"}, {"role": "tool", "content": "x"}])),
            "messages.1.role",
        ),
        (
            with("messages", json!([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])),
            "roles must alternate",
        ),
        (
            with("messages", json!([{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}])),
            "first message must use the \"user\" role",
        ),
        (with("temperature", json!(2)), "temperature: Input should be less than or equal to 1"),
        (with("tool_choice", json!("auto")), "tool_choice:"),
        (with("tool_choice", json!({"type": "required"})), "tool_choice: Input tag 'required'"),
        (with("tool_choice", json!({"type": "tool"})), "tool_choice.tool.name"),
        (
            with("tools", json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])),
            "tools.0.type",
        ),
        (with("tools", json!([{"name": "get_weather"}])), "tools.0.input_schema: Field required"),
        (with("metadata", json!({"user_id": "u", "session_id": "s"})), "metadata.session_id"),
        (
            tool_turn(json!([{"type": "tool_result", "tool_use_id": "toolu_other", "content": "sunny"}])),
            "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_other",
        ),
        (
            tool_turn(json!([{"type": "text", "text": "Here you go"},
                             {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}])),
            "messages.2: Did not find 1 `tool_result` block(s) at the beginning of this message",
        ),
        (
            user_blocks(json!([{"type": "image", "source": {"type": "image_url", "url": "https://x/a.png"}}])),
            "messages.0.content.0.source: Input tag 'image_url'",
        ),
        (
            user_blocks(json!([{"type": "image", "source": {"type": "base64", "data": "AAAA"}}])),
            "messages.0.content.0.source.base64.media_type",
        ),
        (
            user_blocks(json!([{"type": "input_text", "text": "Hi"}])),
            "messages.0.content.0: Input tag 'input_text'",
        ),
    ];
    for (body, needle) in cases {
        let r = send(&mock, &body).await;
        let message = assert_error(&r, 400, "invalid_request_error");
        assert!(
            message.contains(needle),
            "{message:?} should contain {needle:?}"
        );
    }
    // And the accepted forms of the same things.
    for body in [
        with("tools", weather_tools()),
        tool_turn(
            json!([{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                         {"type": "text", "text": "Thanks"}]),
        ),
        user_blocks(json!([{"type": "text", "text": "What is this?"},
                           {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}])),
        with("tool_choice", json!({"type": "none"})),
    ] {
        let r = send(&mock, &body).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

#[actix_web::test]
async fn a_message_has_the_exact_shape_and_usage() {
    let mock = MockUpstream::start(MockConfig {
        cached_tokens: 7,
        cache_write_tokens: 3,
        ..Default::default()
    });
    let r = send(&mock, &hello()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("msg_mock"), "{id}");
    assert_eq!(
        body,
        json!({
            "id": id, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": MOCK_REPLY}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 3,
                      "cache_read_input_tokens": 7, "output_tokens": 5}
        })
    );
    let again = send(&mock, &hello()).await.json();
    assert_ne!(again["id"], body["id"], "ids are unique per answer");
}

#[actix_web::test]
async fn max_tokens_and_stop_sequences_cut_the_reply() {
    let mock = mock(Behaviour::Normal);
    let mut body = hello();
    body["max_tokens"] = json!(3);
    let r = send(&mock, &body).await.json();
    assert_eq!(r["content"][0]["text"], "Hello from the");
    assert_eq!(r["stop_reason"], "max_tokens");
    assert_eq!(r["usage"]["output_tokens"], 3);

    let mut body = hello();
    body["stop_sequences"] = json!(["upstream"]);
    let r = send(&mock, &body).await.json();
    assert_eq!(r["content"][0]["text"], "Hello from the mock ");
    assert_eq!(r["stop_reason"], "stop_sequence");
    assert_eq!(r["stop_sequence"], "upstream");
}

#[actix_web::test]
async fn tools_are_used_then_answered() {
    let mock = mock(Behaviour::Normal);
    let mut body = hello();
    body["tools"] = weather_tools();
    let r = send(&mock, &body).await.json();
    assert_eq!(
        r["content"],
        json!([
            {"type": "text", "text": MOCK_TOOL_PREAMBLE},
            {"type": "tool_use", "id": "toolu_mock_1", "name": "get_weather",
             "input": {"city": "Paris", "days": 1}}
        ])
    );
    assert_eq!(r["stop_reason"], "tool_use");
    assert_eq!(r["usage"]["output_tokens"], 3 + 5);

    body["messages"] =
        json!([{"role": "user", "content": [{"type": "text", "text": "Do both in parallel"}]}]);
    let r = send(&mock, &body).await.json();
    let ids: Vec<&str> = r["content"].as_array().unwrap()[1..]
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["toolu_mock_1", "toolu_mock_2"]);
    assert_eq!(r["content"][2]["input"], json!({"utc": true}));

    body["messages"] = json!([
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": r["content"]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_mock_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_mock_2", "content": [{"type": "text", "text": "noon"}]}
        ]}
    ]);
    let r = send(&mock, &body).await.json();
    assert_eq!(
        r["content"],
        json!([{"type": "text", "text": MOCK_TOOL_RESULT_REPLY}])
    );
    assert_eq!(r["stop_reason"], "end_turn");
}

#[actix_web::test]
async fn text_streams_in_the_real_event_order() {
    let mock = mock(Behaviour::Normal);
    let mut body = hello();
    body["stream"] = json!(true);
    let r = send(&mock, &body).await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(r.header("request-id").is_some());
    let mut expected = vec!["message_start", "ping", "content_block_start"];
    expected.extend(["content_block_delta"; 5]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(event_names(&r), expected);

    let data = r.data();
    let start = &data[0]["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(start["model"], "claude-sonnet-4-5");
    assert_eq!(start["usage"]["input_tokens"], 12);
    assert_eq!(start["usage"]["output_tokens"], 1);
    assert_eq!(
        data[2],
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    );
    let text: String = data[3..8]
        .iter()
        .map(|d| {
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, MOCK_REPLY);
    assert_eq!(data[8], json!({"type": "content_block_stop", "index": 0}));
    assert_eq!(
        data[9],
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": 5}})
    );
}

#[actix_web::test]
async fn tool_use_streams_input_json_deltas() {
    let mock = mock(Behaviour::Normal);
    let mut body = hello();
    body["stream"] = json!(true);
    body["tools"] = weather_tools();
    body["messages"] = json!([{"role": "user", "content": "Weather and time, in parallel please"}]);
    let r = send(&mock, &body).await;
    let names = event_names(&r);
    assert_eq!(names[..3], ["message_start", "ping", "content_block_start"]);
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
    let data = r.data();
    for (index, (id, name, input)) in [
        (
            "toolu_mock_1",
            "get_weather",
            json!({"city": "Paris", "days": 1}),
        ),
        ("toolu_mock_2", "get_time", json!({"utc": true})),
    ]
    .into_iter()
    .enumerate()
    {
        let index = index + 1; // The text block is 0.
        let of_block: Vec<&Value> = data.iter().filter(|d| d["index"] == index).collect();
        assert_eq!(
            of_block[0]["content_block"],
            json!({"type": "tool_use", "id": id, "name": name, "input": {}})
        );
        let pieces: Vec<&str> = of_block[1..of_block.len() - 1]
            .iter()
            .map(|d| {
                assert_eq!(d["delta"]["type"], "input_json_delta");
                d["delta"]["partial_json"].as_str().unwrap()
            })
            .collect();
        assert_eq!(pieces[0], "", "the first piece is empty");
        assert!(pieces.len() >= 4, "{pieces:?}");
        let json: Value = serde_json::from_str(&pieces.concat()).unwrap();
        assert_eq!(json, input);
        assert_eq!(of_block.last().unwrap()["type"], "content_block_stop");
    }
    let delta = &data[data.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 3 + 10);
}

#[actix_web::test]
async fn stream_failures() {
    let mut body = hello();
    body["stream"] = json!(true);

    let r = send(&mock(Behaviour::StreamError(3)), &body).await;
    assert_eq!(
        event_names(&r),
        ["message_start", "ping", "content_block_start", "error"]
    );
    assert_eq!(
        r.data()[3],
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    assert!(!r.broken && !r.stalled);

    let r = send(&mock(Behaviour::NoDone), &body).await;
    let names = event_names(&r);
    assert_eq!(names.last().unwrap(), "message_delta");
    assert!(!r.broken);

    let resetting = mock(Behaviour::ResetAfter(2));
    let r = send(&resetting, &body).await;
    assert_eq!(event_names(&r), ["message_start", "ping"]);
    let headers = [("x-api-key", KEY), ("anthropic-version", "2023-06-01")];
    let raw = post_raw(resetting.addr, "/v1/messages", &headers, &body);
    assert!(raw.contains("event: ping"), "{raw}");
    assert!(
        !raw.ends_with("0\r\n\r\n"),
        "the connection closes before the final chunk: {raw}"
    );
    let clean = post_raw(
        mock(Behaviour::Normal).addr,
        "/v1/messages",
        &headers,
        &body,
    );
    assert!(clean.ends_with("0\r\n\r\n"), "{clean}");

    let r = send(&mock(Behaviour::StallAfter(2)), &body).await;
    assert_eq!(event_names(&r), ["message_start", "ping"]);
    assert!(r.stalled);
}

#[actix_web::test]
async fn a_reader_leaving_mid_stream_is_counted() {
    let mock = MockUpstream::start(MockConfig {
        chunks: 500,
        chunk_delay: Duration::from_millis(10),
        ..Default::default()
    });
    let mut body = hello();
    body["stream"] = json!(true);
    let mut resp = awc::Client::new()
        .post(format!("{}/messages", mock.anthropic_base()))
        .insert_header(("x-api-key", "k"))
        .insert_header(("anthropic-version", "2023-06-01"))
        .send_json(&body)
        .await
        .unwrap();
    resp.next().await.unwrap().unwrap();
    drop(resp);
    tokio::time::timeout(Duration::from_secs(10), mock.wait_cancelled(1))
        .await
        .expect("the abandoned stream is counted");
}

#[actix_web::test]
async fn chunk_delay_paces_the_events() {
    let mock = MockUpstream::start(MockConfig {
        chunk_delay: Duration::from_millis(20),
        ..Default::default()
    });
    let mut body = hello();
    body["stream"] = json!(true);
    let started = Instant::now();
    let r = send(&mock, &body).await;
    assert_eq!(r.events().len(), 11);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

#[actix_web::test]
async fn error_statuses_use_anthropic_types() {
    let mock = mock(Behaviour::Normal);
    for (status, kind) in [
        (529, "overloaded_error"),
        (429, "rate_limit_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (400, "invalid_request_error"),
        (404, "not_found_error"),
        (500, "api_error"),
        (502, "api_error"),
    ] {
        mock.set_behaviour(Behaviour::Status(status));
        let r = send(&mock, &hello()).await;
        assert_error(&r, status, kind);
        assert_eq!(r.header("retry-after").is_some(), status == 429);
        assert!(r.header("request-id").is_some());
    }
    mock.set_behaviour(Behaviour::Garbage);
    let r = send(&mock, &hello()).await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<Value>(&r.text).is_err());
    mock.set_behaviour(Behaviour::RawStatus {
        status: 503,
        content_type: "text/html".into(),
        body: "<html>upstream connect error</html>".into(),
    });
    let r = send(&mock, &hello()).await;
    assert_eq!(
        (r.status.as_u16(), r.text.as_str()),
        (503, "<html>upstream connect error</html>")
    );
}
