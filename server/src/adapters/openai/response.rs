//! `chat.completion` and the canonical response, both ways.

use serde_json::{json, Value};

use super::wire::{
    OpenAiChatCompletion, OpenAiChoice, OpenAiCompletionIn, OpenAiFunctionCall,
    OpenAiPromptDetailsOut, OpenAiResponseMessage, OpenAiToolCall, OpenAiUsageOut,
};
use crate::adapters::canonical::{Block, Response, StopReason};
use crate::adapters::{InvalidResponse, RenderContext};
use crate::routing::TokenUsage;

/// `stop_reason` -> `finish_reason`.
pub(super) fn finish_reason(stop_reason: Option<&StopReason>) -> &'static str {
    match stop_reason {
        Some(StopReason::MaxTokens | StopReason::ContextWindowExceeded) => "length",
        Some(StopReason::ToolUse) => "tool_calls",
        Some(StopReason::Refusal) => "content_filter",
        _ => "stop",
    }
}

/// `finish_reason` -> `stop_reason`.
pub(super) fn stop_reason(finish_reason: &str) -> StopReason {
    match finish_reason {
        "stop" => StopReason::EndTurn,
        "length" => StopReason::MaxTokens,
        "tool_calls" | "function_call" => StopReason::ToolUse,
        "content_filter" => StopReason::Refusal,
        other => StopReason::Other(other.to_owned()),
    }
}

pub(super) fn usage_out(usage: &TokenUsage) -> OpenAiUsageOut {
    OpenAiUsageOut {
        prompt_tokens: usage.prompt,
        completion_tokens: usage.completion,
        total_tokens: usage.total(),
        prompt_tokens_details: OpenAiPromptDetailsOut {
            cached_tokens: usage.cached,
        },
    }
}

/// A canonical answer as a `chat.completion`. Reasoning is not shown (chat has no place for it).
pub fn render(response: Response, context: &RenderContext) -> Vec<u8> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in response.content {
        match block {
            Block::Text { text: t } => text.push_str(&t),
            Block::ToolUse { id, name, input } => tool_calls.push(OpenAiToolCall {
                id,
                kind: "function".into(),
                function: OpenAiFunctionCall {
                    name,
                    arguments: if input.is_null() {
                        "{}".into()
                    } else {
                        input.to_string()
                    },
                },
            }),
            _ => {}
        }
    }
    let completion = OpenAiChatCompletion {
        id: response.id,
        object: "chat.completion",
        created: context.created,
        model: response.model,
        choices: vec![OpenAiChoice {
            index: 0,
            message: OpenAiResponseMessage {
                role: "assistant",
                content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
                refusal: None,
                tool_calls,
            },
            logprobs: None,
            finish_reason: finish_reason(response.stop_reason.as_ref()),
        }],
        usage: usage_out(&response.usage),
    };
    serde_json::to_vec(&completion).expect("completion serialises")
}

/// A tool call's `arguments` (a JSON string) as the object canonical `input` is.
pub(super) fn arguments_object(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v) if v.is_object() => v,
        Ok(v) => json!({ "value": v }),
        // Kept rather than lost: the client sees what the model wrote.
        Err(_) => json!({ "arguments": arguments }),
    }
}

/// An upstream's `chat.completion`, read into the canonical model (the first choice).
pub fn parse(body: &[u8]) -> Result<Response, InvalidResponse> {
    let completion: OpenAiCompletionIn =
        serde_json::from_slice(body).map_err(|_| InvalidResponse)?;
    let mut content = Vec::new();
    let choice = completion.choices.into_iter().next();
    let finish = choice.as_ref().and_then(|c| c.finish_reason.clone());
    if let Some(choice) = choice {
        let message = choice.message;
        if let Some(thinking) = message
            .reasoning_content
            .or(message.reasoning)
            .filter(|t| !t.is_empty())
        {
            content.push(Block::Thinking {
                thinking,
                signature: String::new(),
            });
        }
        if let Some(text) = message
            .content
            .filter(|t| !t.is_empty())
            .or(message.refusal.filter(|t| !t.is_empty()))
        {
            content.push(Block::Text { text });
        }
        for call in message.tool_calls {
            content.push(Block::ToolUse {
                input: arguments_object(&call.function.arguments),
                id: call.id,
                name: call.function.name,
            });
        }
    }
    Ok(Response {
        id: completion.id,
        model: completion.model,
        content,
        stop_reason: finish.as_deref().map(stop_reason),
        stop_sequence: None,
        usage: completion.usage.map(TokenUsage::from).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> RenderContext {
        RenderContext {
            model: "m".into(),
            created: 1700,
            include_usage: false,
            request: Default::default(),
        }
    }

    #[test]
    fn text_tools_and_reasoning_are_read() {
        let r = parse(
            json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "deepseek-reasoner",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi",
                    "reasoning_content": "think", "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}},
                        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "oops"}}
                    ]}, "finish_reason": "tool_calls"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 4, "prompt_tokens_details": {"cached_tokens": 6}}})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            r.content,
            [
                Block::Thinking {
                    thinking: "think".into(),
                    signature: String::new()
                },
                Block::Text { text: "Hi".into() },
                Block::ToolUse {
                    id: "call_1".into(),
                    name: "f".into(),
                    input: json!({"x": 1})
                },
                Block::ToolUse {
                    id: "call_2".into(),
                    name: "g".into(),
                    input: json!({"arguments": "oops"})
                },
            ]
        );
        assert_eq!(r.stop_reason, Some(StopReason::ToolUse));
        assert_eq!(
            r.usage,
            TokenUsage {
                prompt: 10,
                completion: 4,
                cached: 6,
                cache_write: 0,
                reasoning: 0,
            }
        );
        assert!(parse(b"<html>").is_err());
    }

    #[test]
    fn stop_reasons_map_both_ways() {
        assert_eq!(finish_reason(Some(&StopReason::EndTurn)), "stop");
        assert_eq!(finish_reason(Some(&StopReason::StopSequence)), "stop");
        assert_eq!(finish_reason(Some(&StopReason::MaxTokens)), "length");
        assert_eq!(finish_reason(Some(&StopReason::ToolUse)), "tool_calls");
        assert_eq!(finish_reason(None), "stop");
        assert_eq!(stop_reason("length"), StopReason::MaxTokens);
        assert_eq!(stop_reason("content_filter"), StopReason::Refusal);
    }

    #[test]
    fn rendered_tool_calls_keep_their_ids() {
        let out = render(
            Response {
                id: "msg_1".into(),
                model: "claude".into(),
                content: vec![Block::ToolUse {
                    id: "toolu_1".into(),
                    name: "f".into(),
                    input: Value::Null,
                }],
                stop_reason: Some(StopReason::ToolUse),
                stop_sequence: None,
                usage: TokenUsage::default(),
            },
            &context(),
        );
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{}"
        );
        assert_eq!(v["created"], 1700);
    }
}
