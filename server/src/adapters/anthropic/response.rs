//! Anthropic `message` answers and the canonical response, both ways.

use super::wire::{
    AnthropicContentOut, AnthropicMessageOut, AnthropicMessagesResponse, AnthropicResponseBlock,
    AnthropicUsage, AnthropicUsageOut,
};
use crate::adapters::canonical::{Block, Response, StopReason};
use crate::adapters::InvalidResponse;
use crate::routing::TokenUsage;

/// Anthropic's `stop_reason` in the canonical model.
pub(super) fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "end_turn" => StopReason::EndTurn,
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        "tool_use" => StopReason::ToolUse,
        "refusal" => StopReason::Refusal,
        "pause_turn" => StopReason::PauseTurn,
        "model_context_window_exceeded" => StopReason::ContextWindowExceeded,
        other => StopReason::Other(other.to_owned()),
    }
}

/// The canonical stop reason in Anthropic's words.
pub(super) fn stop_reason_name(reason: &StopReason) -> &str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence => "stop_sequence",
        StopReason::ToolUse => "tool_use",
        StopReason::Refusal => "refusal",
        StopReason::PauseTurn => "pause_turn",
        StopReason::ContextWindowExceeded => "model_context_window_exceeded",
        StopReason::Other(other) => other,
    }
}

/// The canonical convention counts cached prompt tokens inside `prompt`; Anthropic reports them
/// apart.
pub(super) fn token_usage(usage: &AnthropicUsage) -> TokenUsage {
    let cached = usage.cache_read_input_tokens.unwrap_or(0);
    let cache_write = usage.cache_creation_input_tokens.unwrap_or(0);
    TokenUsage {
        prompt: usage
            .input_tokens
            .unwrap_or(0)
            .saturating_add(cached)
            .saturating_add(cache_write),
        completion: usage.output_tokens.unwrap_or(0),
        cached,
        cache_write,
        reasoning: 0,
    }
}

/// Usage in Anthropic's convention (`input_tokens` excludes cache reads and writes).
pub(super) fn usage_out(usage: &TokenUsage) -> AnthropicUsageOut {
    AnthropicUsageOut {
        input_tokens: usage
            .prompt
            .saturating_sub(usage.cached)
            .saturating_sub(usage.cache_write)
            .max(0),
        cache_creation_input_tokens: usage.cache_write,
        cache_read_input_tokens: usage.cached,
        output_tokens: usage.completion,
    }
}

/// An Anthropic key's answer, read into the canonical model.
pub fn parse(body: &[u8]) -> Result<Response, InvalidResponse> {
    let response: AnthropicMessagesResponse =
        serde_json::from_slice(body).map_err(|_| InvalidResponse)?;
    let content = response
        .content
        .into_iter()
        .filter_map(|block| match block {
            AnthropicResponseBlock::Text { text } => Some(Block::Text { text }),
            AnthropicResponseBlock::ToolUse { id, name, input } => {
                Some(Block::ToolUse { id, name, input })
            }
            AnthropicResponseBlock::Thinking {
                thinking,
                signature,
            } => Some(Block::Thinking {
                thinking,
                signature,
            }),
            AnthropicResponseBlock::RedactedThinking { data } => {
                Some(Block::RedactedThinking { data })
            }
            AnthropicResponseBlock::Other => None,
        })
        .collect();
    Ok(Response {
        id: response.id,
        model: response.model,
        content,
        stop_reason: response.stop_reason.as_deref().map(stop_reason),
        stop_sequence: response.stop_sequence,
        usage: token_usage(&response.usage),
    })
}

/// A canonical answer as an Anthropic `message`.
pub fn render(response: &Response) -> Vec<u8> {
    let content = response
        .content
        .iter()
        .filter_map(|block| match block {
            Block::Text { text } => Some(AnthropicContentOut::Text { text }),
            Block::ToolUse { id, name, input } => {
                Some(AnthropicContentOut::ToolUse { id, name, input })
            }
            Block::Thinking {
                thinking,
                signature,
            } => Some(AnthropicContentOut::Thinking {
                thinking,
                signature,
            }),
            Block::RedactedThinking { data } => {
                Some(AnthropicContentOut::RedactedThinking { data })
            }
            _ => None,
        })
        .collect();
    let message = AnthropicMessageOut {
        id: &response.id,
        kind: "message",
        role: "assistant",
        model: &response.model,
        content,
        stop_reason: Some(
            response
                .stop_reason
                .as_ref()
                .map_or("end_turn", stop_reason_name),
        ),
        stop_sequence: response.stop_sequence.as_deref(),
        usage: usage_out(&response.usage),
    };
    serde_json::to_vec(&message).expect("message serialises")
}

/// Anthropic answers rendered for OpenAI clients: the composition the chat surface uses.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::openai::response::render as render_openai;
    use crate::adapters::RenderContext;
    use serde_json::{json, Value};

    fn translate_response(
        body: &[u8],
        created: i64,
    ) -> Result<(Vec<u8>, TokenUsage), InvalidResponse> {
        let response = parse(body)?;
        let usage = response.usage;
        let context = RenderContext {
            model: String::new(),
            created,
            include_usage: false,
            request: Default::default(),
        };
        Ok((render_openai(response, &context), usage))
    }

    #[test]
    fn canonical_answers_render_as_anthropic_messages() {
        let response = Response {
            id: "chatcmpl-1".into(),
            model: "gpt-4o".into(),
            content: vec![
                Block::Thinking {
                    thinking: "hmm".into(),
                    signature: String::new(),
                },
                Block::Text { text: "Hi".into() },
                Block::ToolUse {
                    id: "call_1".into(),
                    name: "f".into(),
                    input: json!({"x": 1}),
                },
            ],
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: TokenUsage {
                prompt: 30,
                completion: 5,
                cached: 10,
                cache_write: 0,
                reasoning: 0,
            },
        };
        let v: Value = serde_json::from_slice(&render(&response)).unwrap();
        assert_eq!(
            v,
            json!({"id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "gpt-4o",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": ""},
                    {"type": "text", "text": "Hi"},
                    {"type": "tool_use", "id": "call_1", "name": "f", "input": {"x": 1}}
                ],
                "stop_reason": "tool_use", "stop_sequence": null,
                "usage": {"input_tokens": 20, "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 10, "output_tokens": 5}})
        );
    }

    #[test]
    fn thinking_and_signatures_are_read() {
        let r = parse(
            json!({"id": "msg_1", "model": "m", "stop_reason": "end_turn",
                "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "redacted_thinking", "data": "d"}, {"type": "server_tool_use", "id": "x"}],
                "usage": {"input_tokens": 1, "output_tokens": 2}})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            r.content,
            [
                Block::Thinking {
                    thinking: "t".into(),
                    signature: "s".into()
                },
                Block::RedactedThinking { data: "d".into() }
            ]
        );
    }

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
                cache_write: 5,
                reasoning: 0,
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
        for name in [
            "end_turn",
            "max_tokens",
            "stop_sequence",
            "tool_use",
            "refusal",
            "pause_turn",
            "odd",
        ] {
            assert_eq!(stop_reason_name(&stop_reason(name)), name);
        }
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(translate_response(b"<html>", 0).is_err());
    }
}
