//! Anthropic stream events -> OpenAI `chat.completion.chunk`s.

use bytes::BytesMut;

use super::response::{finish_reason, token_usage, usage_out};
use super::wire::{AnthropicDelta, AnthropicStreamBlock, AnthropicStreamEvent, AnthropicUsage};
use crate::adapters::openai_wire::{
    OpenAiChatChunk, OpenAiChunkChoice, OpenAiDelta, OpenAiFunctionDelta, OpenAiToolCallDelta,
    UsageField,
};
use crate::adapters::sse::parse_event;
use crate::adapters::{StreamStep, StreamTranslator};
use crate::routing::TokenUsage;

pub struct AnthropicStreamTranslator {
    id: String,
    model: String,
    created: i64,
    include_usage: bool,
    /// Anthropic content block index -> OpenAI tool call index.
    tool_blocks: Vec<(u32, u32)>,
    usage: AnthropicUsage,
    finish: Option<&'static str>,
}

impl AnthropicStreamTranslator {
    /// `include_usage`: the client asked for the final usage chunk.
    pub fn new(model: &str, created: i64, include_usage: bool) -> Self {
        Self {
            id: String::new(),
            model: model.to_owned(),
            created,
            include_usage,
            tool_blocks: Vec::new(),
            usage: AnthropicUsage::default(),
            finish: None,
        }
    }

    fn emit(&self, out: &mut BytesMut, delta: OpenAiDelta<'_>, finish: Option<&'static str>) {
        let chunk = OpenAiChatChunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices: vec![OpenAiChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason: finish,
            }],
            usage: if self.include_usage {
                UsageField::Null(None)
            } else {
                UsageField::Absent
            },
        };
        write_data(out, &serde_json::to_vec(&chunk).expect("chunk serialises"));
    }

    fn merge_usage(&mut self, update: AnthropicUsage) {
        // Every count Anthropic sends is cumulative (`output_tokens` is a running total).
        let u = &mut self.usage;
        u.input_tokens = update.input_tokens.or(u.input_tokens);
        u.output_tokens = update.output_tokens.or(u.output_tokens);
        u.cache_read_input_tokens = update.cache_read_input_tokens.or(u.cache_read_input_tokens);
        u.cache_creation_input_tokens = update
            .cache_creation_input_tokens
            .or(u.cache_creation_input_tokens);
    }

    fn tool_index(&self, block: u32) -> Option<u32> {
        self.tool_blocks
            .iter()
            .find(|(b, _)| *b == block)
            .map(|(_, t)| *t)
    }
}

fn write_data(out: &mut BytesMut, payload: &[u8]) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\n\n");
}

impl StreamTranslator for AnthropicStreamTranslator {
    fn translate(&mut self, raw: &[u8], out: &mut BytesMut) -> StreamStep {
        let Some(data) = parse_event(raw).data else {
            return StreamStep::Continue;
        };
        let event: AnthropicStreamEvent = match serde_json::from_slice(&data) {
            Ok(event) => event,
            Err(e) => {
                return StreamStep::Failed(format!(
                    "the upstream sent an invalid stream event: {e}"
                ))
            }
        };
        match event {
            AnthropicStreamEvent::MessageStart { message } => {
                self.id = message.id;
                if !message.model.is_empty() {
                    self.model = message.model;
                }
                self.merge_usage(message.usage);
                self.emit(
                    out,
                    OpenAiDelta {
                        role: Some("assistant"),
                        content: Some(""),
                        tool_calls: None,
                    },
                    None,
                );
            }
            AnthropicStreamEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                AnthropicStreamBlock::ToolUse { id, name } => {
                    let tool_index = self.tool_blocks.len() as u32;
                    self.tool_blocks.push((index, tool_index));
                    let call = OpenAiToolCallDelta {
                        index: tool_index,
                        id: Some(&id),
                        kind: Some("function"),
                        function: OpenAiFunctionDelta {
                            name: Some(&name),
                            arguments: "",
                        },
                    };
                    self.emit(
                        out,
                        OpenAiDelta {
                            tool_calls: Some(vec![call]),
                            ..Default::default()
                        },
                        None,
                    );
                }
                AnthropicStreamBlock::Text { text } if !text.is_empty() => {
                    self.emit(
                        out,
                        OpenAiDelta {
                            content: Some(&text),
                            ..Default::default()
                        },
                        None,
                    );
                }
                _ => {}
            },
            AnthropicStreamEvent::ContentBlockDelta { index, delta } => match delta {
                AnthropicDelta::TextDelta { text } => {
                    self.emit(
                        out,
                        OpenAiDelta {
                            content: Some(&text),
                            ..Default::default()
                        },
                        None,
                    );
                }
                AnthropicDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                    if let Some(tool_index) = self.tool_index(index) {
                        let call = OpenAiToolCallDelta {
                            index: tool_index,
                            id: None,
                            kind: None,
                            function: OpenAiFunctionDelta {
                                name: None,
                                arguments: &partial_json,
                            },
                        };
                        self.emit(
                            out,
                            OpenAiDelta {
                                tool_calls: Some(vec![call]),
                                ..Default::default()
                            },
                            None,
                        );
                    }
                }
                _ => {}
            },
            AnthropicStreamEvent::MessageDelta { delta, usage } => {
                self.merge_usage(usage);
                let finish = finish_reason(delta.stop_reason.as_deref());
                self.finish = Some(finish);
                self.emit(out, OpenAiDelta::default(), Some(finish));
            }
            AnthropicStreamEvent::MessageStop => {
                if self.finish.is_none() {
                    self.emit(out, OpenAiDelta::default(), Some("stop"));
                }
                if self.include_usage {
                    let chunk = OpenAiChatChunk {
                        id: &self.id,
                        object: "chat.completion.chunk",
                        created: self.created,
                        model: &self.model,
                        choices: vec![],
                        usage: UsageField::Some(usage_out(&token_usage(&self.usage))),
                    };
                    write_data(out, &serde_json::to_vec(&chunk).expect("chunk serialises"));
                }
                write_data(out, b"[DONE]");
                return StreamStep::Done;
            }
            AnthropicStreamEvent::Error { error } => {
                return StreamStep::Failed(format!(
                    "Anthropic stream error ({}): {}",
                    error.kind, error.message
                ));
            }
            AnthropicStreamEvent::ContentBlockStop {}
            | AnthropicStreamEvent::Ping
            | AnthropicStreamEvent::Unknown => {}
        }
        StreamStep::Continue
    }

    fn usage(&self) -> Option<TokenUsage> {
        (self.usage != AnthropicUsage::default()).then(|| token_usage(&self.usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn run(events: &[Value], include_usage: bool) -> (Vec<String>, StreamStep, Option<TokenUsage>) {
        let mut t = AnthropicStreamTranslator::new("claude-sonnet-4-5", 1700, include_usage);
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
        assert!(matches!(step, StreamStep::Failed(m) if m.contains("Overloaded")));
        assert!(!data.iter().any(|d| d == "[DONE]"));
    }

    #[test]
    fn invalid_event_fails_the_stream() {
        let mut t = AnthropicStreamTranslator::new("m", 0, false);
        let step = t.translate(
            b"event: message_start\ndata: {not json\n\n",
            &mut BytesMut::new(),
        );
        assert!(matches!(step, StreamStep::Failed(_)));
    }
}
