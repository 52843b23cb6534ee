//! Responses API passthrough: an OpenAI key's answer to a Responses client is relayed as it
//! came, every byte, and read only for what accounting and routing need: the usage (in the
//! final `response` object), the stream's end (`response.completed` or `response.incomplete`,
//! or a `response.failed` / `error` event, which reach the client as OpenAI sent them) and the
//! id under which OpenAI stored the answer (so a follow-up naming it goes to the same key).
//! Each event is checked to be JSON in one pass that finds its type; only the lifecycle events
//! (a handful per stream) are read further.

use std::borrow::Cow;

use bytes::BytesMut;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::wire::{ResponsesAnswerProbe, ResponsesUsageIn};
use crate::adapters::canonical::{ErrorKind, StreamFailure};
use crate::adapters::sse::parse_event;
use crate::adapters::{AnswerSummary, InvalidResponse, StreamStep, StreamTranslator};
use crate::routing::TokenUsage;

impl From<ResponsesUsageIn> for TokenUsage {
    fn from(u: ResponsesUsageIn) -> Self {
        let details = u.input_tokens_details.unwrap_or_default();
        TokenUsage {
            prompt: u.input_tokens,
            completion: u.output_tokens,
            cached: details.cached_tokens.unwrap_or(0),
            cache_write: details.cache_write_tokens.unwrap_or(0),
            reasoning: u
                .output_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

/// The usage and status of a non-streamed answer (checking on the way that it is a JSON
/// object).
pub fn response_summary(body: &[u8]) -> Result<AnswerSummary<'_>, InvalidResponse> {
    #[derive(Deserialize)]
    struct AnswerCarrier<'a> {
        #[serde(default)]
        usage: Option<ResponsesUsageIn>,
        #[serde(default, borrow)]
        status: Option<Cow<'a, str>>,
    }
    serde_json::from_slice::<AnswerCarrier>(body)
        .map(|c| AnswerSummary {
            usage: c.usage.map(Into::into),
            finish_reasons: c.status.into_iter().collect(),
        })
        .map_err(|_| InvalidResponse)
}

/// The id OpenAI stored the answer under, unless the answer says it was not stored.
pub(super) fn stored_id(answer: &ResponsesAnswerProbe) -> Option<String> {
    answer
        .id
        .clone()
        .filter(|id| !id.is_empty() && answer.store != Some(false))
}

/// The members of a stream event the relay reads; the rest is skipped unparsed.
#[derive(Deserialize)]
struct EventProbe<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    response: Option<&'a RawValue>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    sequence_number: Option<u64>,
}

#[derive(Default)]
pub struct ResponsesStreamRelay {
    usage: Option<TokenUsage>,
    stored: Option<String>,
    /// The `sequence_number` an error event of api-proxy's own continues from.
    next_sequence: u64,
}

impl ResponsesStreamRelay {
    fn answer(response: Option<&RawValue>) -> ResponsesAnswerProbe {
        response
            .and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or_default()
    }
}

impl StreamTranslator for ResponsesStreamRelay {
    fn translate(&mut self, raw: &[u8], out: &mut BytesMut) -> StreamStep {
        let Some(data) = parse_event(raw).data else {
            out.extend_from_slice(raw);
            return StreamStep::Continue;
        };
        if data.trim_ascii() == b"[DONE]" {
            // Not OpenAI's, but some compatible servers end with it.
            out.extend_from_slice(raw);
            return StreamStep::Done;
        }
        let Ok(probe) = serde_json::from_slice::<EventProbe>(&data) else {
            return StreamStep::Failed(StreamFailure::new(
                ErrorKind::Api,
                "the upstream sent a stream event that is not JSON",
            ));
        };
        out.extend_from_slice(raw);
        if let Some(n) = probe.sequence_number {
            self.next_sequence = n + 1;
        }
        match probe.kind.as_deref() {
            Some("response.created") => {
                self.stored = stored_id(&Self::answer(probe.response));
            }
            Some("response.completed" | "response.incomplete") => {
                let answer = Self::answer(probe.response);
                if self.stored.is_none() {
                    self.stored = stored_id(&answer);
                }
                if let Some(usage) = answer.usage {
                    self.usage = Some(usage.into());
                }
                return StreamStep::Done;
            }
            Some("response.failed") => {
                let answer = Self::answer(probe.response);
                if let Some(usage) = answer.usage {
                    self.usage = Some(usage.into());
                }
                let error = answer.error.unwrap_or_default();
                return StreamStep::Failed(StreamFailure {
                    kind: ErrorKind::Api,
                    message: format!(
                        "the upstream's response failed ({}): {}",
                        error.code.as_deref().unwrap_or("no code"),
                        error.message.as_deref().unwrap_or("no message")
                    ),
                    delivered: true,
                });
            }
            Some("error") => {
                return StreamStep::Failed(StreamFailure {
                    kind: ErrorKind::Api,
                    message: format!(
                        "the upstream reported an error mid-stream ({}): {}",
                        probe.code.as_deref().unwrap_or("no code"),
                        probe.message.as_deref().unwrap_or("no message")
                    ),
                    delivered: true,
                });
            }
            _ => {}
        }
        StreamStep::Continue
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }

    /// An `error` event in OpenAI's words (after the upstream's own stream broke).
    fn write_failure(&self, failure: &StreamFailure, out: &mut BytesMut) {
        let event = serde_json::json!({
            "type": "error",
            "code": "server_error",
            "message": failure.message,
            "param": null,
            "sequence_number": self.next_sequence,
        });
        out.extend_from_slice(b"event: error\ndata: ");
        out.extend_from_slice(event.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    }

    fn stored_response(&self) -> Option<String> {
        self.stored.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: &str) -> Vec<u8> {
        format!("event: {kind}\ndata: {data}\n\n").into_bytes()
    }

    #[test]
    fn a_stream_is_relayed_byte_for_byte_and_read_for_usage_and_id() {
        let mut relay = ResponsesStreamRelay::default();
        let mut out = BytesMut::new();
        let created = event(
            "response.created",
            r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","store":true,"output":[],"usage":null,"x_new":1}}"#,
        );
        let delta = event(
            "response.output_text.delta",
            r#"{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi","obfuscation":"abc"}"#,
        );
        let completed = event(
            "response.completed",
            r#"{"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","status":"completed","store":true,"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":4},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":3},"total_tokens":19}}}"#,
        );
        assert_eq!(relay.translate(&created, &mut out), StreamStep::Continue);
        assert_eq!(
            relay.translate(b": keep-alive\n\n", &mut out),
            StreamStep::Continue
        );
        assert_eq!(relay.translate(&delta, &mut out), StreamStep::Continue);
        assert_eq!(relay.translate(&completed, &mut out), StreamStep::Done);
        let mut expected = created.clone();
        expected.extend_from_slice(b": keep-alive\n\n");
        expected.extend_from_slice(&delta);
        expected.extend_from_slice(&completed);
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(
            relay.usage(),
            Some(TokenUsage {
                prompt: 12,
                completion: 7,
                cached: 4,
                cache_write: 0,
                reasoning: 3,
            })
        );
        assert_eq!(relay.stored_response().as_deref(), Some("resp_1"));
        // An error of api-proxy's own continues the numbering.
        let mut tail = BytesMut::new();
        relay.write_failure(&StreamFailure::new(ErrorKind::Api, "cut"), &mut tail);
        let text = String::from_utf8(tail.to_vec()).unwrap();
        let data: serde_json::Value =
            serde_json::from_str(text.strip_prefix("event: error\ndata: ").unwrap().trim())
                .unwrap();
        assert_eq!(data["sequence_number"], 3);
        assert_eq!(data["type"], "error");
    }

    #[test]
    fn unstored_answers_are_not_remembered() {
        let mut relay = ResponsesStreamRelay::default();
        relay.translate(
            &event(
                "response.created",
                r#"{"type":"response.created","response":{"id":"resp_2","store":false}}"#,
            ),
            &mut BytesMut::new(),
        );
        assert_eq!(relay.stored_response(), None);
        let answer: ResponsesAnswerProbe =
            serde_json::from_str(r#"{"id":"resp_3","object":"response"}"#).unwrap();
        assert_eq!(
            stored_id(&answer).as_deref(),
            Some("resp_3"),
            "stored by default"
        );
    }

    #[test]
    fn failures_reach_the_client_as_sent() {
        let mut out = BytesMut::new();
        let failed = event(
            "response.failed",
            r#"{"type":"response.failed","sequence_number":5,"response":{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"boom"}}}"#,
        );
        let step = ResponsesStreamRelay::default().translate(&failed, &mut out);
        assert!(matches!(step, StreamStep::Failed(f) if f.delivered && f.message.contains("boom")));
        assert_eq!(&out[..], &failed[..]);
        let error = event(
            "error",
            r#"{"type":"error","code":"rate_limit_exceeded","message":"slow","param":null,"sequence_number":2}"#,
        );
        let step = ResponsesStreamRelay::default().translate(&error, &mut BytesMut::new());
        assert!(matches!(step, StreamStep::Failed(f) if f.delivered && f.message.contains("slow")));
        let step = ResponsesStreamRelay::default()
            .translate(b"event: x\ndata: {nope\n\n", &mut BytesMut::new());
        assert!(matches!(step, StreamStep::Failed(f) if !f.delivered));
    }

    #[test]
    fn non_streamed_usage() {
        assert_eq!(
            response_summary(br#"{"id":"resp_1","usage":{"input_tokens":5,"output_tokens":2,"input_tokens_details":{"cached_tokens":1,"cache_write_tokens":2}}}"#).map(|s| s.usage),
            Ok(Some(TokenUsage {
                prompt: 5,
                completion: 2,
                cached: 1,
                cache_write: 2,
                reasoning: 0,
            }))
        );
        let done = response_summary(
            br#"{"id":"resp_1","status":"completed","output":[{"status":"in_progress"}]}"#,
        );
        assert_eq!(
            done.map(|s| (s.usage, s.finish_reasons)),
            Ok((None, vec!["completed".into()]))
        );
        assert_eq!(response_summary(b"<html>"), Err(InvalidResponse));
    }
}
