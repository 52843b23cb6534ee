//! Anthropic Messages response -> OpenAI `chat.completion`.

use super::wire::{AnthropicMessagesResponse, AnthropicResponseBlock, AnthropicUsage};
use crate::adapters::openai::InvalidResponse;
use crate::adapters::openai_wire::{
    OpenAiChatCompletion, OpenAiChoice, OpenAiFunctionCall, OpenAiPromptDetailsOut,
    OpenAiResponseMessage, OpenAiToolCall, OpenAiUsageOut,
};
use crate::routing::TokenUsage;

/// `stop_reason` -> `finish_reason`.
pub(super) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// OpenAI counts cached prompt tokens inside `prompt_tokens`; Anthropic reports them apart.
pub(super) fn token_usage(usage: &AnthropicUsage) -> TokenUsage {
    let cached = usage.cache_read_input_tokens.unwrap_or(0);
    let cache_write = usage.cache_creation_input_tokens.unwrap_or(0);
    TokenUsage {
        prompt: usage.input_tokens.unwrap_or(0) + cached + cache_write,
        completion: usage.output_tokens.unwrap_or(0),
        cached,
        cache_write,
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

/// Returns the OpenAI body and the call's usage. `created` is the Unix time to report.
pub fn translate_response(
    body: &[u8],
    created: i64,
) -> Result<(Vec<u8>, TokenUsage), InvalidResponse> {
    let response: AnthropicMessagesResponse =
        serde_json::from_slice(body).map_err(|_| InvalidResponse)?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in response.content {
        match block {
            AnthropicResponseBlock::Text { text: t } => text.push_str(&t),
            AnthropicResponseBlock::ToolUse { id, name, input } => {
                tool_calls.push(OpenAiToolCall {
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
                })
            }
            AnthropicResponseBlock::Other => {}
        }
    }
    let usage = token_usage(&response.usage);
    let completion = OpenAiChatCompletion {
        id: response.id,
        object: "chat.completion",
        created,
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
            finish_reason: finish_reason(response.stop_reason.as_deref()),
        }],
        usage: usage_out(&usage),
    };
    Ok((
        serde_json::to_vec(&completion).expect("completion serialises"),
        usage,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn translate(body: Value) -> (Value, TokenUsage) {
        let (out, usage) = translate_response(body.to_string().as_bytes(), 1700).unwrap();
        (serde_json::from_slice(&out).unwrap(), usage)
    }

    #[test]
    fn text_and_usage_with_cache_tokens() {
        let (out, usage) = translate(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 5, "output_tokens": 7}
        }));
        assert_eq!(
            out,
            json!({
                "id": "msg_1", "object": "chat.completion", "created": 1700, "model": "claude-sonnet-4-5",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there", "refusal": null},
                    "logprobs": null, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 115, "completion_tokens": 7, "total_tokens": 122,
                    "prompt_tokens_details": {"cached_tokens": 100}}
            })
        );
        assert_eq!(
            usage,
            TokenUsage {
                prompt: 115,
                completion: 7,
                cached: 100,
                cache_write: 5
            }
        );
    }

    #[test]
    fn tool_use_becomes_tool_calls_with_ids_kept() {
        let (out, _) = translate(json!({
            "id": "msg_2", "model": "m", "stop_reason": "tool_use",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "x"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}
            ],
            "usage": {"input_tokens": 1, "output_tokens": 2}
        }));
        let message = &out["choices"][0]["message"];
        assert_eq!(message["content"], Value::Null);
        assert_eq!(
            message["tool_calls"],
            json!([
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
            ])
        );
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn stop_reasons_map() {
        assert_eq!(finish_reason(Some("end_turn")), "stop");
        assert_eq!(finish_reason(Some("stop_sequence")), "stop");
        assert_eq!(finish_reason(Some("max_tokens")), "length");
        assert_eq!(finish_reason(Some("tool_use")), "tool_calls");
        assert_eq!(finish_reason(None), "stop");
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(translate_response(b"<html>", 0).is_err());
    }
}
