//! Canonical stream events -> `chat.completion.chunk`s, ending in `data: [DONE]`.
//!
//! Tool blocks get OpenAI's 0-based tool-call indexes (the canonical block index counts text
//! blocks too); an empty first argument piece is skipped; the usage chunk is written only when
//! the client asked for it; reasoning is not shown.

use bytes::BytesMut;

use super::error::stream_error_event;
use super::response::{finish_reason, usage_out};
use super::wire::{
    OpenAiChatChunk, OpenAiChunkChoice, OpenAiDelta, OpenAiFunctionDelta, OpenAiToolCallDelta,
    UsageField,
};
use crate::adapters::canonical::{BlockDelta, BlockStart, StreamEvent, StreamFailure};
use crate::adapters::{EventRenderer, RenderContext};
use crate::routing::TokenUsage;

pub struct ChunkRenderer {
    id: String,
    model: String,
    created: i64,
    include_usage: bool,
    /// Canonical block index -> OpenAI tool call index.
    tool_blocks: Vec<(u32, u32)>,
    usage: TokenUsage,
    finish: Option<&'static str>,
}

impl ChunkRenderer {
    pub fn new(context: RenderContext) -> Self {
        Self {
            id: String::new(),
            model: context.model,
            created: context.created,
            include_usage: context.include_usage,
            tool_blocks: Vec::new(),
            usage: TokenUsage::default(),
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

    fn tool_index(&self, block: u32) -> Option<u32> {
        self.tool_blocks
            .iter()
            .find(|(b, _)| *b == block)
            .map(|(_, t)| *t)
    }

    fn text(&self, out: &mut BytesMut, text: &str) {
        self.emit(
            out,
            OpenAiDelta {
                content: Some(text),
                ..Default::default()
            },
            None,
        );
    }
}

fn write_data(out: &mut BytesMut, payload: &[u8]) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\n\n");
}

impl EventRenderer for ChunkRenderer {
    fn render(&mut self, event: StreamEvent, out: &mut BytesMut) -> bool {
        match event {
            StreamEvent::Start { id, model, usage } => {
                self.id = id;
                if !model.is_empty() {
                    self.model = model;
                }
                self.usage = usage;
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
            StreamEvent::BlockStart { index, block } => match block {
                BlockStart::ToolUse { id, name } => {
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
                BlockStart::Text(text) if !text.is_empty() => self.text(out, &text),
                _ => {}
            },
            StreamEvent::BlockDelta { index, delta } => match delta {
                BlockDelta::Text(text) => self.text(out, &text),
                BlockDelta::InputJson(partial) if !partial.is_empty() => {
                    if let Some(tool_index) = self.tool_index(index) {
                        let call = OpenAiToolCallDelta {
                            index: tool_index,
                            id: None,
                            kind: None,
                            function: OpenAiFunctionDelta {
                                name: None,
                                arguments: &partial,
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
            StreamEvent::Finish { stop_reason, usage } => {
                self.usage = usage;
                let finish = finish_reason(stop_reason.as_ref());
                self.finish = Some(finish);
                self.emit(out, OpenAiDelta::default(), Some(finish));
            }
            StreamEvent::Stop => {
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
                        usage: UsageField::Some(usage_out(&self.usage)),
                    };
                    write_data(out, &serde_json::to_vec(&chunk).expect("chunk serialises"));
                }
                write_data(out, b"[DONE]");
                return true;
            }
            StreamEvent::BlockStop { .. } | StreamEvent::Ping => {}
        }
        false
    }

    fn render_failure(&self, failure: &StreamFailure, out: &mut BytesMut) {
        out.extend_from_slice(&stream_error_event(failure));
    }
}
