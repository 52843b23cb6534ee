//! Canonical stream events -> Anthropic's SSE events (`event: <type>` then its JSON), for a
//! Messages client served by another vendor: `message_start`, each block's
//! `content_block_start` / `_delta` / `_stop`, `message_delta` with the usage, `message_stop`;
//! a failure is an `error` event.

use bytes::BytesMut;
use serde_json::json;

use super::error::type_and_status;
use super::response::{stop_reason_name, usage_out};
use super::wire::{
    AnthropicBlockStartOut, AnthropicDeltaOut, AnthropicErrorOut, AnthropicEventOut,
    AnthropicMessageDeltaOut, AnthropicMessageOut,
};
use crate::adapters::canonical::{BlockDelta, BlockStart, StreamEvent, StreamFailure};
use crate::adapters::{EventRenderer, RenderContext};

pub struct AnthropicEventRenderer {
    model: String,
    /// Blocks the client was told about; blocks it cannot be shown are skipped whole.
    shown: Vec<u32>,
}

impl AnthropicEventRenderer {
    pub fn new(context: RenderContext) -> Self {
        Self {
            model: context.model,
            shown: Vec::new(),
        }
    }

    fn shown(&self, index: u32) -> bool {
        self.shown.contains(&index)
    }
}

/// Appends one `event: <name>` / `data: <json>` event.
pub(super) fn write_event(out: &mut BytesMut, name: &str, event: &AnthropicEventOut<'_>) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(&serde_json::to_vec(event).expect("event serialises"));
    out.extend_from_slice(b"\n\n");
}

impl EventRenderer for AnthropicEventRenderer {
    fn render(&mut self, event: StreamEvent, out: &mut BytesMut) -> bool {
        match event {
            StreamEvent::Start { id, model, usage } => {
                if !model.is_empty() {
                    self.model = model;
                }
                let message = AnthropicMessageOut {
                    id: &id,
                    kind: "message",
                    role: "assistant",
                    model: &self.model,
                    content: vec![],
                    stop_reason: None,
                    stop_sequence: None,
                    usage: usage_out(&usage),
                };
                write_event(
                    out,
                    "message_start",
                    &AnthropicEventOut::MessageStart { message },
                );
            }
            StreamEvent::BlockStart { index, block } => {
                let content_block = match &block {
                    BlockStart::Text(text) => AnthropicBlockStartOut::Text { text },
                    BlockStart::ToolUse { id, name } => AnthropicBlockStartOut::ToolUse {
                        id,
                        name,
                        input: json!({}),
                    },
                    BlockStart::Thinking => AnthropicBlockStartOut::Thinking {
                        thinking: "",
                        signature: "",
                    },
                    BlockStart::RedactedThinking { data } => {
                        AnthropicBlockStartOut::RedactedThinking { data }
                    }
                    BlockStart::Other => return false,
                };
                self.shown.push(index);
                write_event(
                    out,
                    "content_block_start",
                    &AnthropicEventOut::ContentBlockStart {
                        index,
                        content_block,
                    },
                );
            }
            StreamEvent::BlockDelta { index, delta } => {
                if !self.shown(index) {
                    return false;
                }
                let delta = match &delta {
                    BlockDelta::Text(text) => AnthropicDeltaOut::Text { text },
                    BlockDelta::InputJson(partial_json) => {
                        AnthropicDeltaOut::InputJson { partial_json }
                    }
                    BlockDelta::Thinking(thinking) => AnthropicDeltaOut::Thinking { thinking },
                    BlockDelta::Signature(signature) => AnthropicDeltaOut::Signature { signature },
                    BlockDelta::Other => return false,
                };
                write_event(
                    out,
                    "content_block_delta",
                    &AnthropicEventOut::ContentBlockDelta { index, delta },
                );
            }
            StreamEvent::BlockStop { index } => {
                if self.shown(index) {
                    write_event(
                        out,
                        "content_block_stop",
                        &AnthropicEventOut::ContentBlockStop { index },
                    );
                }
            }
            StreamEvent::Finish { stop_reason, usage } => {
                write_event(
                    out,
                    "message_delta",
                    &AnthropicEventOut::MessageDelta {
                        delta: AnthropicMessageDeltaOut {
                            stop_reason: Some(
                                stop_reason.as_ref().map_or("end_turn", stop_reason_name),
                            ),
                            stop_sequence: None,
                        },
                        usage: usage_out(&usage),
                    },
                );
            }
            StreamEvent::Stop => {
                write_event(out, "message_stop", &AnthropicEventOut::MessageStop);
                return true;
            }
            StreamEvent::Ping => write_event(out, "ping", &AnthropicEventOut::Ping),
        }
        false
    }

    fn render_failure(&self, failure: &StreamFailure, out: &mut BytesMut) {
        let (kind, _) = type_and_status(failure.kind);
        write_event(
            out,
            "error",
            &AnthropicEventOut::Error {
                error: AnthropicErrorOut {
                    kind,
                    message: &failure.message,
                },
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::canonical::{ErrorKind, StopReason};
    use crate::routing::TokenUsage;
    use serde_json::Value;

    fn events(text: &str) -> Vec<(String, Value)> {
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (name, data) = e.split_once('\n').unwrap();
                (
                    name.strip_prefix("event: ").unwrap().to_owned(),
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn canonical_events_become_anthropic_events() {
        let mut r = AnthropicEventRenderer::new(RenderContext {
            model: "gpt-4o".into(),
            created: 0,
            include_usage: false,
            request: Default::default(),
        });
        let mut out = BytesMut::new();
        let usage = TokenUsage {
            prompt: 20,
            completion: 7,
            cached: 5,
            cache_write: 0,
            reasoning: 0,
        };
        for e in [
            StreamEvent::Start {
                id: "chatcmpl-1".into(),
                model: String::new(),
                usage: TokenUsage::default(),
            },
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Thinking,
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: BlockDelta::Thinking("hm".into()),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::Other,
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: BlockDelta::Text("hidden".into()),
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStart {
                index: 2,
                block: BlockStart::ToolUse {
                    id: "call_1".into(),
                    name: "f".into(),
                },
            },
            StreamEvent::BlockDelta {
                index: 2,
                delta: BlockDelta::InputJson("{}".into()),
            },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::Finish {
                stop_reason: Some(StopReason::ToolUse),
                usage,
            },
        ] {
            assert!(!r.render(e, &mut out));
        }
        assert!(r.render(StreamEvent::Stop, &mut out));
        let got = events(std::str::from_utf8(&out).unwrap());
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert_eq!(got[0].1["message"]["model"], "gpt-4o");
        assert_eq!(got[0].1["message"]["content"], serde_json::json!([]));
        assert_eq!(
            got[1].1["content_block"],
            serde_json::json!({"type": "thinking", "thinking": "", "signature": ""})
        );
        assert_eq!(
            got[4].1["content_block"],
            serde_json::json!({"type": "tool_use", "id": "call_1", "name": "f", "input": {}})
        );
        assert_eq!(
            got[7].1,
            serde_json::json!({"type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                "usage": {"input_tokens": 15, "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 5, "output_tokens": 7}})
        );
        let mut out = BytesMut::new();
        r.render_failure(&StreamFailure::new(ErrorKind::Overloaded, "busy"), &mut out);
        assert_eq!(
            events(std::str::from_utf8(&out).unwrap())[0],
            (
                "error".to_owned(),
                serde_json::json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
            )
        );
    }
}
