//! OpenAI passthrough: answers of an OpenAI-format upstream to an OpenAI client are relayed as
//! they came and only read for usage. Stream chunks are checked in one pass (valid JSON, an
//! in-stream error, the usage) without being re-serialised.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::stream_error_event;
use crate::adapters::canonical::{ErrorKind, StreamFailure};
use crate::adapters::sse::parse_event;
use crate::adapters::{json_check, AnswerSummary, InvalidResponse, StreamStep, StreamTranslator};
use crate::routing::TokenUsage;

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiUsage {
    #[serde(default, deserialize_with = "crate::adapters::tokens::count")]
    pub prompt_tokens: i64,
    #[serde(default, deserialize_with = "crate::adapters::tokens::count")]
    pub completion_tokens: i64,
    #[serde(default)]
    pub prompt_tokens_details: Option<OpenAiPromptDetails>,
    #[serde(default)]
    pub completion_tokens_details: Option<OpenAiCompletionDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiCompletionDetails {
    #[serde(default, deserialize_with = "crate::adapters::tokens::maybe_count")]
    pub reasoning_tokens: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiPromptDetails {
    #[serde(default, deserialize_with = "crate::adapters::tokens::maybe_count")]
    pub cached_tokens: Option<i64>,
}

impl From<OpenAiUsage> for TokenUsage {
    fn from(u: OpenAiUsage) -> Self {
        TokenUsage {
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
            cached: u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            cache_write: 0,
            reasoning: u
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

#[derive(Deserialize)]
struct UsageCarrier {
    #[serde(default)]
    usage: Option<OpenAiUsage>,
}

#[derive(Deserialize)]
struct AnswerCarrier<'a> {
    #[serde(default)]
    usage: Option<OpenAiUsage>,
    #[serde(default, borrow)]
    choices: Vec<ChoiceReason<'a>>,
}

#[derive(Deserialize)]
struct ChoiceReason<'a> {
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

/// The usage of a non-streamed response body, and its finish reasons when `finish_reasons`
/// (checking on the way that it is a JSON object). Reading the choices costs about a tenth more
/// than skipping them, so only a traced call does.
pub fn response_summary(
    body: &[u8],
    finish_reasons: bool,
) -> Result<AnswerSummary<'_>, InvalidResponse> {
    if !finish_reasons {
        return serde_json::from_slice::<UsageCarrier>(body)
            .map(|c| AnswerSummary {
                usage: c.usage.map(Into::into),
                finish_reasons: Vec::new(),
            })
            .map_err(|_| InvalidResponse);
    }
    serde_json::from_slice::<AnswerCarrier>(body)
        .map(|c| AnswerSummary {
            usage: c.usage.map(Into::into),
            finish_reasons: c
                .choices
                .into_iter()
                .filter_map(|c| c.finish_reason)
                .collect(),
        })
        .map_err(|_| InvalidResponse)
}

/// What a stream chunk says about usage.
#[derive(Debug, Default, PartialEq)]
pub struct ChunkUsage {
    pub usage: Option<TokenUsage>,
    /// The chunk carries only usage (`choices: []`): OpenAI's final usage chunk.
    pub usage_only: bool,
}

/// Inspects one `data:` payload of a chat stream.
pub fn chunk_usage(data: &[u8]) -> ChunkUsage {
    match inspect_chunk(data) {
        ChunkVerdict::Chunk(info) => info,
        ChunkVerdict::Error(_) | ChunkVerdict::NotJson => ChunkUsage::default(),
    }
}

/// Relays OpenAI-format chunks byte for byte, recording usage, dropping the usage-only chunk the
/// client did not ask for and Azure's content-filter preamble (a chunk with an empty `id` and no
/// choices), so the client sees one id and OpenAI's sequence.
pub struct OpenAiStreamRelay {
    strip_usage: bool,
    usage: Option<TokenUsage>,
}

impl OpenAiStreamRelay {
    /// `strip_usage`: the client did not ask for the usage chunk.
    pub fn new(strip_usage: bool) -> Self {
        Self {
            strip_usage,
            usage: None,
        }
    }
}

#[derive(Deserialize)]
struct PreambleProbe {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    choices: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    usage: Option<IgnoredAny>,
}

// The searches run on every chunk of every stream: their searchers are built once (building one
// per search was about a seventh of a streamed call's instructions).
static FILTER_RESULTS: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(b"prompt_filter_results"));
static ERROR_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"error\""));
static USAGE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\""));

fn is_filter_preamble(data: &[u8]) -> bool {
    FILTER_RESULTS.find(data).is_some()
        && serde_json::from_slice::<PreambleProbe>(data).is_ok_and(|p| {
            p.id.as_deref().unwrap_or("").is_empty()
                && p.choices.is_none_or(|c| c.is_empty())
                && p.usage.is_none()
        })
}

/// The top-level fields of a stream chunk the relay looks at, left unparsed: one pass over the
/// chunk validates it and finds them all (three separate parses per chunk, for the error, the
/// usage and the validity, were a measurable share of a stream's cost).
#[derive(Deserialize)]
struct ChunkProbe<'a> {
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    usage: Option<&'a RawValue>,
    #[serde(borrow, default)]
    choices: Option<&'a RawValue>,
}

/// What one chunk means for the relay.
enum ChunkVerdict {
    /// The upstream reported an error in the stream.
    Error(String),
    NotJson,
    Chunk(ChunkUsage),
}

fn inspect_chunk(data: &[u8]) -> ChunkVerdict {
    // Most chunks carry a delta and nothing the relay needs: when a chunk names neither `error`
    // nor a usage other than `"usage": null` (which OpenAI puts in every chunk when usage is
    // asked for), it is only validated, without building anything (the probe's parse was most
    // of a streamed call's own cost); garbage still ends the stream.
    let only_checked = || match json_check::is_json(data) {
        true => ChunkVerdict::Chunk(ChunkUsage::default()),
        false => ChunkVerdict::NotJson,
    };
    if !names_usage(data) && ERROR_KEY.find(data).is_none() {
        return only_checked();
    }
    let Ok(probe) = serde_json::from_slice::<ChunkProbe>(data) else {
        // Valid JSON that is not an object (or has duplicate keys) is relayed as it is.
        return only_checked();
    };
    if let Some(e) = probe
        .error
        .and_then(|raw| serde_json::from_str::<ErrorFields>(raw.get()).ok())
    {
        return ChunkVerdict::Error(e.message);
    }
    let Some(usage) = probe.usage else {
        return ChunkVerdict::Chunk(ChunkUsage::default());
    };
    // As a whole-chunk parse would have it: a malformed usage or choices means no usage.
    let usage = serde_json::from_str::<OpenAiUsage>(usage.get()).ok();
    let no_choices = match probe.choices {
        None => Some(true),
        Some(raw) => serde_json::from_str::<Vec<IgnoredAny>>(raw.get())
            .ok()
            .map(|c| c.is_empty()),
    };
    match (usage, no_choices) {
        (Some(usage), Some(no_choices)) => ChunkVerdict::Chunk(ChunkUsage {
            usage: Some(usage.into()),
            usage_only: no_choices,
        }),
        _ => ChunkVerdict::Chunk(ChunkUsage::default()),
    }
}

/// `"usage"` occurs other than as `"usage": null`: the chunk may carry usage.
fn names_usage(data: &[u8]) -> bool {
    USAGE_KEY.find_iter(data).any(|at| {
        let rest = data[at + 7..].trim_ascii_start();
        !rest
            .strip_prefix(b":")
            .is_some_and(|v| v.trim_ascii_start().starts_with(b"null"))
    })
}

impl StreamTranslator for OpenAiStreamRelay {
    fn translate(&mut self, raw: &[u8], out: &mut bytes::BytesMut) -> StreamStep {
        if let Some(data) = parse_event(raw).data {
            if data.trim_ascii() == b"[DONE]" {
                out.extend_from_slice(raw);
                return StreamStep::Done;
            }
            let info = match inspect_chunk(&data) {
                ChunkVerdict::Error(message) => {
                    return StreamStep::Failed(StreamFailure::new(
                        ErrorKind::Api,
                        format!("the upstream reported an error mid-stream: {message}"),
                    ))
                }
                ChunkVerdict::NotJson => {
                    return StreamStep::Failed(StreamFailure::new(
                        ErrorKind::Api,
                        "the upstream sent a stream event that is not JSON",
                    ))
                }
                ChunkVerdict::Chunk(info) => info,
            };
            if info.usage.is_some() {
                self.usage = info.usage;
            }
            if (info.usage_only && self.strip_usage) || is_filter_preamble(&data) {
                return StreamStep::Continue;
            }
        }
        out.extend_from_slice(raw);
        StreamStep::Continue
    }

    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }

    fn write_failure(&self, failure: &StreamFailure, out: &mut bytes::BytesMut) {
        out.extend_from_slice(&stream_error_event(failure));
    }
}

#[derive(Deserialize)]
struct ErrorFields {
    message: String,
}

/// The message of a chunk's `error` member, when it is an error object.
pub(super) fn inspect_error(error: &serde_json::Value) -> Option<String> {
    error
        .get("message")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_read_from_bodies_and_chunks() {
        let body = br#"{"id":"x","choices":[{"index":0}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4}}}"#;
        assert_eq!(
            response_summary(body, false).map(|s| s.usage),
            Ok(Some(TokenUsage {
                prompt: 10,
                completion: 5,
                cached: 4,
                cache_write: 0,
                reasoning: 0,
            }))
        );
        for reasons in [false, true] {
            assert_eq!(
                response_summary(b"{\"choices\": [tru", reasons),
                Err(InvalidResponse)
            );
        }
        let two = br#"{"choices":[{"finish_reason":"stop"},{"finish_reason":"le\u006egth"},{"finish_reason":null}]}"#;
        assert_eq!(
            response_summary(two, true).unwrap().finish_reasons,
            ["stop", "length"]
        );
        let last = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;
        let info = chunk_usage(last);
        assert!(info.usage_only);
        assert_eq!(info.usage.unwrap().completion, 2);
        let mid = br#"{"id":"x","choices":[{"delta":{"content":"hi"}}],"usage":null}"#;
        assert_eq!(chunk_usage(mid), ChunkUsage::default());
        assert_eq!(chunk_usage(b"garbage \"usage\""), ChunkUsage::default());
    }

    #[test]
    fn relay_drops_azure_preamble_and_unrequested_usage() {
        let mut relay = OpenAiStreamRelay::new(true);
        let mut out = bytes::BytesMut::new();
        let preamble = b"data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0}]}\n\n";
        assert_eq!(relay.translate(preamble, &mut out), StreamStep::Continue);
        let chunk =
            b"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";
        relay.translate(chunk, &mut out);
        let usage = b"data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n";
        relay.translate(usage, &mut out);
        assert_eq!(
            relay.translate(b"data: [DONE]\n\n", &mut out),
            StreamStep::Done
        );
        let mut expected = chunk.to_vec();
        expected.extend_from_slice(b"data: [DONE]\n\n");
        assert_eq!(&out[..], &expected[..]);
        assert_eq!(relay.usage().unwrap().completion, 2);
    }

    #[test]
    fn relay_fails_on_an_error_chunk() {
        let mut relay = OpenAiStreamRelay::new(false);
        let step = relay.translate(
            b"data: {\"error\":{\"message\":\"boom\"}}\n\n",
            &mut bytes::BytesMut::new(),
        );
        assert!(matches!(step, StreamStep::Failed(f) if f.message.contains("boom")));
    }

    #[test]
    fn odd_but_valid_chunks_are_relayed_and_garbage_is_not() {
        let mut out = bytes::BytesMut::new();
        for chunk in [
            // Not an object: relayed untouched.
            &b"data: [1, 2]\n\n"[..],
            // An `error` that is not an error object, a malformed usage, usage: null.
            b"data: {\"error\":null,\"choices\":[]}\n\n",
            b"data: {\"error\":\"text\",\"choices\":[{}]}\n\n",
            b"data: {\"choices\":[],\"usage\":\"lots\"}\n\n",
            b"data: {\"choices\":[{}],\"usage\":null}\n\n",
            // Brackets and escaped quotes inside strings do not count.
            b"data: {\"choices\":[{\"delta\":{\"content\":\"a \\\"q\\\" ]} \\\\\"}}]}\n\n",
        ] {
            let mut relay = OpenAiStreamRelay::new(true);
            out.clear();
            assert_eq!(relay.translate(chunk, &mut out), StreamStep::Continue);
            assert_eq!(&out[..], chunk, "{}", String::from_utf8_lossy(chunk));
            assert_eq!(relay.usage(), None);
        }
        // Truncated chunks, with and without the members the relay reads.
        for garbage in [
            &b"data: {\"choices\": [\n\n"[..],
            b"data: {\"choices\": [{\"delta\":{\"content\":\"hi\"}}\n\n",
            b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1\n\n",
            b"data: \"unterminated\n\n",
            b"data: {\"choices\":[{\"delta\":{\"content\":\"}]}\"}}]\n\n",
            b"data: {\"choices\":[]}]\n\n",
            b"data: {\"choices\":[}\n\n",
            // Balanced but not JSON.
            b"data: {\"a\":}\n\n",
            b"data: {\"choices\":[{\"delta\":{\"content\":hi}}]}\n\n",
        ] {
            let mut relay = OpenAiStreamRelay::new(true);
            assert!(
                matches!(
                    relay.translate(garbage, &mut out),
                    StreamStep::Failed(f) if f.message.contains("not JSON")
                ),
                "{}",
                String::from_utf8_lossy(garbage)
            );
        }
    }
}
