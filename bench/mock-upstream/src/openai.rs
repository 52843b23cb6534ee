//! OpenAI chat completion responses, byte-compatible with the real API's shape.

use std::sync::Arc;

use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::stream;
use serde_json::{json, Value};

use crate::{Behaviour, MockConfig, MockState};

pub const MOCK_REPLY: &str = "Hello from the mock upstream.";
pub const MOCK_CREATED: i64 = 1_732_000_000;
pub const MOCK_FINGERPRINT: &str = "fp_mock";

pub fn error(status: u16, message: &str, kind: &str, code: Option<&str>) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
                .to_string(),
        )
}

pub fn models() -> HttpResponse {
    HttpResponse::Ok().json(json!({"object": "list", "data": [
        {"id": "gpt-4o", "object": "model", "created": MOCK_CREATED, "owned_by": "system"}
    ]}))
}

fn status_error(status: u16) -> HttpResponse {
    match status {
        400 => error(400, "Invalid request.", "invalid_request_error", None),
        401 => error(
            401,
            "Incorrect API key provided.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        429 => error(
            429,
            "Rate limit reached for requests",
            "requests",
            Some("rate_limit_exceeded"),
        ),
        503 => error(
            503,
            "The engine is currently overloaded, please try again later",
            "server_error",
            None,
        ),
        s => error(
            s,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
    }
}

/// Words of the reply, one per streamed content chunk.
fn pieces(chunks: usize) -> Vec<String> {
    let words: Vec<&str> = MOCK_REPLY.split(' ').collect();
    let n = chunks.max(1);
    (0..n)
        .map(|i| {
            let w = words[i % words.len()];
            if i == 0 {
                w.to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect()
}

fn usage(config: &MockConfig, completion: u64) -> Value {
    json!({
        "prompt_tokens": config.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": config.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": config.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

pub async fn chat(config: &MockConfig, body: &Value, state: Arc<MockState>) -> HttpResponse {
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return error(
            400,
            "you must provide a model parameter",
            "invalid_request_error",
            None,
        );
    };
    if !body.get("messages").is_some_and(Value::is_array) {
        return error(
            400,
            "Missing required parameter: 'messages'.",
            "invalid_request_error",
            Some("missing_required_parameter"),
        );
    }
    let model = model.to_owned();
    match &config.behaviour {
        Behaviour::Status(s) => return status_error(*s),
        Behaviour::RawStatus {
            status,
            content_type,
            body,
        } => {
            return HttpResponse::build(actix_web::http::StatusCode::from_u16(*status).unwrap())
                .content_type(content_type.as_str())
                .body(body.clone())
        }
        Behaviour::Stall => {
            std::future::pending::<()>().await;
        }
        Behaviour::Garbage => {
            return HttpResponse::Ok()
                .content_type("application/json")
                .body("{\"id\": \"chatcmpl-1\", \"choices\": [tru");
        }
        _ => {}
    }
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let parts = pieces(config.chunks);
    if !stream {
        let content: String = parts.concat();
        return HttpResponse::Ok().content_type("application/json").body(
            json!({
                "id": "chatcmpl-mock",
                "object": "chat.completion",
                "created": MOCK_CREATED,
                "model": model,
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": null, "annotations": []},
                    "logprobs": null,
                    "finish_reason": "stop"
                }],
                "usage": usage(config, parts.len() as u64),
                "service_tier": "default",
                "system_fingerprint": MOCK_FINGERPRINT
            })
            .to_string(),
        );
    }
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": MOCK_CREATED,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": MOCK_FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        format!("data: {c}\n\n")
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        Value::Null,
    )];
    for p in &parts {
        events.push(chunk(json!({"content": p}), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    if include_usage {
        let last = json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": MOCK_CREATED,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": MOCK_FINGERPRINT,
            "choices": [],
            "usage": usage(config, parts.len() as u64)
        });
        events.push(format!("data: {last}\n\n"));
    }
    let (limit, ending) = match config.behaviour {
        Behaviour::ResetAfter(n) => (n.min(events.len()), Ending::Reset),
        Behaviour::StallAfter(n) => (n.min(events.len()), Ending::Stall),
        Behaviour::NoDone => (events.len(), Ending::Clean),
        _ => {
            events.push("data: [DONE]\n\n".to_owned());
            (events.len(), Ending::Clean)
        }
    };
    events.truncate(limit);
    let guard = StreamGuard { state, done: false };
    let delay = config.chunk_delay;
    let body = stream::unfold(
        (events.into_iter(), guard, 0usize),
        move |(mut it, mut guard, i)| async move {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match it.next() {
                Some(e) => Some((Ok::<_, std::io::Error>(Bytes::from(e)), (it, guard, i + 1))),
                None => match ending {
                    Ending::Clean => {
                        guard.complete();
                        None
                    }
                    Ending::Reset => {
                        // Let what was sent reach the wire first, so this is a reset mid-stream and
                        // not before the headers.
                        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
                        guard.complete();
                        Some((Err(std::io::Error::other("mock reset")), (it, guard, i + 1)))
                    }
                    Ending::Stall => {
                        std::future::pending::<()>().await;
                        None
                    }
                },
            }
        },
    );
    HttpResponse::Ok()
        .content_type("text/event-stream; charset=utf-8")
        .insert_header(("cache-control", "no-cache"))
        .streaming(body)
}

#[derive(Clone, Copy)]
enum Ending {
    Clean,
    Reset,
    Stall,
}

/// Counts streams dropped before their end (the reader went away).
struct StreamGuard {
    state: Arc<MockState>,
    done: bool,
}

impl StreamGuard {
    fn complete(&mut self) {
        self.done = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.done {
            self.state.stream_cancelled();
        }
    }
}
