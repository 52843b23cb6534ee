use mock_upstream::{Behaviour, MockConfig, MockUpstream, MOCK_REPLY};
use serde_json::{json, Value};

use crate::support::{post, Reply};

async fn chat(mock: &MockUpstream, body: &Value) -> Reply {
    post(
        &format!("{}/chat/completions", mock.openai_base()),
        &[("authorization", "Bearer sk-test")],
        body,
    )
    .await
}

fn tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
}

#[actix_web::test]
async fn text_streams_are_unchanged() {
    let mock = MockUpstream::start(MockConfig::default());
    let body = json!({"model": "gpt-4o", "stream": true,
                      "messages": [{"role": "user", "content": "Hi"}]});
    let r = chat(&mock, &body).await;
    let events = r.events();
    assert_eq!(events.len(), 8);
    assert!(events.iter().all(|(name, _)| name.is_none()));
    assert_eq!(events[7].1, "[DONE]");
    let data = r.data();
    let words: Vec<&str> = data[1..6]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(words, ["Hello", " from", " the", " mock", " upstream."]);
    assert_eq!(words.concat(), MOCK_REPLY);
    assert!(data
        .iter()
        .all(|c| c.get("prompt_filter_results").is_none()));

    let plain = chat(
        &mock,
        &json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await
    .json();
    assert_eq!(plain["choices"][0]["message"]["content"], MOCK_REPLY);
    assert_eq!(plain["usage"]["prompt_tokens"], 12);
    assert_eq!(plain["usage"]["completion_tokens"], 5);
}

#[actix_web::test]
async fn tool_calls_plain_and_streamed() {
    let mock = MockUpstream::start(MockConfig::default());
    let mut body = json!({"model": "gpt-4o", "tools": tools(),
                          "messages": [{"role": "user", "content": "Weather in Paris?"}]});
    let r = chat(&mock, &body).await.json();
    let choice = &r["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "call_mock_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );

    body["stream"] = json!(true);
    let data = chat(&mock, &body).await.data();
    assert_eq!(
        data[0]["choices"][0]["delta"]["tool_calls"],
        json!([{"index": 0, "id": "call_mock_1", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}])
    );
    let args: String = data[1..data.len() - 1]
        .iter()
        .map(|c| {
            let call = &c["choices"][0]["delta"]["tool_calls"][0];
            assert_eq!(call["index"], 0);
            assert!(call.get("id").is_none());
            call["function"]["arguments"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(args, "{\"city\":\"Paris\"}");
    assert_eq!(
        data.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );

    body["stream"] = json!(false);
    body["messages"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": r["choices"][0]["message"]["tool_calls"]},
        {"role": "tool", "tool_call_id": "call_mock_1", "content": "sunny"}
    ]);
    let r = chat(&mock, &body).await.json();
    assert_eq!(
        r["choices"][0]["message"]["content"],
        "The weather is sunny."
    );
    assert_eq!(r["choices"][0]["finish_reason"], "stop");
}

#[actix_web::test]
async fn stream_errors_arrive_as_an_error_chunk() {
    let mock = MockUpstream::start(MockConfig {
        behaviour: Behaviour::StreamError(2),
        ..Default::default()
    });
    let body = json!({"model": "gpt-4o", "stream": true,
                      "messages": [{"role": "user", "content": "Hi"}]});
    let r = chat(&mock, &body).await;
    let data = r.data();
    assert_eq!(data.len(), 3);
    assert_eq!(data[2]["error"]["type"], "server_error");
    assert!(!r.text.contains("[DONE]"));
}
