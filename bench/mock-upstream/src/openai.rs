//! OpenAI chat completion responses, byte-compatible with the real API's shape, plain and
//! streamed, with text or tool calls; Azure OpenAI's variant adds content-filter annotations
//! (see `azure.rs`) but is otherwise the same bytes. A reasoning model (an id containing
//! `reason`, as `deepseek-reasoner`) also gives its reasoning in `reasoning_content`, as DeepSeek
//! does, before the answer.

use std::sync::Arc;

use actix_web::HttpResponse;
use serde_json::{json, Value};

use crate::reply::{self, ToolCall, MOCK_THINKING, MOCK_TOOL_RESULT_REPLY, TOOL_CALL_TOKENS};

/// Whether `model` reasons aloud (`reasoning_content`).
fn reasons(model: &str) -> bool {
    model.contains("reason")
}
use crate::sse::{self, Script};
use crate::{azure, Behaviour, MockConfig, MockState};

pub const MOCK_CREATED: i64 = 1_732_000_000;
pub const MOCK_FINGERPRINT: &str = "fp_mock";

/// Which service's dialect of the chat completions API to speak.
#[derive(Debug, Clone, PartialEq)]
pub enum Flavour {
    OpenAi,
    /// Azure OpenAI: the model may be left out of the body (the deployment names it), and
    /// answers carry `prompt_filter_results` / `content_filter_results`.
    Azure {
        deployment: String,
    },
}

impl Flavour {
    fn is_azure(&self) -> bool {
        matches!(self, Flavour::Azure { .. })
    }
}

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

/// [`Behaviour::Status`] as OpenAI words it.
pub fn misbehaving_status(status: u16) -> HttpResponse {
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

/// The answer for the error behaviours (statuses, raw bodies, stalls, garbage), shared by chat and
/// embeddings; `None` when the request is to be answered normally.
pub async fn misbehave(config: &MockConfig, flavour: &Flavour) -> Option<HttpResponse> {
    match &config.behaviour {
        Behaviour::Status(s) => Some(match flavour {
            Flavour::Azure { .. } => azure::status_error(*s),
            Flavour::OpenAi => misbehaving_status(*s),
        }),
        Behaviour::RawStatus {
            status,
            content_type,
            body,
        } => Some(
            HttpResponse::build(actix_web::http::StatusCode::from_u16(*status).unwrap())
                .content_type(content_type.as_str())
                .body(body.clone()),
        ),
        Behaviour::Stall => {
            std::future::pending::<()>().await;
            None
        }
        Behaviour::Garbage => Some(
            HttpResponse::Ok()
                .content_type("application/json")
                .body("{\"id\": \"chatcmpl-1\", \"choices\": [tru"),
        ),
        Behaviour::AzureContentFilter => Some(azure::content_filter_error()),
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

fn usage(config: &MockConfig, completion: u64) -> Value {
    json!({
        "prompt_tokens": config.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": config.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": config.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    })
}

/// What the assistant says to one request.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// Text, one piece per token.
    Text(Vec<String>),
    ToolCalls(Vec<ToolCall>),
}

impl Answer {
    /// Tool calls when the request offers tools and the conversation does not already end with a
    /// tool's result; the weather when it does; the mock reply otherwise.
    fn for_request(config: &MockConfig, body: &Value) -> Self {
        let messages = body["messages"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if messages.last().is_some_and(|m| m["role"] == "tool") {
            return Answer::Text(reply::word_pieces(MOCK_TOOL_RESULT_REPLY));
        }
        let calls = tool_calls(body, messages);
        if calls.is_empty() {
            Answer::Text(reply::reply_pieces(config.chunks))
        } else {
            Answer::ToolCalls(calls)
        }
    }

    fn completion_tokens(&self) -> u64 {
        match self {
            Answer::Text(pieces) => pieces.len() as u64,
            Answer::ToolCalls(calls) => calls.len() as u64 * TOOL_CALL_TOKENS,
        }
    }

    fn finish_reason(&self) -> &'static str {
        match self {
            Answer::Text(_) => "stop",
            Answer::ToolCalls(_) => "tool_calls",
        }
    }
}

/// The calls to make: none for `tool_choice: "none"`, the named function when one is forced, every
/// tool when the user says "parallel" (and `parallel_tool_calls` is not false), else the first.
fn tool_calls(body: &Value, messages: &[Value]) -> Vec<ToolCall> {
    let functions: Vec<(&str, Option<&Value>)> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let f = &t["function"];
            Some((f["name"].as_str()?, f.get("parameters")))
        })
        .collect();
    let choice = &body["tool_choice"];
    if functions.is_empty() || choice == "none" {
        return Vec::new();
    }
    let chosen: Vec<(&str, Option<&Value>)> =
        if let Some(forced) = choice.pointer("/function/name").and_then(Value::as_str) {
            functions
                .into_iter()
                .filter(|(n, _)| *n == forced)
                .collect()
        } else if body["parallel_tool_calls"] != false
            && reply::wants_parallel(&last_user_text(messages))
        {
            functions
        } else {
            functions.into_iter().take(1).collect()
        };
    chosen
        .into_iter()
        .enumerate()
        .map(|(i, (name, schema))| ToolCall::new("call_mock_", i, name, schema))
        .collect()
}

fn last_user_text(messages: &[Value]) -> String {
    let Some(last) = messages.iter().rev().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &last["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn openai_tool_calls(calls: &[ToolCall]) -> Value {
    calls
        .iter()
        .map(|c| {
            json!({"id": c.id, "type": "function",
                   "function": {"name": c.name, "arguments": c.input_json()}})
        })
        .collect()
}

pub async fn chat(
    config: &MockConfig,
    body: &Value,
    state: Arc<MockState>,
    flavour: Flavour,
) -> HttpResponse {
    let model = match (body.get("model").and_then(Value::as_str), &flavour) {
        (Some(model), _) => model.to_owned(),
        (None, Flavour::Azure { deployment }) => deployment.clone(),
        (None, Flavour::OpenAi) => {
            return error(
                400,
                "you must provide a model parameter",
                "invalid_request_error",
                None,
            )
        }
    };
    if !body.get("messages").is_some_and(Value::is_array) {
        return error(
            400,
            "Missing required parameter: 'messages'.",
            "invalid_request_error",
            Some("missing_required_parameter"),
        );
    }
    if let Some(resp) = misbehave(config, &flavour).await {
        return resp;
    }
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let answer = Answer::for_request(config, body);
    if !stream {
        return HttpResponse::Ok()
            .content_type("application/json")
            .body(completion(config, &model, &answer, &flavour).to_string());
    }
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let script = chunks(config, &model, &answer, &flavour, include_usage);
    sse::respond(
        script,
        config,
        state,
        "text/event-stream; charset=utf-8",
        &[],
    )
}

fn completion(config: &MockConfig, model: &str, answer: &Answer, flavour: &Flavour) -> Value {
    let message = match answer {
        Answer::Text(pieces) => json!({
            "role": "assistant", "content": pieces.concat(), "refusal": null, "annotations": []
        }),
        Answer::ToolCalls(calls) => json!({
            "role": "assistant", "content": null, "tool_calls": openai_tool_calls(calls),
            "refusal": null, "annotations": []
        }),
    };
    let mut message = message;
    if reasons(model) {
        message["reasoning_content"] = json!(MOCK_THINKING);
    }
    let mut body = json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": MOCK_CREATED,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": answer.finish_reason()
        }],
        "usage": usage(config, answer.completion_tokens()),
        "service_tier": "default",
        "system_fingerprint": MOCK_FINGERPRINT
    });
    if flavour.is_azure() {
        body["prompt_filter_results"] = azure::prompt_filter_results();
        body["choices"][0]["content_filter_results"] = match answer {
            Answer::Text(_) => azure::safe_filter_results(),
            Answer::ToolCalls(_) => json!({}),
        };
    }
    body
}

fn chunks(
    config: &MockConfig,
    model: &str,
    answer: &Answer,
    flavour: &Flavour,
    include_usage: bool,
) -> Script {
    let azure = flavour.is_azure();
    // Azure annotates content chunks with the filter's verdict and the others with `{}`.
    let chunk = |delta: Value, finish: Value, filtered: bool| {
        let mut choice =
            json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish});
        if azure {
            choice["content_filter_results"] = if filtered {
                azure::safe_filter_results()
            } else {
                json!({})
            };
        }
        let mut c = json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": MOCK_CREATED,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": MOCK_FINGERPRINT,
            "choices": [choice]
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        format!("data: {c}\n\n")
    };
    let mut events = Vec::new();
    if azure {
        events.push(format!("data: {}\n\n", azure::prompt_filter_chunk()));
    }
    if reasons(model) {
        events.push(chunk(
            json!({"role": "assistant", "content": null, "reasoning_content": ""}),
            Value::Null,
            false,
        ));
        for p in reply::word_pieces(MOCK_THINKING) {
            events.push(chunk(json!({"reasoning_content": p}), Value::Null, false));
        }
    }
    match answer {
        Answer::Text(pieces) => {
            events.push(chunk(
                json!({"role": "assistant", "content": "", "refusal": null}),
                Value::Null,
                false,
            ));
            for p in pieces {
                events.push(chunk(json!({"content": p}), Value::Null, true));
            }
        }
        Answer::ToolCalls(calls) => {
            for (i, call) in calls.iter().enumerate() {
                let head = json!({"index": i, "id": call.id, "type": "function",
                                  "function": {"name": call.name, "arguments": ""}});
                let delta = if i == 0 {
                    json!({"role": "assistant", "content": null, "tool_calls": [head], "refusal": null})
                } else {
                    json!({"tool_calls": [head]})
                };
                events.push(chunk(delta, Value::Null, false));
                for piece in reply::split_json(&call.input_json()) {
                    events.push(chunk(
                        json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                        Value::Null,
                        false,
                    ));
                }
            }
        }
    }
    events.push(chunk(json!({}), json!(answer.finish_reason()), false));
    if include_usage {
        let last = json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": MOCK_CREATED,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": MOCK_FINGERPRINT,
            "choices": [],
            "usage": usage(config, answer.completion_tokens())
        });
        events.push(format!("data: {last}\n\n"));
    }
    let error = json!({"error": {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error", "param": null, "code": null
    }});
    Script {
        events,
        terminator: Some("data: [DONE]\n\n".to_owned()),
        error_event: format!("data: {error}\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[String]) -> Vec<Value> {
        events
            .iter()
            .map(|e| {
                let json = e.strip_prefix("data: ").unwrap().trim_end();
                serde_json::from_str(json).unwrap()
            })
            .collect()
    }

    #[test]
    fn text_streams_keep_their_exact_shape() {
        let config = MockConfig::default();
        let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]});
        let answer = Answer::for_request(&config, &body);
        let script = chunks(&config, "gpt-4o", &answer, &Flavour::OpenAi, false);
        let chunks = data(&script.events);
        assert_eq!(chunks.len(), 7);
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let text: String = chunks[1..6]
            .iter()
            .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
            .collect();
        assert_eq!(text, reply::MOCK_REPLY);
        assert_eq!(chunks[6]["choices"][0]["finish_reason"], "stop");
        assert!(chunks
            .iter()
            .all(|c| c["choices"][0].get("content_filter_results").is_none()));
    }

    #[test]
    fn tools_are_called_and_streamed_as_argument_pieces() {
        let config = MockConfig::default();
        let body = json!({
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Weather?"}],
            "tools": [{"type": "function", "function": {"name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
        });
        let answer = Answer::for_request(&config, &body);
        let full = completion(&config, "gpt-4o", &answer, &Flavour::OpenAi);
        assert_eq!(full["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(full["choices"][0]["message"]["content"], Value::Null);
        let call = &full["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["id"], "call_mock_1");
        assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
        assert_eq!(full["usage"]["completion_tokens"], 5);

        let chunks = data(&chunks(&config, "gpt-4o", &answer, &Flavour::OpenAi, false).events);
        let head = &chunks[0]["choices"][0]["delta"];
        assert_eq!(head["role"], "assistant");
        assert_eq!(head["tool_calls"][0]["function"]["arguments"], "");
        assert_eq!(head["tool_calls"][0]["id"], "call_mock_1");
        let args: String = chunks[1..chunks.len() - 1]
            .iter()
            .map(|c| {
                let tc = &c["choices"][0]["delta"]["tool_calls"][0];
                assert_eq!(tc.as_object().unwrap().len(), 2, "only index and function");
                tc["function"]["arguments"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(args, r#"{"city":"Paris"}"#);
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            "tool_calls"
        );
    }

    #[test]
    fn tool_results_and_tool_choice_none_get_text() {
        let config = MockConfig::default();
        let tools = json!([{"type": "function", "function": {"name": "a"}},
                           {"type": "function", "function": {"name": "b"}}]);
        let after = json!({"messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": null, "tool_calls": []},
            {"role": "tool", "tool_call_id": "call_mock_1", "content": "sunny"}
        ], "tools": tools});
        assert_eq!(
            Answer::for_request(&config, &after),
            Answer::Text(reply::word_pieces(MOCK_TOOL_RESULT_REPLY))
        );
        let none = json!({"messages": [{"role": "user", "content": "x"}], "tools": tools,
                          "tool_choice": "none"});
        assert_eq!(
            Answer::for_request(&config, &none),
            Answer::Text(reply::reply_pieces(5))
        );
        let parallel = json!({"messages": [{"role": "user", "content": "both, in parallel"}],
                              "tools": tools});
        let Answer::ToolCalls(calls) = Answer::for_request(&config, &parallel) else {
            panic!("tool calls expected");
        };
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].id, "call_mock_2");
    }
}
