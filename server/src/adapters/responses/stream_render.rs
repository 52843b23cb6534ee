//! Canonical stream events -> Responses API stream events (`event: <type>` then its JSON, every
//! payload with a `sequence_number` counting from 0), ending in `response.completed` (or
//! `response.incomplete` when the output limit stopped the model); there is no `[DONE]`.
//!
//! Each canonical block becomes one output item, announced by `response.output_item.added` and
//! finished by `response.output_item.done` with the whole item: text is a `message` with one
//! `output_text` part (`content_part.added`, `output_text.delta`…, `output_text.done`,
//! `content_part.done`), a tool use a `function_call` (`function_call_arguments.delta`…,
//! `.done`), thinking a `reasoning` item (`reasoning_text.delta`…, `.done`; its signature, sent
//! last by Anthropic, goes in the finished item's `encrypted_content`). The final event carries
//! the whole `response` with every item and the usage, as the SDKs' stream helpers expect. A
//! failed stream ends with `response.failed` (when it had begun) and an `error` event.

use std::cell::Cell;

use bytes::BytesMut;

use super::response::{
    arguments_text, echo, id_base, item_id, response_id, response_object, status, usage_out,
    ResponseParts,
};
use super::wire::{
    ResponsesEcho, ResponsesErrorOut, ResponsesEvent, ResponsesOutputItem, ResponsesOutputText,
    ResponsesPartRef, ResponsesReasoningTextOut,
};
use crate::adapters::canonical::{
    BlockDelta, BlockStart, ErrorKind, StopReason, StreamEvent, StreamFailure,
};
use crate::adapters::{EventRenderer, RenderContext};
use crate::routing::TokenUsage;

/// The output item being streamed.
enum OpenItem {
    Text {
        id: String,
        text: String,
    },
    Tool {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
    },
    Thinking {
        id: String,
        text: String,
        signature: String,
    },
    Redacted {
        id: String,
        data: String,
    },
    /// A block this API has no item for.
    Skipped,
}

struct Open {
    block: u32,
    output_index: usize,
    item: OpenItem,
}

pub struct ResponsesEventRenderer {
    echo: ResponsesEcho,
    created: i64,
    model: String,
    base: String,
    id: String,
    started: bool,
    /// The next `sequence_number` (a `Cell`: failures are written through `&self`).
    sequence: Cell<u64>,
    /// Finished items, by output index.
    items: Vec<ResponsesOutputItem>,
    open: Option<Open>,
    usage: TokenUsage,
    stop_reason: Option<StopReason>,
}

impl ResponsesEventRenderer {
    pub fn new(context: RenderContext) -> Self {
        let base = id_base("", context.created);
        Self {
            echo: echo(&context.request),
            created: context.created,
            model: context.model,
            id: response_id(&base),
            base,
            started: false,
            sequence: Cell::new(0),
            items: Vec::new(),
            open: None,
            usage: TokenUsage::default(),
            stop_reason: None,
        }
    }

    fn write(&self, out: &mut BytesMut, event: &ResponsesEvent<'_>) {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.name().as_bytes());
        out.extend_from_slice(b"\ndata: ");
        out.extend_from_slice(&serde_json::to_vec(event).expect("an event serialises"));
        out.extend_from_slice(b"\n\n");
    }

    fn next(&self) -> u64 {
        let n = self.sequence.get();
        self.sequence.set(n + 1);
        n
    }

    fn parts<'a>(
        &'a self,
        status: &'static str,
        error: Option<ResponsesErrorOut<'a>>,
        output: &'a [ResponsesOutputItem],
    ) -> ResponseParts<'a> {
        let (_, incomplete_details) = super::response::status(self.stop_reason.as_ref());
        ResponseParts {
            id: &self.id,
            created_at: self.created,
            status,
            error,
            incomplete_details: incomplete_details.filter(|_| status == "incomplete"),
            model: &self.model,
            output,
            usage: (status != "in_progress").then(|| usage_out(&self.usage)),
        }
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let created = ResponsesEvent::Created {
            response: response_object(self.parts("in_progress", None, &[]), &self.echo),
            sequence_number: self.next(),
        };
        self.write(out, &created);
        let in_progress = ResponsesEvent::InProgress {
            response: response_object(self.parts("in_progress", None, &[]), &self.echo),
            sequence_number: self.next(),
        };
        self.write(out, &in_progress);
    }

    fn open_block(&mut self, block: u32, start: BlockStart, out: &mut BytesMut) {
        self.close_block(out);
        let output_index = self.items.len();
        let item = match start {
            BlockStart::Text(initial) => {
                let id = item_id("msg", &self.base, output_index);
                let added = ResponsesOutputItem::Message {
                    id: id.clone(),
                    status: "in_progress",
                    role: "assistant",
                    content: Vec::new(),
                };
                self.added(out, output_index, &added);
                let part = ResponsesOutputText::new(String::new());
                let event = ResponsesEvent::ContentPartAdded {
                    item_id: &id,
                    output_index,
                    content_index: 0,
                    part: ResponsesPartRef::Text(&part),
                    sequence_number: self.next(),
                };
                self.write(out, &event);
                let mut item = OpenItem::Text {
                    id,
                    text: String::new(),
                };
                if !initial.is_empty() {
                    self.text_delta(&mut item, output_index, &initial, out);
                }
                item
            }
            BlockStart::ToolUse { id: call_id, name } => {
                let id = item_id("fc", &self.base, output_index);
                let added = ResponsesOutputItem::FunctionCall {
                    id: id.clone(),
                    status: "in_progress",
                    arguments: String::new(),
                    call_id: call_id.clone(),
                    name: name.clone(),
                };
                self.added(out, output_index, &added);
                OpenItem::Tool {
                    id,
                    call_id,
                    name,
                    arguments: String::new(),
                }
            }
            BlockStart::Thinking => {
                let id = item_id("rs", &self.base, output_index);
                let added = ResponsesOutputItem::Reasoning {
                    id: id.clone(),
                    summary: Vec::new(),
                    content: Vec::new(),
                    encrypted_content: None,
                };
                self.added(out, output_index, &added);
                let part = ResponsesReasoningTextOut::new(String::new());
                let event = ResponsesEvent::ContentPartAdded {
                    item_id: &id,
                    output_index,
                    content_index: 0,
                    part: ResponsesPartRef::Reasoning(&part),
                    sequence_number: self.next(),
                };
                self.write(out, &event);
                OpenItem::Thinking {
                    id,
                    text: String::new(),
                    signature: String::new(),
                }
            }
            BlockStart::RedactedThinking { data } => {
                let id = item_id("rs", &self.base, output_index);
                let added = ResponsesOutputItem::Reasoning {
                    id: id.clone(),
                    summary: Vec::new(),
                    content: Vec::new(),
                    encrypted_content: None,
                };
                self.added(out, output_index, &added);
                OpenItem::Redacted { id, data }
            }
            BlockStart::Other => OpenItem::Skipped,
        };
        self.open = Some(Open {
            block,
            output_index,
            item,
        });
    }

    fn added(&self, out: &mut BytesMut, output_index: usize, item: &ResponsesOutputItem) {
        let event = ResponsesEvent::OutputItemAdded {
            output_index,
            item,
            sequence_number: self.next(),
        };
        self.write(out, &event);
    }

    fn text_delta(
        &self,
        item: &mut OpenItem,
        output_index: usize,
        delta: &str,
        out: &mut BytesMut,
    ) {
        if let OpenItem::Text { id, text } = item {
            text.push_str(delta);
            let event = ResponsesEvent::OutputTextDelta {
                item_id: id,
                output_index,
                content_index: 0,
                delta,
                logprobs: [],
                sequence_number: self.next(),
            };
            self.write(out, &event);
        }
    }

    fn delta(&mut self, block: u32, delta: BlockDelta, out: &mut BytesMut) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        if open.block == block {
            let output_index = open.output_index;
            match (&mut open.item, delta) {
                (item @ OpenItem::Text { .. }, BlockDelta::Text(text)) => {
                    self.text_delta(item, output_index, &text, out)
                }
                (OpenItem::Tool { id, arguments, .. }, BlockDelta::InputJson(piece))
                    if !piece.is_empty() =>
                {
                    arguments.push_str(&piece);
                    let event = ResponsesEvent::FunctionCallArgumentsDelta {
                        item_id: id,
                        output_index,
                        delta: &piece,
                        sequence_number: self.next(),
                    };
                    self.write(out, &event);
                }
                (OpenItem::Thinking { id, text, .. }, BlockDelta::Thinking(piece)) => {
                    text.push_str(&piece);
                    let event = ResponsesEvent::ReasoningTextDelta {
                        item_id: id,
                        output_index,
                        content_index: 0,
                        delta: &piece,
                        sequence_number: self.next(),
                    };
                    self.write(out, &event);
                }
                (OpenItem::Thinking { signature, .. }, BlockDelta::Signature(piece)) => {
                    signature.push_str(&piece);
                }
                _ => {}
            }
        }
        self.open = Some(open);
    }

    /// Finishes the open item, if any.
    fn close_block(&mut self, out: &mut BytesMut) {
        let Some(Open {
            output_index, item, ..
        }) = self.open.take()
        else {
            return;
        };
        let done = match item {
            OpenItem::Text { id, text } => {
                let event = ResponsesEvent::OutputTextDone {
                    item_id: &id,
                    output_index,
                    content_index: 0,
                    text: &text,
                    logprobs: [],
                    sequence_number: self.next(),
                };
                self.write(out, &event);
                let part = ResponsesOutputText::new(text);
                let event = ResponsesEvent::ContentPartDone {
                    item_id: &id,
                    output_index,
                    content_index: 0,
                    part: ResponsesPartRef::Text(&part),
                    sequence_number: self.next(),
                };
                self.write(out, &event);
                ResponsesOutputItem::Message {
                    id,
                    status: "completed",
                    role: "assistant",
                    content: vec![part],
                }
            }
            OpenItem::Tool {
                id,
                call_id,
                name,
                arguments,
            } => {
                let arguments = if arguments.trim().is_empty() {
                    arguments_text(&serde_json::Value::Null)
                } else {
                    arguments
                };
                let event = ResponsesEvent::FunctionCallArgumentsDone {
                    item_id: &id,
                    output_index,
                    arguments: &arguments,
                    sequence_number: self.next(),
                };
                self.write(out, &event);
                ResponsesOutputItem::FunctionCall {
                    id,
                    status: "completed",
                    arguments,
                    call_id,
                    name,
                }
            }
            OpenItem::Thinking {
                id,
                text,
                signature,
            } => {
                let event = ResponsesEvent::ReasoningTextDone {
                    item_id: &id,
                    output_index,
                    content_index: 0,
                    text: &text,
                    sequence_number: self.next(),
                };
                self.write(out, &event);
                let part = ResponsesReasoningTextOut::new(text);
                let event = ResponsesEvent::ContentPartDone {
                    item_id: &id,
                    output_index,
                    content_index: 0,
                    part: ResponsesPartRef::Reasoning(&part),
                    sequence_number: self.next(),
                };
                self.write(out, &event);
                ResponsesOutputItem::Reasoning {
                    id,
                    summary: Vec::new(),
                    content: vec![part],
                    encrypted_content: (!signature.is_empty()).then_some(signature),
                }
            }
            OpenItem::Redacted { id, data } => ResponsesOutputItem::Reasoning {
                id,
                summary: Vec::new(),
                content: Vec::new(),
                encrypted_content: Some(data),
            },
            OpenItem::Skipped => return,
        };
        let event = ResponsesEvent::OutputItemDone {
            output_index,
            item: &done,
            sequence_number: self.next(),
        };
        self.write(out, &event);
        self.items.push(done);
    }

    fn complete(&mut self, out: &mut BytesMut) {
        self.close_block(out);
        let (status, _) = status(self.stop_reason.as_ref());
        let response = response_object(self.parts(status, None, &self.items), &self.echo);
        let sequence_number = self.next();
        let event = if status == "incomplete" {
            ResponsesEvent::Incomplete {
                response,
                sequence_number,
            }
        } else {
            ResponsesEvent::Completed {
                response,
                sequence_number,
            }
        };
        self.write(out, &event);
    }
}

impl EventRenderer for ResponsesEventRenderer {
    fn render(&mut self, event: StreamEvent, out: &mut BytesMut) -> bool {
        match event {
            StreamEvent::Start { id, model, usage } => {
                if !self.started {
                    self.base = id_base(&id, self.created);
                    self.id = response_id(&self.base);
                    if !model.is_empty() {
                        self.model = model;
                    }
                }
                self.usage = usage;
                self.start(out);
            }
            StreamEvent::BlockStart { index, block } => {
                self.start(out);
                self.open_block(index, block, out);
            }
            StreamEvent::BlockDelta { index, delta } => self.delta(index, delta, out),
            StreamEvent::BlockStop { index } => {
                if self.open.as_ref().is_some_and(|o| o.block == index) {
                    self.close_block(out);
                }
            }
            StreamEvent::Finish { stop_reason, usage } => {
                self.stop_reason = stop_reason;
                self.usage = usage;
            }
            StreamEvent::Stop => {
                self.start(out);
                self.complete(out);
                return true;
            }
            StreamEvent::Ping => {}
        }
        false
    }

    fn render_failure(&self, failure: &StreamFailure, out: &mut BytesMut) {
        let code = match failure.kind {
            ErrorKind::RateLimit => "rate_limit_exceeded",
            _ => "server_error",
        };
        if self.started {
            let error = ResponsesErrorOut {
                code,
                message: &failure.message,
            };
            let event = ResponsesEvent::Failed {
                response: response_object(
                    self.parts("failed", Some(error), &self.items),
                    &self.echo,
                ),
                sequence_number: self.next(),
            };
            self.write(out, &event);
        }
        let event = ResponsesEvent::Error {
            code,
            message: &failure.message,
            param: None,
            sequence_number: self.next(),
        };
        self.write(out, &event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn renderer() -> ResponsesEventRenderer {
        ResponsesEventRenderer::new(RenderContext {
            model: "claude-sonnet-4-5".into(),
            created: 1_700_000_000,
            include_usage: false,
            request: json!({"model": "claude", "input": "x", "tools": []})
                .to_string()
                .into(),
        })
    }

    /// (event name, payload) of everything written.
    fn events(out: &BytesMut) -> Vec<(String, Value)> {
        String::from_utf8(out.to_vec())
            .unwrap()
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (name, data) = e.split_once('\n').unwrap();
                let name = name.strip_prefix("event: ").unwrap().to_owned();
                let data: Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(data["type"], name.as_str());
                (name, data)
            })
            .collect()
    }

    fn start() -> StreamEvent {
        StreamEvent::Start {
            id: "msg_01".into(),
            model: "claude-sonnet-4-5".into(),
            usage: TokenUsage::default(),
        }
    }

    #[test]
    fn thinking_text_and_a_tool_call_stream_as_items() {
        let mut r = renderer();
        let mut out = BytesMut::new();
        let script = [
            start(),
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Thinking,
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: BlockDelta::Thinking("Hmm.".into()),
            },
            StreamEvent::BlockDelta {
                index: 0,
                delta: BlockDelta::Signature("sig".into()),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                block: BlockStart::Text(String::new()),
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: BlockDelta::Text("Hi".into()),
            },
            StreamEvent::BlockDelta {
                index: 1,
                delta: BlockDelta::Text(" there".into()),
            },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStart {
                index: 2,
                block: BlockStart::ToolUse {
                    id: "toolu_1".into(),
                    name: "f".into(),
                },
            },
            StreamEvent::BlockDelta {
                index: 2,
                delta: BlockDelta::InputJson(String::new()),
            },
            StreamEvent::BlockDelta {
                index: 2,
                delta: BlockDelta::InputJson("{\"a\":".into()),
            },
            StreamEvent::BlockDelta {
                index: 2,
                delta: BlockDelta::InputJson("1}".into()),
            },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::Ping,
            StreamEvent::Finish {
                stop_reason: Some(StopReason::ToolUse),
                usage: TokenUsage {
                    prompt: 10,
                    completion: 7,
                    cached: 4,
                    cache_write: 0,
                    reasoning: 0,
                },
            },
        ];
        for e in script {
            assert!(!r.render(e, &mut out));
        }
        assert!(r.render(StreamEvent::Stop, &mut out));
        let events = events(&out);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.reasoning_text.delta",
                "response.reasoning_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (i, (_, data)) in events.iter().enumerate() {
            assert_eq!(data["sequence_number"], i, "{data}");
        }
        assert_eq!(events[0].1["response"]["id"], "resp_01");
        assert_eq!(events[0].1["response"]["status"], "in_progress");
        assert_eq!(events[0].1["response"]["usage"], Value::Null);
        assert_eq!(
            events[7].1["item"],
            json!({"type": "reasoning", "id": "rs_01_0", "summary": [],
                "content": [{"type": "reasoning_text", "text": "Hmm."}], "encrypted_content": "sig"})
        );
        assert_eq!(events[12].1["text"], "Hi there");
        assert_eq!(events[14].1["output_index"], 1);
        assert_eq!(events[18].1["arguments"], "{\"a\":1}");
        let done = &events[20].1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"].as_array().unwrap().len(), 3);
        assert_eq!(done["output"][2]["call_id"], "toolu_1");
        assert_eq!(done["usage"]["input_tokens_details"]["cached_tokens"], 4);
        assert_eq!(done["usage"]["total_tokens"], 17);
        assert_eq!(done["tools"], json!([]));
    }

    #[test]
    fn max_tokens_ends_incomplete_and_failures_end_failed() {
        let mut r = renderer();
        let mut out = BytesMut::new();
        r.render(start(), &mut out);
        r.render(
            StreamEvent::Finish {
                stop_reason: Some(StopReason::MaxTokens),
                usage: TokenUsage::default(),
            },
            &mut out,
        );
        r.render(StreamEvent::Stop, &mut out);
        let last = events(&out).pop().unwrap();
        assert_eq!(last.0, "response.incomplete");
        assert_eq!(
            last.1["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );

        let mut r = renderer();
        let mut out = BytesMut::new();
        r.render(start(), &mut out);
        r.render(
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Text("Hel".into()),
            },
            &mut out,
        );
        r.render_failure(
            &StreamFailure::new(ErrorKind::Overloaded, "Overloaded"),
            &mut out,
        );
        let events = events(&out);
        let n = events.len();
        assert_eq!(events[n - 2].0, "response.failed");
        assert_eq!(events[n - 2].1["response"]["status"], "failed");
        assert_eq!(
            events[n - 2].1["response"]["error"],
            json!({"code": "server_error", "message": "Overloaded"})
        );
        assert_eq!(events[n - 1].0, "error");
        assert_eq!(events[n - 1].1["message"], "Overloaded");
        assert_eq!(events[n - 1].1["sequence_number"], n - 1);

        // Before anything was sent, only the error event.
        let r = renderer();
        let mut out = BytesMut::new();
        r.render_failure(
            &StreamFailure::new(ErrorKind::RateLimit, "slow down"),
            &mut out,
        );
        let events = super::tests::events(&out);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].1["code"], "rate_limit_exceeded");
        assert_eq!(events[0].1["sequence_number"], 0);
    }
}
