//! OpenAI chat format. Requests are kept as raw JSON members so every field the client sent passes
//! through byte-for-byte; only the members api-proxy must change (`model` for an alias,
//! `stream_options` to ask for usage) are rewritten. Responses are inspected for usage without
//! being re-serialised.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::sse::parse_event;
use super::{AdapterError, StreamStep, StreamTranslator};
use crate::routing::TokenUsage;

/// An OpenAI request (chat or embeddings), parsed just enough to route it.
#[derive(Debug)]
pub struct OpenAiRequest<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
    pub model: String,
    pub stream: bool,
    /// The client asked for the final usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
}

/// What to change when forwarding.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rewrite<'r> {
    pub model: Option<&'r str>,
    /// Ask the upstream for the usage chunk (for accounting) even if the client did not.
    pub request_usage: bool,
}

impl<'a> OpenAiRequest<'a> {
    /// An embeddings request: `model` and `input` are required.
    pub fn parse_embeddings(body: &'a [u8]) -> Result<Self, AdapterError> {
        let members = parse_members(body)?;
        let model = required_model(&members)?;
        if find_member(&members, "input").is_none() {
            return Err(AdapterError::new(
                "missing required parameter: 'input'",
                Some("input"),
            ));
        }
        Ok(Self {
            members,
            model,
            stream: false,
            include_usage: false,
        })
    }

    /// A chat completion request: `model` and `messages` are required.
    pub fn parse_chat(body: &'a [u8]) -> Result<Self, AdapterError> {
        let members = serde_json::from_slice::<RawMembers<'a>>(body)
            .map_err(|e| AdapterError::new(format!("request body is not valid JSON: {e}"), None))?
            .0;
        let find = |name: &str| {
            members
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| *v)
        };
        let model = match find("model").map(|v| serde_json::from_str::<String>(v.get())) {
            Some(Ok(model)) if !model.trim().is_empty() => model,
            Some(_) => {
                return Err(AdapterError::new(
                    "`model` must be a non-empty string",
                    Some("model"),
                ))
            }
            None => {
                return Err(AdapterError::new(
                    "you must provide a model parameter",
                    Some("model"),
                ))
            }
        };
        match find("messages") {
            Some(raw) if raw.get().starts_with('[') => {}
            Some(_) => {
                return Err(AdapterError::new(
                    "`messages` must be an array",
                    Some("messages"),
                ))
            }
            None => {
                return Err(AdapterError::new(
                    "missing required parameter: 'messages'",
                    Some("messages"),
                ))
            }
        }
        let stream = match find("stream").map(|v| serde_json::from_str::<Option<bool>>(v.get())) {
            None => false,
            Some(Ok(flag)) => flag.unwrap_or(false),
            Some(Err(_)) => {
                return Err(AdapterError::new(
                    "`stream` must be a boolean",
                    Some("stream"),
                ))
            }
        };
        let include_usage = find("stream_options")
            .and_then(|v| serde_json::from_str::<StreamOptions>(v.get()).ok())
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        Ok(Self {
            members,
            model,
            stream,
            include_usage,
        })
    }

    /// Identifies the conversation: the model and its first two messages. Follow-up turns repeat
    /// them, so they hash the same.
    pub fn conversation_hash(&self, model: &str) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let messages = find_member(&self.members, "messages")?;
        let messages: Vec<&RawValue> = serde_json::from_str(messages.get()).ok()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        model.hash(&mut hasher);
        for m in messages.iter().take(2) {
            m.get().hash(&mut hasher);
        }
        (!messages.is_empty()).then(|| hasher.finish())
    }

    /// The body to send upstream, or `None` when the client's bytes can go as they are.
    pub fn rewrite(&self, rewrite: Rewrite<'_>) -> Option<Vec<u8>> {
        let change_model = rewrite.model.is_some_and(|m| m != self.model);
        let add_usage = rewrite.request_usage && self.stream && !self.include_usage;
        if !change_model && !add_usage {
            return None;
        }
        let mut out = Vec::with_capacity(
            self.members
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>()
                + 64,
        );
        out.push(b'{');
        let mut first = true;
        let mut push = |out: &mut Vec<u8>, key: &str, value: &str| {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(
                serde_json::to_string(key)
                    .expect("a string serialises")
                    .as_bytes(),
            );
            out.push(b':');
            out.extend_from_slice(value.as_bytes());
        };
        let model_json = rewrite
            .model
            .map(|m| serde_json::to_string(m).expect("a string serialises"));
        for (key, value) in &self.members {
            match key.as_ref() {
                "model" if change_model => {
                    push(&mut out, key, model_json.as_deref().unwrap_or(value.get()))
                }
                "stream_options" if add_usage => {}
                _ => push(&mut out, key, value.get()),
            }
        }
        if add_usage {
            let mut options = self
                .members
                .iter()
                .rev()
                .find(|(k, _)| k == "stream_options")
                .and_then(|(_, v)| {
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(v.get()).ok()
                })
                .unwrap_or_default();
            options.insert("include_usage".into(), serde_json::Value::Bool(true));
            let text = serde_json::to_string(&options).expect("a map serialises");
            push(&mut out, "stream_options", &text);
        }
        out.push(b'}');
        Some(out)
    }
}

fn parse_members(body: &[u8]) -> Result<Vec<(Cow<'_, str>, &RawValue)>, AdapterError> {
    serde_json::from_slice::<RawMembers<'_>>(body)
        .map(|m| m.0)
        .map_err(|e| AdapterError::new(format!("request body is not valid JSON: {e}"), None))
}

/// The last member called `name` (JSON's rule for duplicates).
fn find_member<'a>(members: &[(Cow<'a, str>, &'a RawValue)], name: &str) -> Option<&'a RawValue> {
    members
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| *v)
}

fn required_model(members: &[(Cow<'_, str>, &RawValue)]) -> Result<String, AdapterError> {
    match find_member(members, "model").map(|v| serde_json::from_str::<String>(v.get())) {
        Some(Ok(model)) if !model.trim().is_empty() => Ok(model),
        Some(_) => Err(AdapterError::new(
            "`model` must be a non-empty string",
            Some("model"),
        )),
        None => Err(AdapterError::new(
            "you must provide a model parameter",
            Some("model"),
        )),
    }
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// The members of a JSON object, in order, with values left unparsed.
struct RawMembers<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for RawMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = RawMembers<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<MemberKey<'de>>()? {
                    members.push((key.0, map.next_value::<&'de RawValue>()?));
                }
                Ok(RawMembers(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// A member name, borrowed when it has no escapes.
struct MemberKey<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for MemberKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = MemberKey<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MemberKey(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MemberKey(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[derive(Deserialize)]
struct OpenAiUsage {
    #[serde(default)]
    prompt_tokens: i64,
    #[serde(default)]
    completion_tokens: i64,
    #[serde(default)]
    prompt_tokens_details: Option<OpenAiPromptDetails>,
}

#[derive(Deserialize)]
struct OpenAiPromptDetails {
    #[serde(default)]
    cached_tokens: Option<i64>,
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
        }
    }
}

#[derive(Deserialize)]
struct UsageCarrier {
    #[serde(default)]
    usage: Option<OpenAiUsage>,
}

/// The body is not a JSON object.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidResponse;

/// The usage of a non-streamed response body (checking on the way that it is a JSON object).
pub fn response_usage(body: &[u8]) -> Result<Option<TokenUsage>, InvalidResponse> {
    serde_json::from_slice::<UsageCarrier>(body)
        .map(|c| c.usage.map(Into::into))
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

fn is_filter_preamble(data: &[u8]) -> bool {
    memchr::memmem::find(data, b"prompt_filter_results").is_some()
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
    let Ok(probe) = serde_json::from_slice::<ChunkProbe>(data) else {
        // Valid JSON that is not an object (or has duplicate keys) is relayed as it is.
        return match serde_json::from_slice::<IgnoredAny>(data) {
            Ok(_) => ChunkVerdict::Chunk(ChunkUsage::default()),
            Err(_) => ChunkVerdict::NotJson,
        };
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

impl StreamTranslator for OpenAiStreamRelay {
    fn translate(&mut self, raw: &[u8], out: &mut bytes::BytesMut) -> StreamStep {
        if let Some(data) = parse_event(raw).data {
            if data.trim_ascii() == b"[DONE]" {
                out.extend_from_slice(raw);
                return StreamStep::Done;
            }
            let info = match inspect_chunk(&data) {
                ChunkVerdict::Error(message) => {
                    return StreamStep::Failed(format!(
                        "the upstream reported an error mid-stream: {message}"
                    ))
                }
                ChunkVerdict::NotJson => {
                    return StreamStep::Failed(
                        "the upstream sent a stream event that is not JSON".into(),
                    )
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
}

#[derive(Deserialize)]
struct ErrorCarrier {
    error: ErrorFields,
}

#[derive(Deserialize)]
struct ErrorFields {
    message: String,
}

/// An upstream error body in OpenAI's shape: passed through when it already is (Azure's
/// content-filter details included), else wrapped with a snippet of what came back.
pub fn error_body_for(status: actix_web::http::StatusCode, raw: &[u8]) -> bytes::Bytes {
    if is_openai_error(raw) {
        return bytes::Bytes::copy_from_slice(raw);
    }
    let snippet: String = String::from_utf8_lossy(raw).chars().take(300).collect();
    let message = if snippet.trim().is_empty() {
        format!("the upstream returned HTTP {}", status.as_u16())
    } else {
        format!(
            "the upstream returned HTTP {}: {}",
            status.as_u16(),
            snippet.trim()
        )
    };
    let kind = if status.is_server_error() {
        "api_error"
    } else {
        "invalid_request_error"
    };
    crate::error::error_body(&message, kind, None, Some("upstream_error"))
}

/// Whether `body` is already an OpenAI-shaped error (`{"error":{"message":...}}`).
pub fn is_openai_error(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorCarrier>(body).is_ok_and(|e| !e.error.message.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_request_is_forwarded_as_is() {
        let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"x_custom":{"a":[1,2]}}"#;
        let req = OpenAiRequest::parse_chat(body).unwrap();
        assert_eq!(req.model, "gpt-4o");
        assert!(!req.stream);
        assert!(req
            .rewrite(Rewrite {
                model: Some("gpt-4o"),
                request_usage: true
            })
            .is_none());
    }

    #[test]
    fn stream_gets_usage_requested_and_other_fields_survive() {
        let body =
            br#"{"model":"gpt-4o","stream":true,"messages":[],"stream_options":{"x":1},"seed":7}"#;
        let req = OpenAiRequest::parse_chat(body).unwrap();
        assert!(req.stream && !req.include_usage);
        let out = req
            .rewrite(Rewrite {
                model: None,
                request_usage: true,
            })
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["stream_options"],
            serde_json::json!({"x":1,"include_usage":true})
        );
        assert_eq!(v["seed"], 7);
        assert_eq!(v["messages"], serde_json::json!([]));
    }

    #[test]
    fn alias_rewrites_only_the_model() {
        let body = br#"{"model":"fast","messages":[{"role":"user","content":"a\"b\u00e9"}]}"#;
        let req = OpenAiRequest::parse_chat(body).unwrap();
        let out = req
            .rewrite(Rewrite {
                model: Some("gpt-4o-mini"),
                request_usage: false,
            })
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "gpt-4o-mini");
        assert_eq!(v["messages"][0]["content"], "a\"bé");
    }

    #[test]
    fn embeddings_need_model_and_input() {
        let req = OpenAiRequest::parse_embeddings(
            br#"{"model":"text-embedding-3-small","input":["a","b"]}"#,
        )
        .unwrap();
        assert_eq!(req.model, "text-embedding-3-small");
        assert_eq!(
            OpenAiRequest::parse_embeddings(br#"{"model":"m"}"#)
                .unwrap_err()
                .param,
            Some("input")
        );
    }

    #[test]
    fn invalid_requests_name_the_field() {
        assert_eq!(OpenAiRequest::parse_chat(b"{nope").unwrap_err().param, None);
        assert_eq!(OpenAiRequest::parse_chat(b"[1]").unwrap_err().param, None);
        assert_eq!(
            OpenAiRequest::parse_chat(br#"{"messages":[]}"#)
                .unwrap_err()
                .param,
            Some("model")
        );
        assert_eq!(
            OpenAiRequest::parse_chat(br#"{"model":"m"}"#)
                .unwrap_err()
                .param,
            Some("messages")
        );
        assert_eq!(
            OpenAiRequest::parse_chat(br#"{"model":"m","messages":"hi"}"#)
                .unwrap_err()
                .param,
            Some("messages")
        );
        assert_eq!(
            OpenAiRequest::parse_chat(br#"{"model":"m","messages":[],"stream":"yes"}"#)
                .unwrap_err()
                .param,
            Some("stream")
        );
    }

    #[test]
    fn usage_is_read_from_bodies_and_chunks() {
        let body = br#"{"id":"x","choices":[{"index":0}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4}}}"#;
        assert_eq!(
            response_usage(body),
            Ok(Some(TokenUsage {
                prompt: 10,
                completion: 5,
                cached: 4,
                cache_write: 0
            }))
        );
        assert_eq!(response_usage(b"{\"choices\": [tru"), Err(InvalidResponse));
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
        assert!(matches!(step, StreamStep::Failed(m) if m.contains("boom")));
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
        ] {
            let mut relay = OpenAiStreamRelay::new(true);
            out.clear();
            assert_eq!(relay.translate(chunk, &mut out), StreamStep::Continue);
            assert_eq!(&out[..], chunk, "{}", String::from_utf8_lossy(chunk));
            assert_eq!(relay.usage(), None);
        }
        let mut relay = OpenAiStreamRelay::new(true);
        assert!(matches!(
            relay.translate(b"data: {\"choices\": [\n\n", &mut out),
            StreamStep::Failed(m) if m.contains("not JSON")
        ));
    }

    #[test]
    fn recognises_openai_errors() {
        assert!(is_openai_error(
            br#"{"error":{"message":"bad","type":"x"}}"#
        ));
        assert!(!is_openai_error(b"<html>502</html>"));
    }
}
