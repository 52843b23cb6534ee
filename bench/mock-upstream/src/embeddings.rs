//! OpenAI (and Azure OpenAI) embeddings: deterministic vectors derived from each input's text,
//! as float arrays or, for `encoding_format: "base64"`, base64 of little-endian `f32`s.

use actix_web::HttpResponse;
use serde_json::{json, Value};

use crate::openai::{self, Flavour};
use crate::reply::word_count;
use crate::MockConfig;

/// Length of each vector unless the request asks for `dimensions`.
pub const MOCK_EMBEDDING_DIMENSIONS: usize = 8;

pub async fn create(config: &MockConfig, body: &Value, flavour: Option<&Flavour>) -> HttpResponse {
    let flavour = flavour.cloned().unwrap_or(Flavour::OpenAi);
    let model = match (body.get("model").and_then(Value::as_str), &flavour) {
        (Some(m), _) => m.to_owned(),
        (None, Flavour::Azure { deployment }) => deployment.clone(),
        (None, Flavour::OpenAi) => {
            return openai::error(
                400,
                "you must provide a model parameter",
                "invalid_request_error",
                None,
            )
        }
    };
    let Some(input) = body.get("input") else {
        return openai::error(
            400,
            "'input' is a required property",
            "invalid_request_error",
            None,
        );
    };
    let Some(inputs) = Input::parse(input) else {
        return openai::error(
            400,
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            "invalid_request_error",
            None,
        );
    };
    let dimensions = match body.get("dimensions") {
        None | Some(Value::Null) => MOCK_EMBEDDING_DIMENSIONS,
        Some(d) => match d.as_u64() {
            Some(d @ 1..=4096) => d as usize,
            _ => {
                return openai::error(
                    400,
                    "Invalid value for 'dimensions': must be a positive integer.",
                    "invalid_request_error",
                    Some("invalid_value"),
                )
            }
        },
    };
    let base64 = match body.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return openai::error(
                400,
                &format!(
                "Invalid value for 'encoding_format': '{other}' is not one of ['float', 'base64']."
            ),
                "invalid_request_error",
                Some("invalid_value"),
            )
        }
    };
    if let Some(resp) = openai::misbehave(config, &flavour).await {
        return resp;
    }
    let tokens: u64 = inputs.iter().map(Input::tokens).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let vector = vector(&input.seed(), dimensions);
            let embedding = if base64 {
                Value::from(encode_base64(&f32_le_bytes(&vector)))
            } else {
                Value::from(vector)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    HttpResponse::Ok().content_type("application/json").body(
        json!({
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
        })
        .to_string(),
    )
}

/// One input: text, or text already tokenized.
#[derive(Debug, Clone, PartialEq)]
enum Input {
    Text(String),
    Tokens(Vec<u64>),
}

impl Input {
    /// A string, an array of strings, an array of tokens or an array of token arrays; `None`
    /// when empty or of another shape.
    fn parse(input: &Value) -> Option<Vec<Input>> {
        let tokens = |v: &Value| -> Option<Vec<u64>> {
            let ts = v.as_array()?;
            (!ts.is_empty()).then_some(())?;
            ts.iter().map(Value::as_u64).collect()
        };
        match input {
            Value::String(s) if !s.is_empty() => Some(vec![Input::Text(s.clone())]),
            Value::Array(items) if !items.is_empty() => {
                if let Some(ts) = tokens(input) {
                    return Some(vec![Input::Tokens(ts)]);
                }
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) if !s.is_empty() => Some(Input::Text(s.clone())),
                        other => tokens(other).map(Input::Tokens),
                    })
                    .collect()
            }
            _ => None,
        }
    }

    fn tokens(&self) -> u64 {
        match self {
            Input::Text(s) => word_count(s),
            Input::Tokens(ts) => ts.len() as u64,
        }
    }

    fn seed(&self) -> String {
        match self {
            Input::Text(s) => s.clone(),
            Input::Tokens(ts) => format!("{ts:?}"),
        }
    }
}

/// A unit-length vector that depends only on `text` (FNV-1a seeding an xorshift generator), so
/// equal inputs embed equally across runs and processes.
fn vector(text: &str, dimensions: usize) -> Vec<f32> {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    }) | 1;
    let raw: Vec<f32> = (0..dimensions)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Top 24 bits to [-1, 1).
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        return raw;
    }
    raw.iter().map(|x| x / norm).collect()
}

fn f32_le_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Standard base64 with padding, which is what OpenAI sends.
fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_unit_and_input_dependent() {
        let a = vector("hello world", 8);
        assert_eq!(a, vector("hello world", 8));
        assert_ne!(a, vector("hello there", 8));
        assert_eq!(a.len(), 8);
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(encode_base64(b""), "");
        assert_eq!(encode_base64(b"f"), "Zg==");
        assert_eq!(encode_base64(b"fo"), "Zm8=");
        assert_eq!(encode_base64(b"foo"), "Zm9v");
        assert_eq!(encode_base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode_base64(&1.0f32.to_le_bytes()), "AACAPw==");
    }

    #[test]
    fn inputs_take_every_documented_shape() {
        assert_eq!(
            Input::parse(&json!("a b")),
            Some(vec![Input::Text("a b".into())])
        );
        assert_eq!(Input::parse(&json!(["a", "b c"])).unwrap().len(), 2);
        assert_eq!(
            Input::parse(&json!([1, 2, 3])),
            Some(vec![Input::Tokens(vec![1, 2, 3])])
        );
        assert_eq!(Input::parse(&json!([[1], [2, 3]])).unwrap().len(), 2);
        assert_eq!(Input::parse(&json!("")), None);
        assert_eq!(Input::parse(&json!([])), None);
        assert_eq!(Input::parse(&json!({"text": "a"})), None);
    }
}
