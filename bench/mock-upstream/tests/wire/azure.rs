use mock_upstream::{Behaviour, MockConfig, MockUpstream, MOCK_REPLY};
use serde_json::{json, Value};

use crate::support::{post, Reply};

const KEY: &str = "azure-key-0123456789";

fn mock() -> MockUpstream {
    MockUpstream::start(MockConfig {
        expected_key: Some(KEY.into()),
        ..Default::default()
    })
}

async fn chat(mock: &MockUpstream, query: &str, key: &str, body: &Value) -> Reply {
    post(
        &format!(
            "{}/openai/deployments/prod-gpt4o/chat/completions{query}",
            mock.azure_endpoint()
        ),
        &[("api-key", key)],
        body,
    )
    .await
}

fn hello() -> Value {
    json!({"messages": [{"role": "user", "content": "Hi"}]})
}

fn safe() -> Value {
    let s = json!({"filtered": false, "severity": "safe"});
    json!({"hate": s, "self_harm": s, "sexual": s, "violence": s})
}

#[actix_web::test]
async fn api_version_and_api_key_are_required() {
    let mock = mock();
    let r = chat(&mock, "", KEY, &hello()).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"error": {"code": "404", "message": "Resource not found"}})
    );
    let r = chat(&mock, "?api-version=2024-10-21", "wrong", &hello()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "401");
    let bearer = format!("Bearer {KEY}");
    let r = post(
        &format!(
            "{}/openai/deployments/d/chat/completions?api-version=2024-10-21",
            mock.url()
        ),
        &[("authorization", &bearer)],
        &hello(),
    )
    .await;
    assert_eq!(r.status, 401, "Azure keys go in api-key");
}

#[actix_web::test]
async fn answers_carry_content_filter_results() {
    let mock = mock();
    let r = chat(&mock, "?api-version=2024-10-21", KEY, &hello()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(
        body["model"], "prod-gpt4o",
        "the deployment stands in for a missing model"
    );
    assert_eq!(
        body["prompt_filter_results"],
        json!([{"prompt_index": 0, "content_filter_results": safe()}])
    );
    assert_eq!(body["choices"][0]["content_filter_results"], safe());
    assert_eq!(body["choices"][0]["message"]["content"], MOCK_REPLY);

    let mut streamed = hello();
    streamed["stream"] = json!(true);
    let data = chat(&mock, "?api-version=2024-10-21", KEY, &streamed)
        .await
        .data();
    assert_eq!(
        data[0],
        json!({"choices": [], "created": 0, "id": "", "model": "", "object": "",
               "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": safe()}]})
    );
    assert_eq!(data[1]["choices"][0]["delta"]["role"], "assistant");
    let text: String = data[2..7]
        .iter()
        .map(|c| {
            assert_eq!(c["choices"][0]["content_filter_results"], safe());
            c["choices"][0]["delta"]["content"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, MOCK_REPLY);
    assert_eq!(data[7]["choices"][0]["finish_reason"], "stop");
    assert_eq!(data.len(), 8);
}

#[actix_web::test]
async fn the_content_filter_refuses_with_azures_error() {
    let mock = mock();
    mock.set_behaviour(Behaviour::AzureContentFilter);
    let r = chat(&mock, "?api-version=2024-10-21", KEY, &hello()).await;
    assert_eq!(r.status, 400);
    let error = &r.json()["error"];
    assert_eq!(error["code"], "content_filter");
    assert_eq!(error["param"], "prompt");
    assert_eq!(error["status"], 400);
    assert_eq!(error["innererror"]["code"], "ResponsibleAIPolicyViolation");
    assert_eq!(
        error["innererror"]["content_filter_result"]["hate"],
        json!({"filtered": true, "severity": "high"})
    );

    mock.set_behaviour(Behaviour::Status(429));
    let r = chat(&mock, "?api-version=2024-10-21", KEY, &hello()).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"]["code"], "429");
}
