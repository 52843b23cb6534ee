//! Canonical answers as Responses API `response` objects (for a client whose key speaks another
//! dialect), and the pieces the stream renderer shares: ids, output items, usage, status, and
//! the request settings the object repeats.
//!
//! Ids are made from the upstream's answer id (`msg_01…` becomes `resp_01…`, its items
//! `msg_01…_0`, `fc_01…_1`, `rs_01…_2` by output index), so they are stable for one answer and
//! traceable to the upstream's logs. Thinking becomes a `reasoning` item whose `content` is the
//! text and whose `encrypted_content` is Anthropic's signature: a client that sends the item
//! back (as SDKs do with `response.output`) gives the next turn the signed thinking Anthropic
//! requires with tool use.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::wire::{
    ResponsesEcho, ResponsesIncompleteDetails, ResponsesInputDetailsOut, ResponsesOutputDetailsOut,
    ResponsesOutputItem, ResponsesOutputText, ResponsesReasoningTextOut, ResponsesResponse,
    ResponsesUsageOut,
};
use crate::adapters::canonical::{Block, Response, StopReason};
use crate::adapters::RenderContext;
use crate::routing::TokenUsage;

/// The upstream's answer id without its own prefix: what every id of the rendered answer is
/// made from.
pub(super) fn id_base(upstream_id: &str, created: i64) -> String {
    let bare = ["msg_", "chatcmpl-", "resp_", "gen-"]
        .iter()
        .find_map(|p| upstream_id.strip_prefix(p))
        .unwrap_or(upstream_id);
    if bare.is_empty() {
        format!("{created:x}")
    } else {
        bare.to_owned()
    }
}

pub(super) fn response_id(base: &str) -> String {
    format!("resp_{base}")
}

/// An output item's id: `prefix` is `msg`, `fc` or `rs`.
pub(super) fn item_id(prefix: &str, base: &str, output_index: usize) -> String {
    format!("{prefix}_{base}_{output_index}")
}

pub(super) fn usage_out(usage: &TokenUsage) -> ResponsesUsageOut {
    ResponsesUsageOut {
        input_tokens: usage.prompt,
        input_tokens_details: ResponsesInputDetailsOut {
            cached_tokens: usage.cached,
            cache_write_tokens: usage.cache_write,
        },
        output_tokens: usage.completion,
        // A part of `output_tokens`, when the upstream reports them apart.
        output_tokens_details: ResponsesOutputDetailsOut {
            reasoning_tokens: usage.reasoning,
        },
        total_tokens: usage.total(),
    }
}

/// `completed`, or `incomplete` with its reason.
pub(super) fn status(
    stop_reason: Option<&StopReason>,
) -> (&'static str, Option<ResponsesIncompleteDetails>) {
    let incomplete = |reason| ("incomplete", Some(ResponsesIncompleteDetails { reason }));
    match stop_reason {
        Some(StopReason::MaxTokens | StopReason::ContextWindowExceeded) => {
            incomplete("max_output_tokens")
        }
        Some(StopReason::Refusal) => incomplete("content_filter"),
        _ => ("completed", None),
    }
}

/// A tool call's arguments as the JSON string the Responses API carries.
pub(super) fn arguments_text(input: &serde_json::Value) -> String {
    if input.is_null() {
        "{}".into()
    } else {
        input.to_string()
    }
}

/// The request members a `response` object repeats.
#[derive(Deserialize, Default)]
struct EchoProbe<'a> {
    #[serde(borrow, default)]
    instructions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_output_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_tool_calls: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parallel_tool_calls: Option<&'a RawValue>,
    #[serde(borrow, default)]
    prompt_cache_key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    safety_identifier: Option<&'a RawValue>,
    #[serde(borrow, default)]
    temperature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_choice: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_logprobs: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_p: Option<&'a RawValue>,
    #[serde(borrow, default)]
    truncation: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user: Option<&'a RawValue>,
}

fn raw(value: Option<&RawValue>, default: &str) -> Box<RawValue> {
    match value.filter(|v| v.get() != "null") {
        Some(v) => v.to_owned(),
        None => RawValue::from_string(default.to_owned()).expect("defaults are JSON"),
    }
}

/// What the `response` object says of the request: the client's values, or the API's defaults.
pub(super) fn echo(request: &[u8]) -> ResponsesEcho {
    let p: EchoProbe = serde_json::from_slice(request).unwrap_or_default();
    ResponsesEcho {
        instructions: raw(p.instructions, "null"),
        max_output_tokens: raw(p.max_output_tokens, "null"),
        max_tool_calls: raw(p.max_tool_calls, "null"),
        metadata: raw(p.metadata, "{}"),
        parallel_tool_calls: raw(p.parallel_tool_calls, "true"),
        prompt_cache_key: raw(p.prompt_cache_key, "null"),
        reasoning: raw(p.reasoning, r#"{"effort":null,"summary":null}"#),
        safety_identifier: raw(p.safety_identifier, "null"),
        temperature: raw(p.temperature, "1.0"),
        text: raw(p.text, r#"{"format":{"type":"text"},"verbosity":"medium"}"#),
        tool_choice: raw(p.tool_choice, r#""auto""#),
        tools: raw(p.tools, "[]"),
        top_logprobs: raw(p.top_logprobs, "0"),
        top_p: raw(p.top_p, "1.0"),
        truncation: raw(p.truncation, r#""disabled""#),
        user: raw(p.user, "null"),
    }
}

/// The fields of a `response` object that do not come from the request.
pub(super) struct ResponseParts<'a> {
    pub id: &'a str,
    pub created_at: i64,
    pub status: &'static str,
    pub error: Option<super::wire::ResponsesErrorOut<'a>>,
    pub incomplete_details: Option<ResponsesIncompleteDetails>,
    pub model: &'a str,
    pub output: &'a [ResponsesOutputItem],
    pub usage: Option<ResponsesUsageOut>,
}

/// A `response` object.
pub(super) fn response_object<'a>(
    parts: ResponseParts<'a>,
    echo: &'a ResponsesEcho,
) -> ResponsesResponse<'a> {
    ResponsesResponse {
        id: parts.id,
        object: "response",
        created_at: parts.created_at,
        status: parts.status,
        background: false,
        error: parts.error,
        incomplete_details: parts.incomplete_details,
        instructions: &echo.instructions,
        max_output_tokens: &echo.max_output_tokens,
        max_tool_calls: &echo.max_tool_calls,
        model: parts.model,
        output: parts.output,
        parallel_tool_calls: &echo.parallel_tool_calls,
        previous_response_id: None,
        prompt_cache_key: &echo.prompt_cache_key,
        reasoning: &echo.reasoning,
        safety_identifier: &echo.safety_identifier,
        service_tier: "default",
        store: false,
        temperature: &echo.temperature,
        text: &echo.text,
        tool_choice: &echo.tool_choice,
        tools: &echo.tools,
        top_logprobs: &echo.top_logprobs,
        top_p: &echo.top_p,
        truncation: &echo.truncation,
        usage: parts.usage,
        user: &echo.user,
        metadata: &echo.metadata,
    }
}

/// The output items of a complete answer's content.
pub(super) fn output_items(content: Vec<Block>, base: &str) -> Vec<ResponsesOutputItem> {
    let mut items = Vec::with_capacity(content.len());
    for block in content {
        let index = items.len();
        items.push(match block {
            Block::Text { text } => ResponsesOutputItem::Message {
                id: item_id("msg", base, index),
                status: "completed",
                role: "assistant",
                content: vec![ResponsesOutputText::new(text)],
            },
            Block::ToolUse { id, name, input } => ResponsesOutputItem::FunctionCall {
                id: item_id("fc", base, index),
                status: "completed",
                arguments: arguments_text(&input),
                call_id: id,
                name,
            },
            Block::Thinking {
                thinking,
                signature,
            } => ResponsesOutputItem::Reasoning {
                id: item_id("rs", base, index),
                summary: Vec::new(),
                content: vec![ResponsesReasoningTextOut::new(thinking)],
                encrypted_content: (!signature.is_empty()).then_some(signature),
            },
            Block::RedactedThinking { data } => ResponsesOutputItem::Reasoning {
                id: item_id("rs", base, index),
                summary: Vec::new(),
                content: Vec::new(),
                encrypted_content: Some(data),
            },
            // What a model's answer does not carry in this API.
            Block::Image { .. }
            | Block::Document { .. }
            | Block::ToolResult { .. }
            | Block::Unsupported { .. } => continue,
        });
    }
    items
}

/// A canonical answer as a `response` object.
pub fn render(response: Response, context: &RenderContext) -> Vec<u8> {
    let base = id_base(&response.id, context.created);
    let id = response_id(&base);
    let (status, incomplete_details) = status(response.stop_reason.as_ref());
    let output = output_items(response.content, &base);
    let model = if response.model.is_empty() {
        &context.model
    } else {
        &response.model
    };
    let echo = echo(&context.request);
    let object = response_object(
        ResponseParts {
            id: &id,
            created_at: context.created,
            status,
            error: None,
            incomplete_details,
            model,
            output: &output,
            usage: Some(usage_out(&response.usage)),
        },
        &echo,
    );
    serde_json::to_vec(&object).expect("a response serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn context(request: Value) -> RenderContext {
        RenderContext {
            model: "claude-sonnet-4-5".into(),
            created: 1_700_000_000,
            include_usage: false,
            request: request.to_string().into(),
        }
    }

    #[test]
    fn text_tools_and_thinking_become_items() {
        let out = render(
            Response {
                id: "msg_01abc".into(),
                model: "claude-sonnet-4-5".into(),
                content: vec![
                    Block::Thinking {
                        thinking: "Let me think.".into(),
                        signature: "sig==".into(),
                    },
                    Block::Text {
                        text: "Checking.".into(),
                    },
                    Block::ToolUse {
                        id: "toolu_1".into(),
                        name: "get_weather".into(),
                        input: json!({"city": "Paris"}),
                    },
                ],
                stop_reason: Some(StopReason::ToolUse),
                stop_sequence: None,
                usage: TokenUsage {
                    prompt: 30,
                    completion: 12,
                    cached: 20,
                    cache_write: 5,
                    reasoning: 0,
                },
            },
            &context(json!({"model": "claude", "input": "x",
                "tools": [{"type": "function", "name": "get_weather"}], "temperature": 0.5,
                "metadata": {"run": "7"}})),
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "resp_01abc");
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["store"], false);
        assert_eq!(v["created_at"], 1_700_000_000);
        assert_eq!(
            v["output"],
            json!([
                {"type": "reasoning", "id": "rs_01abc_0", "summary": [],
                 "content": [{"type": "reasoning_text", "text": "Let me think."}],
                 "encrypted_content": "sig=="},
                {"type": "message", "id": "msg_01abc_1", "status": "completed", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Checking.", "annotations": [], "logprobs": []}]},
                {"type": "function_call", "id": "fc_01abc_2", "status": "completed",
                 "arguments": "{\"city\":\"Paris\"}", "call_id": "toolu_1", "name": "get_weather"}
            ])
        );
        assert_eq!(
            v["usage"],
            json!({"input_tokens": 30, "input_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 5},
                   "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 42})
        );
        // The request's settings are repeated, the API's defaults fill the rest.
        assert_eq!(
            v["tools"],
            json!([{"type": "function", "name": "get_weather"}])
        );
        assert_eq!(v["temperature"], 0.5);
        assert_eq!(v["metadata"], json!({"run": "7"}));
        assert_eq!(v["tool_choice"], "auto");
        assert_eq!(v["parallel_tool_calls"], true);
        assert_eq!(v["instructions"], Value::Null);
        assert_eq!(v["text"]["format"]["type"], "text");
    }

    #[test]
    fn max_tokens_is_incomplete() {
        let out = render(
            Response {
                id: String::new(),
                model: String::new(),
                content: vec![Block::Text { text: "Hel".into() }],
                stop_reason: Some(StopReason::MaxTokens),
                stop_sequence: None,
                usage: TokenUsage::default(),
            },
            &context(json!({})),
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["status"], "incomplete");
        assert_eq!(
            v["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(
            v["model"], "claude-sonnet-4-5",
            "the routed model when none came"
        );
        assert_eq!(v["id"], format!("resp_{:x}", 1_700_000_000));
    }

    #[test]
    fn ids_keep_the_upstream_id() {
        assert_eq!(id_base("msg_01XYZ", 0), "01XYZ");
        assert_eq!(id_base("chatcmpl-abc", 0), "abc");
        assert_eq!(id_base("odd", 0), "odd");
        assert_eq!(item_id("fc", "abc", 3), "fc_abc_3");
    }
}
