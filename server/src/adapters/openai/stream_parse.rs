//! `chat.completion.chunk`s -> canonical stream events.
//!
//! Chat chunks carry no block structure: a block opens when the kind of delta changes
//! (reasoning, text, or a tool call's index) and the previous one closes then. The answer's end
//! is `[DONE]`; the finish reason and the usage chunk (asked for by the translated request) come
//! before it, so both are reported then.

use super::relay::inspect_error;
use super::response::stop_reason;
use super::wire::OpenAiChunkIn;
use crate::adapters::canonical::{
    BlockDelta, BlockStart, ErrorKind, StopReason, StreamEvent, StreamFailure,
};
use crate::adapters::sse::parse_event;
use crate::adapters::EventParser;
use crate::routing::TokenUsage;

/// The block open now.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    Thinking,
    Text,
    /// The tool call with this OpenAI index.
    Tool(u32),
}

#[derive(Default)]
pub struct ChunkParser {
    started: bool,
    open: Option<(Open, u32)>,
    next_index: u32,
    stop_reason: Option<StopReason>,
    usage: Option<TokenUsage>,
}

impl ChunkParser {
    /// Opens a block of `kind` unless it is the one open; returns its index.
    fn ensure(&mut self, kind: Open, start: BlockStart, events: &mut Vec<StreamEvent>) -> u32 {
        if let Some((open, index)) = self.open {
            if open == kind {
                return index;
            }
            events.push(StreamEvent::BlockStop { index });
        }
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((kind, index));
        events.push(StreamEvent::BlockStart {
            index,
            block: start,
        });
        index
    }

    fn close(&mut self, events: &mut Vec<StreamEvent>) {
        if let Some((_, index)) = self.open.take() {
            events.push(StreamEvent::BlockStop { index });
        }
    }
}

impl EventParser for ChunkParser {
    fn parse(&mut self, raw: &[u8], events: &mut Vec<StreamEvent>) -> Result<(), StreamFailure> {
        let Some(data) = parse_event(raw).data else {
            return Ok(());
        };
        if data.trim_ascii() == b"[DONE]" {
            self.close(events);
            events.push(StreamEvent::Finish {
                stop_reason: Some(self.stop_reason.take().unwrap_or(StopReason::EndTurn)),
                usage: self.usage.unwrap_or_default(),
            });
            events.push(StreamEvent::Stop);
            return Ok(());
        }
        let chunk: OpenAiChunkIn = serde_json::from_slice(&data).map_err(|_| {
            StreamFailure::new(
                ErrorKind::Api,
                "the upstream sent a stream event that is not JSON",
            )
        })?;
        if let Some(message) = chunk.error.as_ref().and_then(inspect_error) {
            return Err(StreamFailure::new(
                ErrorKind::Api,
                format!("the upstream reported an error mid-stream: {message}"),
            ));
        }
        if !self.started {
            self.started = true;
            events.push(StreamEvent::Start {
                id: chunk.id.clone(),
                model: chunk.model.clone(),
                usage: TokenUsage::default(),
            });
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        let Some(choice) = chunk.choices.into_iter().next() else {
            return Ok(());
        };
        let delta = choice.delta;
        if let Some(thinking) = delta
            .reasoning_content
            .or(delta.reasoning)
            .filter(|t| !t.is_empty())
        {
            let index = self.ensure(Open::Thinking, BlockStart::Thinking, events);
            events.push(StreamEvent::BlockDelta {
                index,
                delta: BlockDelta::Thinking(thinking),
            });
        }
        if let Some(text) = delta
            .content
            .filter(|t| !t.is_empty())
            .or(delta.refusal.filter(|t| !t.is_empty()))
        {
            let index = self.ensure(Open::Text, BlockStart::Text(String::new()), events);
            events.push(StreamEvent::BlockDelta {
                index,
                delta: BlockDelta::Text(text),
            });
        }
        for call in delta.tool_calls {
            let arguments = call.function.arguments.unwrap_or_default();
            let is_open = matches!(self.open, Some((Open::Tool(i), _)) if i == call.index);
            let index = if is_open {
                self.open.map_or(0, |(_, index)| index)
            } else {
                let start = BlockStart::ToolUse {
                    id: call
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("call_{}", call.index)),
                    name: call.function.name.clone().unwrap_or_default(),
                };
                self.ensure(Open::Tool(call.index), start, events)
            };
            if !arguments.is_empty() {
                events.push(StreamEvent::BlockDelta {
                    index,
                    delta: BlockDelta::InputJson(arguments),
                });
            }
        }
        if let Some(finish) = choice.finish_reason {
            self.stop_reason = Some(stop_reason(&finish));
        }
        Ok(())
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::openai::response::arguments_object;
    use serde_json::json;

    /// A complete answer's tool arguments, for tests that check what the pieces add up to.
    fn joined_arguments(events: &[StreamEvent], index: u32) -> serde_json::Value {
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::BlockDelta {
                    index: i,
                    delta: BlockDelta::InputJson(p),
                } if *i == index => Some(p.as_str()),
                _ => None,
            })
            .collect();
        arguments_object(&text)
    }

    fn parse_all(chunks: &[&str]) -> Vec<StreamEvent> {
        let mut parser = ChunkParser::default();
        let mut events = Vec::new();
        for chunk in chunks {
            parser
                .parse(format!("data: {chunk}\n\n").as_bytes(), &mut events)
                .unwrap();
        }
        events
    }

    #[test]
    fn reasoning_text_and_tools_become_blocks() {
        let events = parse_all(&[
            r#"{"id":"c1","model":"deepseek-reasoner","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"Let me"}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":" think"}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"Checking."}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"id":"c1","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":8}}}"#,
            "[DONE]",
        ]);
        assert_eq!(
            events[0],
            StreamEvent::Start {
                id: "c1".into(),
                model: "deepseek-reasoner".into(),
                usage: TokenUsage::default()
            }
        );
        assert_eq!(
            events[1],
            StreamEvent::BlockStart {
                index: 0,
                block: BlockStart::Thinking
            }
        );
        assert!(events.contains(&StreamEvent::BlockStart {
            index: 1,
            block: BlockStart::Text(String::new())
        }));
        assert!(events.contains(&StreamEvent::BlockStart {
            index: 2,
            block: BlockStart::ToolUse {
                id: "call_a".into(),
                name: "get_weather".into()
            }
        }));
        assert_eq!(joined_arguments(&events, 2), json!({"city": "Paris"}));
        assert_eq!(joined_arguments(&events, 3), json!({}));
        let n = events.len();
        assert_eq!(events[n - 3], StreamEvent::BlockStop { index: 3 });
        assert_eq!(
            events[n - 2],
            StreamEvent::Finish {
                stop_reason: Some(StopReason::ToolUse),
                usage: TokenUsage {
                    prompt: 20,
                    completion: 9,
                    cached: 8,
                    cache_write: 0,
                    reasoning: 0,
                }
            }
        );
        assert_eq!(events[n - 1], StreamEvent::Stop);
        // Every block that opened closed, in order.
        let starts = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::BlockStart { .. }))
            .count();
        let stops = events
            .iter()
            .filter(|e| matches!(e, StreamEvent::BlockStop { .. }))
            .count();
        assert_eq!((starts, stops), (4, 4));
    }

    #[test]
    fn errors_and_garbage_fail_the_stream() {
        let mut parser = ChunkParser::default();
        let mut events = Vec::new();
        let err = parser
            .parse(b"data: {\"error\":{\"message\":\"boom\"}}\n\n", &mut events)
            .unwrap_err();
        assert!(err.message.contains("boom"));
        assert!(parser.parse(b"data: {nope\n\n", &mut events).is_err());
    }
}
