//! OpenAI's Responses API (`POST /v1/responses`), as strict as the real one: requests are
//! validated (see `validate.rs`) so that a bug in what api-proxy forwards — a field it should not
//! add, a chat-shaped tool, a function output without its call — comes back as OpenAI's own 400.
//! Answers (see `reply.rs`) are a `response` object or its event stream, with text, function
//! calls, reasoning and usage (cached and reasoning tokens).
//!
//! Responses are stored unless the request says `store: false`, and `previous_response_id` is
//! accepted only for a response this mock stored: a follow-up sent to another mock (another
//! account) gets OpenAI's `previous_response_not_found`.

mod reply;
mod validate;

use std::collections::HashSet;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub use reply::{MOCK_REASONING_SUMMARY, MOCK_REASONING_TOKENS};

use crate::openai::{self, Flavour};
use crate::{carries_key, sse, MockConfig, MockState};

/// What the mock keeps of a stored response: the function calls it ended with.
#[derive(Debug, Clone, Default)]
pub struct StoredResponse {
    calls: HashSet<String>,
}

/// A 400 `invalid_request_error` (OpenAI's status for every failed check, an unknown
/// `previous_response_id` included).
fn error(invalid: validate::Invalid) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("application/json")
        .body(
            json!({"error": {"message": invalid.message, "type": "invalid_request_error",
                   "param": invalid.param, "code": invalid.code}})
            .to_string(),
        )
}

pub async fn create(
    req: &HttpRequest,
    config: &MockConfig,
    body: &Value,
    state: Arc<MockState>,
) -> HttpResponse {
    if let Some(expected) = &config.expected_key {
        if !carries_key(req, expected) {
            return openai::error(
                401,
                "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                Some("invalid_api_key"),
            );
        }
    }
    let previous = body["previous_response_id"]
        .as_str()
        .and_then(|id| state.responses.lock().unwrap().get(id).cloned());
    let context = validate::Context {
        previous_calls: previous.as_ref().map(|p| &p.calls),
    };
    if let Err(invalid) = validate::request(body, &context) {
        return error(invalid);
    }
    if let Some(resp) = openai::misbehave(config, &Flavour::OpenAi).await {
        return resp;
    }
    let ids = reply::Ids::new(state.next_id());
    let plan = reply::Plan::for_request(config, body);
    if body["store"] != false {
        let calls = plan.calls.iter().map(|c| c.id.clone()).collect();
        state
            .responses
            .lock()
            .unwrap()
            .insert(ids.response.clone(), StoredResponse { calls });
    }
    let headers = [("x-request-id", format!("req_mock{:016x}", state.next_id()))];
    if body["stream"] == true {
        let failing_after = match config.behaviour {
            crate::Behaviour::StreamError(n) => n,
            _ => 0,
        };
        let script = plan.events(config, body, &ids, failing_after);
        return sse::respond(
            script,
            config,
            state,
            "text/event-stream; charset=utf-8",
            &headers,
        );
    }
    let mut response = HttpResponse::Ok();
    for (name, value) in headers {
        response.insert_header((name, value));
    }
    response
        .content_type("application/json")
        .body(plan.object(config, body, &ids).to_string())
}
