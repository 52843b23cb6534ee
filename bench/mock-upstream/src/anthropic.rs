//! Anthropic's Messages API (`POST /v1/messages`), as strict as the real one: `x-api-key` and
//! `anthropic-version` are required, and requests are validated (see `validate.rs`) so that a
//! translation bug in api-proxy — an OpenAI-shaped tool, a `system` message, a dangling
//! `tool_result` — comes back as the `invalid_request_error` Anthropic would send. Answers
//! (see `reply.rs`) are a `message` object or its SSE event sequence, with text, tool use,
//! `max_tokens` / `stop_sequences` honoured and cache-aware usage.
//!
//! Every answer carries `request-id` and the `anthropic-ratelimit-*` headers; error bodies are
//! `{"type":"error","error":{"type":…,"message":…},"request_id":…}`.

mod reply;
mod validate;

pub use validate::thinking_signature;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use serde_json::{json, Value};

use crate::sse;
use crate::{Behaviour, MockConfig, MockState};

/// Headers on every Anthropic answer besides `request-id`.
const RATE_LIMIT_HEADERS: [(&str, &str); 4] = [
    ("anthropic-ratelimit-requests-limit", "100"),
    ("anthropic-ratelimit-requests-remaining", "99"),
    ("anthropic-ratelimit-tokens-limit", "100000"),
    ("anthropic-ratelimit-tokens-remaining", "99000"),
];

/// The ids of one answer: `msg_mock…` and `req_mock…`, numbered per mock.
struct Ids {
    message: String,
    request: String,
}

impl Ids {
    fn new(n: u64) -> Self {
        Self {
            message: format!("msg_mock{n:016}"),
            request: format!("req_mock{n:016}"),
        }
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("request-id", self.request.clone())];
        headers.extend(RATE_LIMIT_HEADERS.map(|(n, v)| (n, v.to_owned())));
        headers
    }

    fn response(&self, status: StatusCode) -> HttpResponseBuilder {
        let mut builder = HttpResponse::build(status);
        for (name, value) in self.headers() {
            builder.insert_header((name, value));
        }
        builder
    }

    fn error(&self, status: u16, kind: &str, message: &str) -> HttpResponse {
        self.response(StatusCode::from_u16(status).unwrap())
            .content_type("application/json")
            .body(error_body(kind, message, Some(&self.request)).to_string())
    }
}

fn error_body(kind: &str, message: &str, request_id: Option<&str>) -> Value {
    let mut body = json!({"type": "error", "error": {"type": kind, "message": message}});
    if let Some(id) = request_id {
        body["request_id"] = json!(id);
    }
    body
}

pub async fn messages(
    req: &HttpRequest,
    config: &MockConfig,
    body: &Value,
    state: Arc<MockState>,
) -> HttpResponse {
    let ids = Ids::new(state.next_id());
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    // Anthropic takes its key only from `x-api-key`; a Bearer token is not a key here.
    match (header("x-api-key"), &config.expected_key) {
        (None, _) => {
            return ids.error(401, "authentication_error", "x-api-key header is required");
        }
        (Some(key), Some(expected)) if key != expected => {
            return ids.error(401, "authentication_error", "invalid x-api-key");
        }
        _ => {}
    }
    if header("anthropic-version").is_none() {
        return ids.error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    // A beta may add fields: with `anthropic-beta`, unknown top-level fields are accepted.
    let betas = header("anthropic-beta").is_some();
    if let Err(message) = validate::request(body, betas) {
        return ids.error(400, "invalid_request_error", &message);
    }
    if let Some(resp) = misbehave(config, &ids).await {
        return resp;
    }
    let model = body["model"].as_str().unwrap_or_default();
    let plan = reply::Plan::for_request(config, body);
    if body["stream"] == true {
        let script = plan.events(config, &ids.message, model);
        return sse::respond(
            script,
            config,
            state,
            "text/event-stream; charset=utf-8",
            &ids.headers(),
        );
    }
    ids.response(StatusCode::OK)
        .content_type("application/json")
        .body(plan.message(config, &ids.message, model).to_string())
}

/// The error behaviours in Anthropic's words; `None` answers normally.
async fn misbehave(config: &MockConfig, ids: &Ids) -> Option<HttpResponse> {
    match &config.behaviour {
        Behaviour::Status(status) => Some(status_error(*status, ids)),
        Behaviour::RawStatus {
            status,
            content_type,
            body,
        } => Some(
            ids.response(StatusCode::from_u16(*status).unwrap())
                .content_type(content_type.as_str())
                .body(body.clone()),
        ),
        Behaviour::Stall => {
            std::future::pending::<()>().await;
            None
        }
        Behaviour::Garbage => Some(
            ids.response(StatusCode::OK)
                .content_type("application/json")
                .body("{\"id\": \"msg_1\", \"type\": \"message\", \"content\": [tru"),
        ),
        // Anthropic's own content filter refuses with a plain invalid-request error.
        Behaviour::AzureContentFilter => Some(ids.error(
            400,
            "invalid_request_error",
            "Output blocked by content filtering policy",
        )),
        Behaviour::Normal
        | Behaviour::ResetAfter(_)
        | Behaviour::StallAfter(_)
        | Behaviour::NoDone
        | Behaviour::StreamError(_)
        | Behaviour::ResetBeforeHeaders
        | Behaviour::LargeBody(_)
        | Behaviour::InvalidSse
        | Behaviour::Flood { .. }
        | Behaviour::EndlessEvent(_) => None,
    }
}

/// [`Behaviour::Status`] with the error type Anthropic documents for that status.
fn status_error(status: u16, ids: &Ids) -> HttpResponse {
    let (kind, message) = match status {
        400 => ("invalid_request_error", "Invalid request."),
        401 => ("authentication_error", "invalid x-api-key"),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => ("not_found_error", "Not found"),
        413 => ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
        429 => (
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit (https://docs.anthropic.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",
        ),
        529 => ("overloaded_error", "Overloaded"),
        _ => ("api_error", "Internal server error"),
    };
    let mut resp = ids.error(status, kind, message);
    if status == 429 {
        resp.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("1"),
        );
    }
    resp
}

/// `POST /v1/messages/count_tokens`: the request's input tokens in the mock's unit (one per word
/// of text, anywhere in `system`, `messages` and `tools`, plus 3 per message), so a test can tell
/// an exact count (this) from api-proxy's estimate.
pub fn count_tokens(req: &HttpRequest, config: &MockConfig, body: &Value) -> HttpResponse {
    let ids = Ids::new(0);
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    match (header("x-api-key"), &config.expected_key) {
        (None, _) => return ids.error(401, "authentication_error", "x-api-key header is required"),
        (Some(key), Some(expected)) if key != expected => {
            return ids.error(401, "authentication_error", "invalid x-api-key")
        }
        _ => {}
    }
    if header("anthropic-version").is_none() {
        return ids.error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    if !body["model"].is_string() {
        return ids.error(400, "invalid_request_error", "model: Field required");
    }
    let Some(messages) = body["messages"].as_array() else {
        return ids.error(400, "invalid_request_error", "messages: Field required");
    };
    let tokens = words_in(&body["system"])
        + words_in(&body["messages"])
        + words_in(&body["tools"])
        + 3 * messages.len() as u64;
    HttpResponse::Ok().json(json!({"input_tokens": tokens}))
}

/// Words in every string of `value` that is a `text`, `name` or `description`.
fn words_in(value: &Value) -> u64 {
    match value {
        Value::String(s) => crate::reply::word_count(s),
        Value::Array(items) => items.iter().map(words_in).sum(),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "text" | "name" | "description" | "content"))
            .map(|(_, v)| words_in(v))
            .sum(),
        _ => 0,
    }
}

/// `GET /v1/models` asked with `anthropic-version`: Anthropic's list shape.
pub fn models() -> HttpResponse {
    let model = |id: &str, name: &str| json!({"type": "model", "id": id, "display_name": name, "created_at": "2025-09-29T00:00:00Z"});
    HttpResponse::Ok().json(json!({
        "data": [model("claude-sonnet-4-5", "Claude Sonnet 4.5"), model("claude-haiku-4-5", "Claude Haiku 4.5")],
        "has_more": false,
        "first_id": "claude-sonnet-4-5",
        "last_id": "claude-haiku-4-5"
    }))
}

/// The in-stream error event [`Behaviour::StreamError`] sends.
fn overloaded_event() -> String {
    sse_event("error", &error_body("overloaded_error", "Overloaded", None))
}

/// One Anthropic SSE event: `event: <type>` then its JSON.
fn sse_event(kind: &str, data: &Value) -> String {
    format!("event: {kind}\ndata: {data}\n\n")
}
