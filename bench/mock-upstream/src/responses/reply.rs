//! The answer to a valid Responses request, planned once and rendered either as a `response`
//! object or as its SSE event sequence (`event: <type>`, every payload numbered by
//! `sequence_number`, deltas carrying OpenAI's `obfuscation` padding), so both always agree.
//!
//! Tokens are the mock's unit: one per word of text, [`TOOL_CALL_TOKENS`] per function call, and
//! [`MOCK_REASONING_TOKENS`] of reasoning when `reasoning.effort` asks for some (counted in
//! `output_tokens` too, as OpenAI does).

use serde_json::{json, Map, Value};

use crate::reply::{self, ToolCall, MOCK_TOOL_RESULT_REPLY, TOOL_CALL_TOKENS};
use crate::sse::Script;
use crate::{MockConfig, MOCK_CREATED};

/// Reasoning tokens reported when the request asks the model to reason.
pub const MOCK_REASONING_TOKENS: u64 = 8;
/// The reasoning summary, when `reasoning.summary` asks for one.
pub const MOCK_REASONING_SUMMARY: &str = "**Answering** The mock thought it over.";

/// Request members the `response` object repeats, with the API's defaults.
const ECHOED: &[(&str, &str)] = &[
    ("instructions", "null"),
    ("max_output_tokens", "null"),
    ("max_tool_calls", "null"),
    ("parallel_tool_calls", "true"),
    ("previous_response_id", "null"),
    ("prompt_cache_key", "null"),
    ("reasoning", r#"{"effort":null,"summary":null}"#),
    ("safety_identifier", "null"),
    ("service_tier", r#""default""#),
    ("temperature", "1.0"),
    ("text", r#"{"format":{"type":"text"},"verbosity":"medium"}"#),
    ("tool_choice", r#""auto""#),
    ("tools", "[]"),
    ("top_logprobs", "0"),
    ("top_p", "1.0"),
    ("truncation", r#""disabled""#),
    ("user", "null"),
    ("metadata", "{}"),
];

/// The ids of one answer.
pub struct Ids {
    pub response: String,
    n: u64,
}

impl Ids {
    pub fn new(n: u64) -> Self {
        Self {
            response: format!("resp_mock{n:016x}"),
            n,
        }
    }

    fn item(&self, prefix: &str, index: usize) -> String {
        format!("{prefix}_mock{:016x}{index:02}", self.n)
    }
}

/// What the model says.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// A reasoning item first, with a summary when one was asked for.
    pub reasoning: Option<Option<String>>,
    pub text: Vec<String>,
    pub calls: Vec<ToolCall>,
}

impl Plan {
    /// The weather once the input ends with a function's output; function calls when functions
    /// are offered (and `tool_choice` is not `none`); the mock reply otherwise.
    pub fn for_request(config: &MockConfig, body: &Value) -> Self {
        let items = body["input"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let reasoning = match body.pointer("/reasoning/effort").and_then(Value::as_str) {
            None | Some("none") => None,
            Some(_) => Some(
                body.pointer("/reasoning/summary")
                    .and_then(Value::as_str)
                    .map(|_| MOCK_REASONING_SUMMARY.to_owned()),
            ),
        };
        if items
            .last()
            .is_some_and(|i| i["type"] == "function_call_output")
        {
            return Self {
                reasoning,
                text: reply::word_pieces(MOCK_TOOL_RESULT_REPLY),
                calls: Vec::new(),
            };
        }
        let calls = function_calls(body, &last_user_text(body));
        if calls.is_empty() {
            Self {
                reasoning,
                text: reply::reply_pieces(config.chunks),
                calls,
            }
        } else {
            Self {
                reasoning,
                text: Vec::new(),
                calls,
            }
        }
    }

    pub fn reasoning_tokens(&self) -> u64 {
        if self.reasoning.is_some() {
            MOCK_REASONING_TOKENS
        } else {
            0
        }
    }

    pub fn output_tokens(&self) -> u64 {
        self.text.len() as u64
            + self.calls.len() as u64 * TOOL_CALL_TOKENS
            + self.reasoning_tokens()
    }

    /// The output items, as they are when done.
    pub fn output(&self, ids: &Ids, encrypted: bool) -> Vec<Value> {
        let mut items = Vec::new();
        if let Some(summary) = &self.reasoning {
            let mut item = json!({"id": ids.item("rs", items.len()), "type": "reasoning",
                "summary": summary.iter().map(|s| json!({"type": "summary_text", "text": s})).collect::<Vec<_>>()});
            if encrypted {
                item["encrypted_content"] = json!(format!("gAAAAmock{}", ids.response));
            }
            items.push(item);
        }
        if !self.text.is_empty() {
            items.push(
                json!({"id": ids.item("msg", items.len()), "type": "message", "status": "completed",
                "content": [text_part(&self.text.concat())], "role": "assistant"}),
            );
        }
        for call in &self.calls {
            items.push(json!({"id": ids.item("fc", items.len()), "type": "function_call", "status": "completed",
                "arguments": call.input_json(), "call_id": call.id, "name": call.name}));
        }
        items
    }

    pub fn usage(&self, config: &MockConfig) -> Value {
        let output = self.output_tokens();
        json!({
            "input_tokens": config.prompt_tokens,
            "input_tokens_details": {"cached_tokens": config.cached_tokens},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens()},
            "total_tokens": config.prompt_tokens + output
        })
    }

    /// The `response` object with `status`, `output` and `usage` as given.
    pub fn response(body: &Value, ids: &Ids, status: &str, output: Value, usage: Value) -> Value {
        let mut response = Map::new();
        response.insert("id".into(), json!(ids.response));
        response.insert("object".into(), json!("response"));
        response.insert("created_at".into(), json!(MOCK_CREATED));
        response.insert("status".into(), json!(status));
        response.insert("background".into(), json!(false));
        response.insert("error".into(), Value::Null);
        response.insert("incomplete_details".into(), Value::Null);
        response.insert("model".into(), body["model"].clone());
        response.insert("output".into(), output);
        for (name, default) in ECHOED {
            let value = body
                .get(*name)
                .filter(|v| !v.is_null())
                .cloned()
                .unwrap_or_else(|| serde_json::from_str(default).unwrap());
            response.insert((*name).into(), value);
        }
        response.insert("store".into(), json!(body["store"] != false));
        response.insert("usage".into(), usage);
        Value::Object(response)
    }

    /// The complete answer.
    pub fn object(&self, config: &MockConfig, body: &Value, ids: &Ids) -> Value {
        Self::response(
            body,
            ids,
            "completed",
            json!(self.output(ids, wants_encrypted(body))),
            self.usage(config),
        )
    }

    /// The answer's events; the terminator is `response.completed`, and the error event of
    /// [`crate::Behaviour::StreamError`] after `failing_after` events is `response.failed`.
    pub fn events(
        &self,
        config: &MockConfig,
        body: &Value,
        ids: &Ids,
        failing_after: usize,
    ) -> Script {
        let encrypted = wants_encrypted(body);
        let done_items = self.output(ids, encrypted);
        let mut events: Vec<Value> = Vec::new();
        let in_progress = Self::response(body, ids, "in_progress", json!([]), Value::Null);
        events.push(json!({"type": "response.created", "response": in_progress}));
        events.push(json!({"type": "response.in_progress", "response": in_progress}));
        for (index, item) in done_items.iter().enumerate() {
            let id = item["id"].clone();
            match item["type"].as_str().unwrap_or_default() {
                "reasoning" => {
                    let mut added = item.clone();
                    added["summary"] = json!([]);
                    added.as_object_mut().unwrap().remove("encrypted_content");
                    events.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
                    if let Some(summary) = self.reasoning.clone().flatten() {
                        let part = json!({"type": "summary_text", "text": ""});
                        events.push(json!({"type": "response.reasoning_summary_part.added", "item_id": id, "output_index": index, "summary_index": 0, "part": part}));
                        for piece in reply::word_pieces(&summary) {
                            events.push(json!({"type": "response.reasoning_summary_text.delta", "item_id": id, "output_index": index, "summary_index": 0, "delta": piece, "obfuscation": obfuscation(&piece)}));
                        }
                        events.push(json!({"type": "response.reasoning_summary_text.done", "item_id": id, "output_index": index, "summary_index": 0, "text": summary}));
                        events.push(json!({"type": "response.reasoning_summary_part.done", "item_id": id, "output_index": index, "summary_index": 0, "part": {"type": "summary_text", "text": summary}}));
                    }
                }
                "message" => {
                    events.push(json!({"type": "response.output_item.added", "output_index": index,
                        "item": {"id": id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}}));
                    events.push(json!({"type": "response.content_part.added", "item_id": id, "output_index": index, "content_index": 0, "part": text_part("")}));
                    for piece in &self.text {
                        events.push(json!({"type": "response.output_text.delta", "item_id": id, "output_index": index, "content_index": 0, "delta": piece, "logprobs": [], "obfuscation": obfuscation(piece)}));
                    }
                    let text = self.text.concat();
                    events.push(json!({"type": "response.output_text.done", "item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}));
                    events.push(json!({"type": "response.content_part.done", "item_id": id, "output_index": index, "content_index": 0, "part": text_part(&text)}));
                }
                _ => {
                    let mut added = item.clone();
                    added["status"] = json!("in_progress");
                    added["arguments"] = json!("");
                    events.push(json!({"type": "response.output_item.added", "output_index": index, "item": added}));
                    let arguments = item["arguments"].as_str().unwrap_or_default();
                    for piece in reply::split_json(arguments) {
                        events.push(json!({"type": "response.function_call_arguments.delta", "item_id": id, "output_index": index, "delta": piece, "obfuscation": obfuscation(&piece)}));
                    }
                    events.push(json!({"type": "response.function_call_arguments.done", "item_id": id, "output_index": index, "arguments": arguments}));
                }
            }
            events.push(
                json!({"type": "response.output_item.done", "output_index": index, "item": item}),
            );
        }
        let completed = Self::response(
            body,
            ids,
            "completed",
            json!(done_items),
            self.usage(config),
        );
        let mut failed = Self::response(body, ids, "failed", json!([]), Value::Null);
        failed["error"] =
            json!({"code": "server_error", "message": "The model failed to generate a response."});
        let total = events.len();
        let render = |n: usize, event: Value| {
            let mut event = event;
            event["sequence_number"] = json!(n);
            let kind = event["type"].as_str().unwrap_or_default().to_owned();
            format!("event: {kind}\ndata: {event}\n\n")
        };
        Script {
            events: events
                .into_iter()
                .enumerate()
                .map(|(n, e)| render(n, e))
                .collect(),
            terminator: Some(render(
                total,
                json!({"type": "response.completed", "response": completed}),
            )),
            error_event: render(
                failing_after.min(total),
                json!({"type": "response.failed", "response": failed}),
            ),
        }
    }
}

fn wants_encrypted(body: &Value) -> bool {
    body["include"]
        .as_array()
        .is_some_and(|i| i.iter().any(|v| v == "reasoning.encrypted_content"))
}

fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
}

/// OpenAI pads each delta with random characters so its length does not reveal the token; the
/// mock's padding is fixed by the piece.
fn obfuscation(piece: &str) -> String {
    "x".repeat(16usize.saturating_sub(piece.len()).max(1))
}

/// The text of the last user message of the input.
fn last_user_text(body: &Value) -> String {
    match &body["input"] {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .rev()
            .find(|i| i["role"] == "user")
            .map(|m| match &m["content"] {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The calls to make: none for `tool_choice: "none"`, the named function when one is forced, every
/// function when the user says "parallel" (and `parallel_tool_calls` is not false), else the
/// first.
fn function_calls(body: &Value, user_text: &str) -> Vec<ToolCall> {
    let functions: Vec<(&str, Option<&Value>)> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "function")
        .filter_map(|t| Some((t["name"].as_str()?, t.get("parameters"))))
        .collect();
    let choice = &body["tool_choice"];
    if functions.is_empty() || choice == "none" {
        return Vec::new();
    }
    let chosen: Vec<(&str, Option<&Value>)> =
        if let Some(forced) = choice.get("name").and_then(Value::as_str) {
            functions
                .into_iter()
                .filter(|(n, _)| *n == forced)
                .collect()
        } else if body["parallel_tool_calls"] != false && reply::wants_parallel(user_text) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn data(script: &Script) -> Vec<Value> {
        script
            .events
            .iter()
            .chain(script.terminator.iter())
            .map(|e| {
                let (name, data) = e.split_once('\n').unwrap();
                let v: Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap().trim()).unwrap();
                assert_eq!(name.strip_prefix("event: ").unwrap(), v["type"]);
                v
            })
            .collect()
    }

    #[test]
    fn text_streams_are_numbered_and_end_completed() {
        let config = MockConfig::default();
        let body = json!({"model": "gpt-4o", "input": "Hi", "metadata": {"k": "v"}});
        let plan = Plan::for_request(&config, &body);
        let events = data(&plan.events(&config, &body, &Ids::new(1), 0));
        for (n, e) in events.iter().enumerate() {
            assert_eq!(e["sequence_number"], n);
        }
        let text: String = events
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .map(|e| e["delta"].as_str().unwrap())
            .collect();
        assert_eq!(text, reply::MOCK_REPLY);
        let last = events.last().unwrap();
        assert_eq!(last["type"], "response.completed");
        assert_eq!(last["response"]["metadata"], json!({"k": "v"}));
        assert_eq!(last["response"]["usage"]["output_tokens"], 5);
        assert_eq!(
            last["response"]["output"],
            json!(plan.output(&Ids::new(1), false))
        );
    }

    #[test]
    fn functions_reasoning_and_the_weather() {
        let config = MockConfig::default();
        let tools = json!([{"type": "function", "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
        let body = json!({"model": "o3-mini", "input": "Weather?", "tools": tools,
            "reasoning": {"effort": "low", "summary": "auto"}, "include": ["reasoning.encrypted_content"]});
        let plan = Plan::for_request(&config, &body);
        assert_eq!(plan.calls.len(), 1);
        let output = plan.output(&Ids::new(2), true);
        assert_eq!(output[0]["type"], "reasoning");
        assert_eq!(output[0]["summary"][0]["text"], MOCK_REASONING_SUMMARY);
        assert!(output[0]["encrypted_content"].is_string());
        assert_eq!(output[1]["arguments"], r#"{"city":"Paris"}"#);
        assert_eq!(output[1]["call_id"], "call_mock_1");
        let usage = plan.usage(&config);
        assert_eq!(
            usage["output_tokens"],
            TOOL_CALL_TOKENS + MOCK_REASONING_TOKENS
        );
        assert_eq!(
            usage["output_tokens_details"]["reasoning_tokens"],
            MOCK_REASONING_TOKENS
        );
        let after = json!({"model": "m", "input": [
            {"type": "function_call_output", "call_id": "call_mock_1", "output": "sunny"}], "tools": tools});
        assert_eq!(
            Plan::for_request(&config, &after).text,
            reply::word_pieces(MOCK_TOOL_RESULT_REPLY)
        );
    }
}
