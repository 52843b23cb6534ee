//! Anthropic stream events -> canonical stream events. Anthropic's stream already has the
//! canonical shape (blocks with indexes); what this adds is usage bookkeeping (every count
//! Anthropic sends is cumulative: `message_delta.usage.output_tokens` is a running total) and
//! turning an `error` event or an unreadable one into a failure.

use super::response::{stop_reason, token_usage};
use super::wire::{AnthropicDelta, AnthropicStreamBlock, AnthropicStreamEvent, AnthropicUsage};
use crate::adapters::canonical::{BlockDelta, BlockStart, StreamEvent, StreamFailure};
use crate::adapters::sse::parse_event;
use crate::adapters::EventParser;
use crate::routing::TokenUsage;

use super::error::error_kind;

#[derive(Default)]
pub struct AnthropicEventParser {
    usage: AnthropicUsage,
}

impl AnthropicEventParser {
    fn merge_usage(&mut self, update: AnthropicUsage) {
        let u = &mut self.usage;
        u.input_tokens = update.input_tokens.or(u.input_tokens);
        u.output_tokens = update.output_tokens.or(u.output_tokens);
        u.cache_read_input_tokens = update.cache_read_input_tokens.or(u.cache_read_input_tokens);
        u.cache_creation_input_tokens = update
            .cache_creation_input_tokens
            .or(u.cache_creation_input_tokens);
    }
}

impl EventParser for AnthropicEventParser {
    fn parse(&mut self, raw: &[u8], events: &mut Vec<StreamEvent>) -> Result<(), StreamFailure> {
        let Some(data) = parse_event(raw).data else {
            return Ok(());
        };
        let event: AnthropicStreamEvent = serde_json::from_slice(&data).map_err(|e| {
            StreamFailure::new(
                crate::adapters::canonical::ErrorKind::Api,
                format!("the upstream sent an invalid stream event: {e}"),
            )
        })?;
        events.push(match event {
            AnthropicStreamEvent::MessageStart { message } => {
                self.merge_usage(message.usage);
                StreamEvent::Start {
                    id: message.id,
                    model: message.model,
                    usage: token_usage(&self.usage),
                }
            }
            AnthropicStreamEvent::ContentBlockStart {
                index,
                content_block,
            } => StreamEvent::BlockStart {
                index,
                block: match content_block {
                    AnthropicStreamBlock::Text { text } => BlockStart::Text(text),
                    AnthropicStreamBlock::ToolUse { id, name } => BlockStart::ToolUse { id, name },
                    AnthropicStreamBlock::Thinking {} => BlockStart::Thinking,
                    AnthropicStreamBlock::RedactedThinking { data } => {
                        BlockStart::RedactedThinking { data }
                    }
                    AnthropicStreamBlock::Other => BlockStart::Other,
                },
            },
            AnthropicStreamEvent::ContentBlockDelta { index, delta } => StreamEvent::BlockDelta {
                index,
                delta: match delta {
                    AnthropicDelta::TextDelta { text } => BlockDelta::Text(text),
                    AnthropicDelta::InputJsonDelta { partial_json } => {
                        BlockDelta::InputJson(partial_json)
                    }
                    AnthropicDelta::ThinkingDelta { thinking } => BlockDelta::Thinking(thinking),
                    AnthropicDelta::SignatureDelta { signature } => {
                        BlockDelta::Signature(signature)
                    }
                    AnthropicDelta::Other => BlockDelta::Other,
                },
            },
            AnthropicStreamEvent::ContentBlockStop { index } => StreamEvent::BlockStop { index },
            AnthropicStreamEvent::MessageDelta { delta, usage } => {
                self.merge_usage(usage);
                StreamEvent::Finish {
                    stop_reason: delta.stop_reason.as_deref().map(stop_reason),
                    usage: token_usage(&self.usage),
                }
            }
            AnthropicStreamEvent::MessageStop => StreamEvent::Stop,
            AnthropicStreamEvent::Ping => StreamEvent::Ping,
            AnthropicStreamEvent::Error { error } => {
                return Err(StreamFailure::new(
                    error_kind(&error.kind).unwrap_or(crate::adapters::canonical::ErrorKind::Api),
                    format!("Anthropic stream error ({}): {}", error.kind, error.message),
                ));
            }
            AnthropicStreamEvent::Unknown => return Ok(()),
        });
        Ok(())
    }

    fn usage(&self) -> Option<TokenUsage> {
        (self.usage != AnthropicUsage::default()).then(|| token_usage(&self.usage))
    }
}

/// Anthropic streams rendered for OpenAI clients: the composition the chat surface uses.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::openai::ChunkRenderer;
    use crate::adapters::translated::TranslatedStream;
    use crate::adapters::{RenderContext, StreamStep, StreamTranslator};
    use bytes::BytesMut;
    use serde_json::{json, Value};

    fn translator(include_usage: bool) -> TranslatedStream {
        TranslatedStream::new(
            Box::new(AnthropicEventParser::default()),
            Box::new(ChunkRenderer::new(RenderContext {
                model: "claude-sonnet-4-5".into(),
                created: 1700,
                include_usage,
                request: Default::default(),
            })),
        )
    }

    fn run(events: &[Value], include_usage: bool) -> (Vec<String>, StreamStep, Option<TokenUsage>) {
        let mut t = translator(include_usage);
        let mut out = BytesMut::new();
        let mut step = StreamStep::Continue;
        for e in events {
            let raw = format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap());
            step = t.translate(raw.as_bytes(), &mut out);
            if !matches!(step, StreamStep::Continue) {
                break;
            }
        }
        let text = String::from_utf8(out.to_vec()).unwrap();
        let data = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: ").map(str::to_owned))
            .collect();
        (data, step, t.usage())
    }

    fn start() -> Value {
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [], "stop_reason": null,
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 4, "cache_creation_input_tokens": 0, "output_tokens": 1}}})
    }

    #[test]
    fn text_stream_with_running_total_usage() {
        let events = [
            start(),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " there"}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 6}}),
            json!({"type": "message_stop"}),
        ];
        let (data, step, usage) = run(&events, true);
        assert!(matches!(step, StreamStep::Done));
        let chunks: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(chunks[0]["id"], "msg_1");
        assert_eq!(chunks[0]["object"], "chat.completion.chunk");
        assert_eq!(chunks[0]["usage"], Value::Null);
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(chunks[2]["choices"][0]["delta"]["content"], " there");
        assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[4]["choices"], json!([]));
        // 6 is the running total, not 1 + 6.
        assert_eq!(
            chunks[4]["usage"],
            json!({"prompt_tokens": 14, "completion_tokens": 6, "total_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 4}})
        );
        assert_eq!(data.last().unwrap(), "[DONE]");
        assert_eq!(usage.unwrap().completion, 6);
    }

    #[test]
    fn tool_use_after_text_gets_tool_index_zero_and_skips_the_empty_first_delta() {
        let events = [
            start(),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me check."}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}}),
            json!({"type": "message_stop"}),
        ];
        let (data, _, _) = run(&events, false);
        let chunks: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert!(
            chunks.iter().all(|c| c.get("usage").is_none()),
            "no usage field unless asked"
        );
        let tool_chunks: Vec<&Value> = chunks
            .iter()
            .filter(|c| c["choices"][0]["delta"]["tool_calls"].is_array())
            .collect();
        assert_eq!(
            tool_chunks.len(),
            3,
            "start + two non-empty argument deltas"
        );
        assert_eq!(
            tool_chunks[0]["choices"][0]["delta"]["tool_calls"],
            json!([
                {"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ])
        );
        let args: String = tool_chunks[1..]
            .iter()
            .map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(args, "{\"city\": \"Paris\"}");
        assert_eq!(
            tool_chunks[1]["choices"][0]["delta"]["tool_calls"][0]["index"],
            0
        );
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            "tool_calls"
        );
    }

    #[test]
    fn error_event_fails_the_stream() {
        let events = [
            start(),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ];
        let (data, step, _) = run(&events, false);
        assert!(matches!(step, StreamStep::Failed(f) if f.message.contains("Overloaded")));
        assert!(!data.iter().any(|d| d == "[DONE]"));
    }

    #[test]
    fn invalid_event_fails_the_stream() {
        let mut t = translator(false);
        let step = t.translate(
            b"event: message_start\ndata: {not json\n\n",
            &mut BytesMut::new(),
        );
        assert!(matches!(step, StreamStep::Failed(_)));
    }
}
