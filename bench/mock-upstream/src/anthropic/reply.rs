//! The answer to a valid Messages request, planned once and then rendered either as a `message`
//! object or as its SSE event sequence, so both always agree.
//!
//! Tokens are the mock's unit throughout: one per word of text, [`TOOL_CALL_TOKENS`] per tool use.

use serde_json::{json, Value};

use super::validate::thinking_signature;
use super::{overloaded_event, sse_event};
use crate::reply::{
    self, ToolCall, MOCK_THINKING, MOCK_TOOL_PREAMBLE, MOCK_TOOL_RESULT_REPLY, TOOL_CALL_TOKENS,
};
use crate::sse::Script;
use crate::MockConfig;

/// One content block of the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Extended thinking, one piece per token, signed.
    Thinking(Vec<String>),
    /// Text, one piece per token.
    Text(Vec<String>),
    ToolUse(ToolCall),
}

/// What the assistant says and why it stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub blocks: Vec<Block>,
    pub stop_reason: &'static str,
    pub stop_sequence: Option<String>,
    pub output_tokens: u64,
}

impl Plan {
    /// The weather after tool results; "Let me check." and tool use when tools are offered (and
    /// `tool_choice` is not `none`); the mock reply otherwise. Then `max_tokens` and
    /// `stop_sequences` cut it short the way generation would.
    pub fn for_request(config: &MockConfig, body: &Value) -> Self {
        let messages = body["messages"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let last_user = messages.iter().rev().find(|m| m["role"] == "user");
        let blocks = |m: &Value| m["content"].as_array().cloned().unwrap_or_default();
        let answers_tools = last_user
            .map(blocks)
            .is_some_and(|bs| bs.iter().any(|b| b["type"] == "tool_result"));
        let (text, calls) = if answers_tools {
            (reply::word_pieces(MOCK_TOOL_RESULT_REPLY), Vec::new())
        } else {
            let calls = tool_uses(body, &last_user.map(user_text).unwrap_or_default());
            if calls.is_empty() {
                (reply::reply_pieces(config.chunks), calls)
            } else {
                (reply::word_pieces(MOCK_TOOL_PREAMBLE), calls)
            }
        };
        let max_tokens = body["max_tokens"].as_u64().unwrap_or(u64::MAX);
        let stops: Vec<&str> = body["stop_sequences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        let mut plan = Self::generate(text, calls, max_tokens, &stops);
        if body["thinking"]["type"] == "enabled" {
            let thinking = reply::word_pieces(MOCK_THINKING);
            plan.output_tokens += thinking.len() as u64;
            plan.blocks.insert(0, Block::Thinking(thinking));
        }
        plan
    }

    /// Emits `text` a token at a time, then the tool uses, stopping at the first stop sequence
    /// or when `max_tokens` are spent.
    fn generate(text: Vec<String>, calls: Vec<ToolCall>, max_tokens: u64, stops: &[&str]) -> Self {
        let mut emitted: Vec<String> = Vec::new();
        let mut tokens = 0u64;
        let finish = |emitted: Vec<String>, tokens, stop_reason, stop_sequence| {
            let blocks = if emitted.is_empty() {
                Vec::new()
            } else {
                vec![Block::Text(emitted)]
            };
            Plan {
                blocks,
                stop_reason,
                stop_sequence,
                output_tokens: tokens,
            }
        };
        for piece in text {
            if tokens == max_tokens {
                return finish(emitted, tokens, "max_tokens", None);
            }
            emitted.push(piece);
            tokens += 1;
            let so_far = emitted.concat();
            if let Some((at, seq)) = first_stop(&so_far, stops) {
                return finish(
                    cut(emitted, at),
                    tokens,
                    "stop_sequence",
                    Some(seq.to_owned()),
                );
            }
        }
        let mut plan = finish(emitted, tokens, "end_turn", None);
        for call in calls {
            if plan.output_tokens + TOOL_CALL_TOKENS > max_tokens {
                // A tool use cut mid-arguments would be unusable; it is left out.
                plan.stop_reason = "max_tokens";
                plan.output_tokens = max_tokens;
                return plan;
            }
            plan.blocks.push(Block::ToolUse(call));
            plan.output_tokens += TOOL_CALL_TOKENS;
            plan.stop_reason = "tool_use";
        }
        plan
    }

    fn usage(&self, config: &MockConfig, output_tokens: u64) -> Value {
        json!({
            "input_tokens": config.prompt_tokens,
            "cache_creation_input_tokens": config.cache_write_tokens,
            "cache_read_input_tokens": config.cached_tokens,
            "output_tokens": output_tokens
        })
    }

    /// The non-streamed `message` object.
    pub fn message(&self, config: &MockConfig, id: &str, model: &str) -> Value {
        let content: Vec<Value> = self
            .blocks
            .iter()
            .map(|b| match b {
                Block::Thinking(pieces) => json!({
                    "type": "thinking", "thinking": pieces.concat(),
                    "signature": thinking_signature(&pieces.concat())
                }),
                Block::Text(pieces) => json!({"type": "text", "text": pieces.concat()}),
                Block::ToolUse(call) => json!({
                    "type": "tool_use", "id": call.id, "name": call.name, "input": call.input
                }),
            })
            .collect();
        json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": self.stop_reason,
            "stop_sequence": self.stop_sequence,
            "usage": self.usage(config, self.output_tokens)
        })
    }

    /// The streamed events: `message_start`, `ping`, each block's start / deltas / stop,
    /// `message_delta`, then `message_stop` as the terminator.
    pub fn events(&self, config: &MockConfig, id: &str, model: &str) -> Script {
        let mut events = Vec::new();
        let mut start = self.message(config, id, model);
        start["content"] = json!([]);
        start["stop_reason"] = Value::Null;
        start["stop_sequence"] = Value::Null;
        start["usage"] = self.usage(config, 1);
        events.push(sse_event(
            "message_start",
            &json!({"type": "message_start", "message": start}),
        ));
        events.push(sse_event("ping", &json!({"type": "ping"})));
        for (index, block) in self.blocks.iter().enumerate() {
            let delta = |delta: Value| {
                sse_event(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": index, "delta": delta}),
                )
            };
            let (opening, deltas) = match block {
                Block::Thinking(pieces) => (
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    pieces
                        .iter()
                        .map(|p| delta(json!({"type": "thinking_delta", "thinking": p})))
                        .chain(std::iter::once(delta(json!({
                            "type": "signature_delta",
                            "signature": thinking_signature(&pieces.concat())
                        }))))
                        .collect::<Vec<_>>(),
                ),
                Block::Text(pieces) => (
                    json!({"type": "text", "text": ""}),
                    pieces
                        .iter()
                        .filter(|p| !p.is_empty())
                        .map(|p| delta(json!({"type": "text_delta", "text": p})))
                        .collect::<Vec<_>>(),
                ),
                Block::ToolUse(call) => (
                    json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}}),
                    // Anthropic opens every tool's arguments with an empty piece.
                    std::iter::once(String::new())
                        .chain(reply::split_json(&call.input_json()))
                        .map(|p| delta(json!({"type": "input_json_delta", "partial_json": p})))
                        .collect(),
                ),
            };
            events.push(sse_event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": index, "content_block": opening}),
            ));
            events.extend(deltas);
            events.push(sse_event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
        events.push(sse_event(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": self.stop_sequence},
                "usage": {"output_tokens": self.output_tokens}
            }),
        ));
        Script {
            events,
            terminator: Some(sse_event("message_stop", &json!({"type": "message_stop"}))),
            error_event: overloaded_event(),
        }
    }
}

/// The tool uses to make: none for `tool_choice: none`, the named tool when one is forced, every
/// tool when the user says "parallel" (unless `disable_parallel_tool_use`), else the first.
fn tool_uses(body: &Value, user_text: &str) -> Vec<ToolCall> {
    let tools: Vec<(&str, Option<&Value>)> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["name"].as_str()?, t.get("input_schema"))))
        .collect();
    let choice = &body["tool_choice"];
    if tools.is_empty() || choice["type"] == "none" {
        return Vec::new();
    }
    let chosen: Vec<(&str, Option<&Value>)> = if choice["type"] == "tool" {
        tools
            .into_iter()
            .filter(|(n, _)| choice["name"] == *n)
            .collect()
    } else if choice["disable_parallel_tool_use"] != true && reply::wants_parallel(user_text) {
        tools
    } else {
        tools.into_iter().take(1).collect()
    };
    chosen
        .into_iter()
        .enumerate()
        .map(|(i, (name, schema))| ToolCall::new("toolu_mock_", i, name, schema))
        .collect()
}

/// The text of a user message, whether its content is a string or blocks.
fn user_text(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The byte offset of the earliest stop sequence in `text`, and which one.
fn first_stop<'a>(text: &str, stops: &[&'a str]) -> Option<(usize, &'a str)> {
    stops
        .iter()
        .filter_map(|s| text.find(s).map(|at| (at, *s)))
        .min_by_key(|(at, _)| *at)
}

/// The pieces trimmed to the first `len` bytes of their concatenation, empty pieces dropped.
fn cut(pieces: Vec<String>, len: usize) -> Vec<String> {
    let mut left = len;
    let mut out = Vec::new();
    for mut p in pieces {
        if left == 0 {
            break;
        }
        if p.len() > left {
            p.truncate(left);
        }
        left -= p.len();
        if !p.is_empty() {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(body: Value) -> Plan {
        Plan::for_request(&MockConfig::default(), &body)
    }

    fn text_of(plan: &Plan) -> String {
        match &plan.blocks[0] {
            Block::Text(p) => p.concat(),
            Block::Thinking(_) | Block::ToolUse(_) => panic!("text expected"),
        }
    }

    fn hello(extra: Value) -> Value {
        let mut body = json!({"model": "claude", "max_tokens": 100,
                              "messages": [{"role": "user", "content": "Hi"}]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    }

    #[test]
    fn plain_replies_end_the_turn() {
        let p = plan(hello(json!({})));
        assert_eq!(text_of(&p), reply::MOCK_REPLY);
        assert_eq!((p.stop_reason, p.output_tokens), ("end_turn", 5));
    }

    #[test]
    fn max_tokens_truncates() {
        let p = plan(hello(json!({"max_tokens": 2})));
        assert_eq!(text_of(&p), "Hello from");
        assert_eq!((p.stop_reason, p.output_tokens), ("max_tokens", 2));
    }

    #[test]
    fn stop_sequences_cut_before_the_sequence() {
        let p = plan(hello(json!({"stop_sequences": ["zzz", "mock"]})));
        assert_eq!(text_of(&p), "Hello from the ");
        assert_eq!(p.stop_reason, "stop_sequence");
        assert_eq!(p.stop_sequence.as_deref(), Some("mock"));
        assert_eq!(p.output_tokens, 4);
        let p = plan(hello(json!({"stop_sequences": ["Hello"]})));
        assert!(p.blocks.is_empty());
    }

    #[test]
    fn tools_are_used_after_a_preamble() {
        let tools = json!([
            {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"name": "get_time", "input_schema": {"type": "object", "properties": {"utc": {"type": "boolean"}}}}
        ]);
        let p = plan(hello(json!({"tools": tools})));
        assert_eq!(text_of(&p), MOCK_TOOL_PREAMBLE);
        assert_eq!(p.blocks.len(), 2);
        let Block::ToolUse(call) = &p.blocks[1] else {
            panic!()
        };
        assert_eq!(
            (call.id.as_str(), call.name.as_str()),
            ("toolu_mock_1", "get_weather")
        );
        assert_eq!(call.input, json!({"city": "Paris"}));
        assert_eq!((p.stop_reason, p.output_tokens), ("tool_use", 3 + 5));

        let parallel =
            json!({"tools": tools, "messages": [{"role": "user", "content": "both in parallel"}]});
        let p = plan(hello(parallel));
        assert_eq!(p.blocks.len(), 3);
        assert_eq!((p.stop_reason, p.output_tokens), ("tool_use", 3 + 10));

        let p = plan(hello(
            json!({"tools": tools, "tool_choice": {"type": "none"}}),
        ));
        assert_eq!(text_of(&p), reply::MOCK_REPLY);
    }

    #[test]
    fn thinking_comes_first_and_is_signed() {
        let p = plan(hello(
            json!({"max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}}),
        ));
        let Block::Thinking(pieces) = &p.blocks[0] else {
            panic!("thinking first")
        };
        assert_eq!(pieces.concat(), MOCK_THINKING);
        assert_eq!(p.output_tokens, 5 + 6);
        let message = p.message(&MockConfig::default(), "msg_1", "claude");
        assert_eq!(
            message["content"][0]["signature"],
            thinking_signature(MOCK_THINKING)
        );
    }

    #[test]
    fn tool_results_get_the_weather() {
        let p = plan(hello(json!({"messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_mock_1", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_mock_1", "content": "sunny"}]}
        ], "tools": [{"name": "w", "input_schema": {"type": "object"}}]})));
        assert_eq!(text_of(&p), MOCK_TOOL_RESULT_REPLY);
        assert_eq!(p.blocks.len(), 1);
        assert_eq!(p.stop_reason, "end_turn");
    }
}
