use mock_upstream::{
    Behaviour, MockConfig, MockUpstream, MOCK_REASONING_TOKENS, MOCK_REPLY, MOCK_TOOL_RESULT_REPLY,
};
use serde_json::{json, Value};

use crate::support::{post, Reply};

const KEY: &str = "sk-test";

fn mock(config: MockConfig) -> MockUpstream {
    MockUpstream::start(MockConfig {
        expected_key: Some(KEY.into()),
        ..config
    })
}

async fn create(mock: &MockUpstream, body: &Value) -> Reply {
    post(
        &format!("{}/responses", mock.openai_base()),
        &[("authorization", &format!("Bearer {KEY}"))],
        body,
    )
    .await
}

fn weather_tool() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": true}])
}

fn assert_invalid(reply: &Reply, param: &str) -> String {
    assert_eq!(reply.status, 400, "{}", reply.text);
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "invalid_request_error", "{error}");
    assert_eq!(error["param"], param, "{error}");
    error["message"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_text_answer_plain_and_streamed() {
    let mock = mock(MockConfig {
        cached_tokens: 4,
        ..Default::default()
    });
    let body = json!({"model": "gpt-4o", "input": "Hi", "instructions": "Be brief.",
        "metadata": {"run": "1"}, "temperature": 0.2});
    let r = create(&mock, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("x-request-id").unwrap().starts_with("req_mock"));
    let answer = r.json();
    assert!(answer["id"].as_str().unwrap().starts_with("resp_mock"));
    assert_eq!(answer["object"], "response");
    assert_eq!(answer["status"], "completed");
    assert_eq!(answer["store"], true);
    assert_eq!(answer["instructions"], "Be brief.");
    assert_eq!(answer["metadata"], json!({"run": "1"}));
    assert_eq!(answer["temperature"], 0.2);
    assert_eq!(answer["output"][0]["type"], "message");
    assert_eq!(answer["output"][0]["content"][0]["text"], MOCK_REPLY);
    assert_eq!(
        answer["usage"],
        json!({"input_tokens": 12, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 5,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 17})
    );

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let r = create(&mock, &streamed).await;
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let events = r.events();
    for (n, (name, data)) in events.iter().enumerate() {
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(Some(data["type"].as_str().unwrap()), name.as_deref());
        assert_eq!(data["sequence_number"], n);
    }
    let names: Vec<String> = events.iter().map(|(n, _)| n.clone().unwrap()).collect();
    assert_eq!(
        names[..4],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"
        ]
    );
    assert_eq!(names.last().unwrap(), "response.completed");
    let data = r.data();
    let text: String = data
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .inspect(|e| assert!(e["obfuscation"].is_string()))
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, MOCK_REPLY);
    assert_eq!(
        data.last().unwrap()["response"]["usage"]["total_tokens"],
        17
    );
    assert!(!r.text.contains("[DONE]"));
}

#[actix_web::test]
async fn function_calls_outputs_and_reasoning() {
    let mock = mock(MockConfig::default());
    let first = create(
        &mock,
        &json!({"model": "o3-mini", "input": [{"role": "user", "content": "Weather in Paris?"}],
            "tools": weather_tool(), "reasoning": {"effort": "low", "summary": "auto"}}),
    )
    .await
    .json();
    let output = first["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "reasoning");
    assert_eq!(output[1]["type"], "function_call");
    assert_eq!(output[1]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(
        first["usage"]["output_tokens_details"]["reasoning_tokens"],
        MOCK_REASONING_TOKENS
    );
    let call_id = output[1]["call_id"].as_str().unwrap();

    // The call's output, continuing the stored response.
    let follow_up = json!({"model": "o3-mini", "previous_response_id": first["id"], "tools": weather_tool(),
        "input": [{"type": "function_call_output", "call_id": call_id, "output": "sunny"}]});
    let second = create(&mock, &follow_up).await.json();
    assert_eq!(
        second["output"][0]["content"][0]["text"],
        MOCK_TOOL_RESULT_REPLY
    );
    assert_eq!(second["previous_response_id"], first["id"]);

    // The same turn without the stored response: the whole conversation in `input`.
    let replayed = json!({"model": "o3-mini", "tools": weather_tool(), "stream": true, "input": [
        {"role": "user", "content": "Weather in Paris?"},
        output[1].clone(),
        {"type": "function_call_output", "call_id": call_id, "output": "sunny"}]});
    let r = create(&mock, &replayed).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let args: String = r
        .data()
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(args, MOCK_TOOL_RESULT_REPLY);

    // Streamed function calls: arguments in pieces, the whole item at the end.
    let mut streamed =
        json!({"model": "gpt-4o", "input": "Weather?", "tools": weather_tool(), "stream": true});
    let data = create(&mock, &streamed).await.data();
    let pieces: String = data
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(pieces, r#"{"city":"Paris"}"#);
    let done = data
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .unwrap();
    assert_eq!(done["item"]["status"], "completed");
    streamed["tool_choice"] = json!("none");
    let data = create(&mock, &streamed).await.data();
    assert!(data
        .iter()
        .all(|e| e["type"] != "response.function_call_arguments.delta"));
}

#[actix_web::test]
async fn stored_responses_belong_to_the_mock_that_made_them() {
    let (a, b) = (mock(MockConfig::default()), mock(MockConfig::default()));
    let first = create(&a, &json!({"model": "gpt-4o", "input": "Hi"}))
        .await
        .json();
    let follow_up =
        json!({"model": "gpt-4o", "input": "More", "previous_response_id": first["id"]});
    assert_eq!(create(&a, &follow_up).await.status, 200);
    let elsewhere = create(&b, &follow_up).await;
    assert!(assert_invalid(&elsewhere, "previous_response_id").contains("not found"));
    assert_eq!(
        elsewhere.json()["error"]["code"],
        "previous_response_not_found"
    );
    // Not stored: not continuable.
    let unstored = create(
        &a,
        &json!({"model": "gpt-4o", "input": "Hi", "store": false}),
    )
    .await
    .json();
    assert_eq!(unstored["store"], false);
    let r = create(
        &a,
        &json!({"model": "gpt-4o", "input": "x", "previous_response_id": unstored["id"]}),
    )
    .await;
    assert_invalid(&r, "previous_response_id");
}

#[actix_web::test]
async fn invalid_requests_are_refused_as_openai_does() {
    let mock = mock(MockConfig::default());
    let cases = [
        (
            json!({"model": "gpt-4o", "input": "x", "messages": []}),
            "messages",
        ),
        (json!({"input": "x"}), "model"),
        (json!({"model": "gpt-4o"}), "input"),
        (
            json!({"model": "gpt-4o", "input": {"role": "user"}}),
            "input",
        ),
        (
            json!({"model": "gpt-4o", "input": [{"role": "tool", "content": "x"}]}),
            "input[0].role",
        ),
        (
            json!({"model": "gpt-4o", "input": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}),
            "input[0].content[0].type",
        ),
        (
            json!({"model": "gpt-4o", "input": "x", "tools": [{"type": "function", "function": {"name": "f"}}]}),
            "tools[0].name",
        ),
        (
            json!({"model": "gpt-4o", "input": "x", "tools": weather_tool(), "tool_choice": {"type": "function", "name": "other"}}),
            "tool_choice",
        ),
        (
            json!({"model": "gpt-4o", "input": "x", "temperature": 3}),
            "temperature",
        ),
        (
            json!({"model": "gpt-4o", "input": "x", "text": {"format": {"type": "json_schema", "name": "x"}}}),
            "text.format.schema",
        ),
        (
            json!({"model": "gpt-4o", "input": [{"type": "function_call_output", "call_id": "call_x", "output": "x"}]}),
            "input",
        ),
    ];
    for (body, param) in cases {
        assert_invalid(&create(&mock, &body).await, param);
    }
    let r = post(
        &format!("{}/responses", mock.openai_base()),
        &[("authorization", "Bearer wrong")],
        &json!({"model": "gpt-4o", "input": "x"}),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "invalid_api_key");
}

#[actix_web::test]
async fn misbehaviours_in_openai_words() {
    let mock = mock(MockConfig {
        behaviour: Behaviour::Status(429),
        ..Default::default()
    });
    let body = json!({"model": "gpt-4o", "input": "Hi", "stream": true});
    let r = create(&mock, &body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["code"], "rate_limit_exceeded");
    mock.set_behaviour(Behaviour::StreamError(4));
    let r = create(&mock, &body).await;
    let events = r.events();
    assert_eq!(events.len(), 5);
    let last: Value = serde_json::from_str(&events[4].1).unwrap();
    assert_eq!(last["type"], "response.failed");
    assert_eq!(last["sequence_number"], 4);
    assert_eq!(last["response"]["status"], "failed");
    assert_eq!(last["response"]["error"]["code"], "server_error");
    mock.set_behaviour(Behaviour::NoDone);
    let r = create(&mock, &body).await;
    assert!(!r.text.contains("response.completed"));
}
