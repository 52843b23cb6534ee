use mock_upstream::{MockConfig, MockUpstream, MOCK_EMBEDDING_DIMENSIONS};
use serde_json::{json, Value};

use crate::support::{post, Reply};

async fn embed(mock: &MockUpstream, body: &Value) -> Reply {
    post(
        &format!("{}/embeddings", mock.openai_base()),
        &[("authorization", "Bearer sk-test")],
        body,
    )
    .await
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// Standard base64 back to bytes, for checking the mock's encoder.
fn decode_base64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let digits: Vec<u8> = chunk
            .iter()
            .filter(|c| **c != b'=')
            .map(|c| value(*c))
            .collect();
        let n = digits
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        out.extend(&n.to_be_bytes()[1..digits.len()]);
    }
    out
}

#[actix_web::test]
async fn strings_and_arrays_embed_deterministically() {
    let mock = MockUpstream::start(MockConfig::default());
    let r = embed(
        &mock,
        &json!({"model": "text-embedding-3-small", "input": "the quick brown fox"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let one = r.json();
    assert_eq!(one["object"], "list");
    assert_eq!(one["model"], "text-embedding-3-small");
    assert_eq!(one["usage"], json!({"prompt_tokens": 4, "total_tokens": 4}));
    assert_eq!(one["data"][0]["object"], "embedding");
    assert_eq!(one["data"][0]["index"], 0);
    assert_eq!(
        floats(&one["data"][0]["embedding"]).len(),
        MOCK_EMBEDDING_DIMENSIONS
    );

    let many = embed(
        &mock,
        &json!({"model": "text-embedding-3-small",
                                    "input": ["the quick brown fox", "jumps"]}),
    )
    .await
    .json();
    assert_eq!(many["usage"]["prompt_tokens"], 5);
    assert_eq!(many["data"][1]["index"], 1);
    assert_eq!(many["data"][0]["embedding"], one["data"][0]["embedding"]);
    assert_ne!(many["data"][1]["embedding"], one["data"][0]["embedding"]);

    let encoded = embed(&mock, &json!({"model": "text-embedding-3-small",
                                       "input": "the quick brown fox", "encoding_format": "base64"}))
    .await
    .json();
    let bytes = decode_base64(encoded["data"][0]["embedding"].as_str().unwrap());
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, floats(&one["data"][0]["embedding"]));
}

#[actix_web::test]
async fn a_missing_input_is_an_openai_error() {
    let mock = MockUpstream::start(MockConfig::default());
    let r = embed(&mock, &json!({"model": "text-embedding-3-small"})).await;
    assert_eq!(r.status, 400);
    let error = &r.json()["error"];
    assert_eq!(error["type"], "invalid_request_error");
    assert!(error["message"].as_str().unwrap().contains("'input'"));
}

#[actix_web::test]
async fn azure_deployments_embed_too() {
    let mock = MockUpstream::start(MockConfig::default());
    let r = post(
        &format!(
            "{}/openai/deployments/embed-small/embeddings?api-version=2024-10-21",
            mock.url()
        ),
        &[("api-key", "k")],
        &json!({"input": "hello world"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["model"], "embed-small");
    assert_eq!(r.json()["usage"]["total_tokens"], 2);
}
