//! Anthropic passthrough: an Anthropic key's answer to a Messages client is relayed as it came,
//! every byte, and read only for usage (`message_start` and `message_delta`) and for the
//! stream's end (`message_stop`, or an `error` event, which reaches the client as Anthropic sent
//! it). Each event is checked to be JSON in one pass that finds its type.

use std::borrow::Cow;

use bytes::BytesMut;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::error_kind;
use super::response::token_usage;
use super::stream_render::write_event;
use super::wire::{AnthropicErrorDetail, AnthropicErrorOut, AnthropicEventOut, AnthropicUsage};
use crate::adapters::canonical::{ErrorKind, StreamFailure};
use crate::adapters::sse::parse_event;
use crate::adapters::{AnswerSummary, InvalidResponse, StreamStep, StreamTranslator};
use crate::routing::TokenUsage;

/// The members of an event the relay reads; the rest is skipped unparsed.
#[derive(Deserialize)]
struct EventProbe<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default)]
    error: Option<AnthropicErrorDetail>,
}

#[derive(Deserialize)]
struct UsageCarrier {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnswerCarrier<'a> {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
}

#[derive(Default)]
pub struct AnthropicStreamRelay {
    usage: AnthropicUsage,
}

impl AnthropicStreamRelay {
    fn merge_usage(&mut self, update: AnthropicUsage) {
        // Every count Anthropic sends is cumulative.
        let u = &mut self.usage;
        u.input_tokens = update.input_tokens.or(u.input_tokens);
        u.output_tokens = update.output_tokens.or(u.output_tokens);
        u.cache_read_input_tokens = update.cache_read_input_tokens.or(u.cache_read_input_tokens);
        u.cache_creation_input_tokens = update
            .cache_creation_input_tokens
            .or(u.cache_creation_input_tokens);
    }
}

impl StreamTranslator for AnthropicStreamRelay {
    fn translate(&mut self, raw: &[u8], out: &mut BytesMut) -> StreamStep {
        let Some(data) = parse_event(raw).data else {
            out.extend_from_slice(raw);
            return StreamStep::Continue;
        };
        let Ok(probe) = serde_json::from_slice::<EventProbe>(&data) else {
            return StreamStep::Failed(StreamFailure::new(
                ErrorKind::Api,
                "the upstream sent a stream event that is not JSON",
            ));
        };
        out.extend_from_slice(raw);
        match probe.kind {
            Some("message_start") => {
                if let Some(usage) = probe
                    .message
                    .and_then(|m| serde_json::from_str::<UsageCarrier>(m.get()).ok())
                    .and_then(|c| c.usage)
                {
                    self.merge_usage(usage);
                }
            }
            Some("message_delta") => {
                if let Some(usage) = probe.usage {
                    self.merge_usage(usage);
                }
            }
            Some("message_stop") => return StreamStep::Done,
            Some("error") => {
                let error = probe.error.unwrap_or(AnthropicErrorDetail {
                    kind: String::new(),
                    message: String::new(),
                });
                return StreamStep::Failed(StreamFailure {
                    kind: error_kind(&error.kind).unwrap_or(ErrorKind::Api),
                    message: format!("Anthropic stream error ({}): {}", error.kind, error.message),
                    delivered: true,
                });
            }
            _ => {}
        }
        StreamStep::Continue
    }

    fn usage(&self) -> Option<TokenUsage> {
        (self.usage != AnthropicUsage::default()).then(|| token_usage(&self.usage))
    }

    fn write_failure(&self, failure: &StreamFailure, out: &mut BytesMut) {
        let (kind, _) = super::error::type_and_status(failure.kind);
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

/// The usage and stop reason of an Anthropic answer (checking on the way that it is a JSON
/// object).
pub fn response_summary(body: &[u8]) -> Result<AnswerSummary<'_>, InvalidResponse> {
    serde_json::from_slice::<AnswerCarrier>(body)
        .map(|c| AnswerSummary {
            usage: c.usage.map(|u| token_usage(&u)),
            finish_reasons: c.stop_reason.into_iter().collect(),
        })
        .map_err(|_| InvalidResponse)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":4,\"output_tokens\":1},\"container\":{\"id\":\"c\"}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"citations_delta\",\"citation\":{}}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    fn events() -> Vec<String> {
        STREAM.split_inclusive("\n\n").map(str::to_owned).collect()
    }

    #[test]
    fn every_byte_is_relayed_and_usage_is_read() {
        let mut relay = AnthropicStreamRelay::default();
        let mut out = BytesMut::new();
        let mut last = StreamStep::Continue;
        for e in events() {
            last = relay.translate(e.as_bytes(), &mut out);
        }
        assert_eq!(last, StreamStep::Done);
        assert_eq!(&out[..], STREAM.as_bytes());
        assert_eq!(
            relay.usage(),
            Some(TokenUsage {
                prompt: 14,
                completion: 9,
                cached: 4,
                cache_write: 0,
                reasoning: 0,
            })
        );
    }

    #[test]
    fn an_error_event_reaches_the_client_as_sent() {
        let mut relay = AnthropicStreamRelay::default();
        let mut out = BytesMut::new();
        let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let step = relay.translate(error.as_bytes(), &mut out);
        assert!(
            matches!(step, StreamStep::Failed(f) if f.delivered && f.kind == ErrorKind::Overloaded)
        );
        assert_eq!(&out[..], error.as_bytes());
        let step = relay.translate(b"event: ping\ndata: {oops\n\n", &mut BytesMut::new());
        assert!(matches!(step, StreamStep::Failed(f) if !f.delivered));
    }

    #[test]
    fn answers_are_read_for_usage() {
        assert_eq!(
            response_summary(br#"{"id":"m","stop_reason":"end_turn","usage":{"input_tokens":3,"cache_creation_input_tokens":2,"output_tokens":5}}"#),
            Ok(AnswerSummary { usage: Some(TokenUsage {
                prompt: 5,
                completion: 5,
                cached: 0,
                cache_write: 2,
                reasoning: 0,
            }), finish_reasons: vec!["end_turn".into()] })
        );
        assert_eq!(response_summary(b"[tru"), Err(InvalidResponse));
    }
}
