//! A client's JSON request, parsed just enough to route it: its members are kept as raw JSON
//! (in order, values unparsed), so a passthrough forwards every field the client sent
//! byte for byte and rewrites only the members api-proxy must change (`model` for an alias,
//! `stream_options` to ask for usage).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::AdapterError;

/// The request's members and what routing reads from them.
#[derive(Debug)]
pub struct RequestHead<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
    pub model: String,
    pub stream: bool,
    /// The client asked for the final usage chunk (OpenAI's `stream_options.include_usage`).
    pub include_usage: bool,
    /// The id of an answer the upstream stored that this request continues (the Responses
    /// API's `previous_response_id`): only the key that made it can serve this request.
    pub continues: Option<String>,
}

/// What to change when forwarding.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rewrite<'r> {
    pub model: Option<&'r str>,
    /// Ask the upstream for the usage chunk (for accounting) even if the client did not
    /// (OpenAI's `stream_options.include_usage`).
    pub request_usage: bool,
}

impl<'a> RequestHead<'a> {
    /// The members of a JSON object with a non-empty string `model`.
    pub fn parse(body: &'a [u8]) -> Result<Self, AdapterError> {
        let members = serde_json::from_slice::<RawMembers<'a>>(body)
            .map_err(|e| AdapterError::new(format!("request body is not valid JSON: {e}"), None))?
            .0;
        let model =
            match find_member(&members, "model").map(|v| serde_json::from_str::<String>(v.get())) {
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
        Ok(Self {
            members,
            model,
            stream: false,
            include_usage: false,
            continues: None,
        })
    }

    /// The last member called `name` (JSON's rule for duplicates).
    pub fn member(&self, name: &str) -> Option<&'a RawValue> {
        find_member(&self.members, name)
    }

    /// `name` must be present.
    pub fn require(&self, name: &'static str) -> Result<(), AdapterError> {
        match self.member(name) {
            Some(_) => Ok(()),
            None => Err(AdapterError::new(
                format!("missing required parameter: '{name}'"),
                Some(name),
            )),
        }
    }

    /// `name` must be present and a JSON array.
    pub fn require_array(&self, name: &'static str) -> Result<(), AdapterError> {
        match self.member(name) {
            Some(raw) if raw.get().starts_with('[') => Ok(()),
            Some(_) => Err(AdapterError::new(
                format!("`{name}` must be an array"),
                Some(name),
            )),
            None => Err(AdapterError::new(
                format!("missing required parameter: '{name}'"),
                Some(name),
            )),
        }
    }

    /// Reads `stream` (absent or `null`: false).
    pub fn read_stream(&mut self) -> Result<(), AdapterError> {
        self.stream = match self
            .member("stream")
            .map(|v| serde_json::from_str::<Option<bool>>(v.get()))
        {
            None => false,
            Some(Ok(flag)) => flag.unwrap_or(false),
            Some(Err(_)) => {
                return Err(AdapterError::new(
                    "`stream` must be a boolean",
                    Some("stream"),
                ))
            }
        };
        Ok(())
    }

    /// Reads `stream_options.include_usage`.
    pub fn read_include_usage(&mut self) {
        self.include_usage = self
            .member("stream_options")
            .and_then(|v| serde_json::from_str::<StreamOptions>(v.get()).ok())
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
    }

    /// Identifies the conversation: the model and its first two messages, or, where the system
    /// prompt is a member of its own (Anthropic's `system`, the Responses API's `instructions`),
    /// that and the first message.
    /// Follow-up turns repeat them, so they hash the same.
    pub fn conversation_hash(&self, model: &str) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        // Chat and Messages carry the turns in `messages`; the Responses API in `input` (a list
        // of items, or one string: then that string is the first turn).
        let turns = self.member("messages").or_else(|| self.member("input"))?;
        let messages: Vec<&RawValue> = match serde_json::from_str(turns.get()) {
            Ok(list) => list,
            Err(_) if turns.get().starts_with('"') => vec![turns],
            Err(_) => return None,
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        model.hash(&mut hasher);
        // Messages' `system`, the Responses API's `instructions`.
        let system = self
            .member("system")
            .or_else(|| self.member("instructions"));
        if let Some(system) = system {
            system.get().hash(&mut hasher);
        }
        for m in messages.iter().take(if system.is_some() { 1 } else { 2 }) {
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
                .member("stream_options")
                .and_then(|v| {
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

/// The last member called `name` (JSON's rule for duplicates).
fn find_member<'a>(members: &[(Cow<'a, str>, &'a RawValue)], name: &str) -> Option<&'a RawValue> {
    members
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| *v)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &[u8]) -> RequestHead<'_> {
        let mut head = RequestHead::parse(body).unwrap();
        head.read_stream().unwrap();
        head.read_include_usage();
        head
    }

    #[test]
    fn untouched_request_is_forwarded_as_is() {
        let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"x_custom":{"a":[1,2]}}"#;
        let req = chat(body);
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
        let req = chat(body);
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
        let req = chat(body);
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
    fn follow_up_turns_hash_like_the_first() {
        let hash = |body: &str| {
            RequestHead::parse(body.as_bytes())
                .unwrap()
                .conversation_hash("m")
        };
        let first =
            hash(r#"{"model":"m","system":"S","messages":[{"role":"user","content":"a"}]}"#);
        let next = hash(
            r#"{"model":"m","system":"S","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]}"#,
        );
        assert!(first.is_some());
        assert_eq!(first, next);
        let other =
            hash(r#"{"model":"m","system":"T","messages":[{"role":"user","content":"a"}]}"#);
        assert_ne!(first, other);
        let chat = |body: &str| hash(body);
        assert_eq!(
            chat(
                r#"{"model":"m","messages":[{"role":"system","content":"S"},{"role":"user","content":"a"}]}"#
            ),
            chat(
                r#"{"model":"m","messages":[{"role":"system","content":"S"},{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#
            )
        );
    }

    #[test]
    fn invalid_requests_name_the_field() {
        assert_eq!(RequestHead::parse(b"{nope").unwrap_err().param, None);
        assert_eq!(RequestHead::parse(b"[1]").unwrap_err().param, None);
        assert_eq!(
            RequestHead::parse(br#"{"messages":[]}"#).unwrap_err().param,
            Some("model")
        );
        assert_eq!(
            RequestHead::parse(br#"{"model":""}"#).unwrap_err().param,
            Some("model")
        );
        let head = RequestHead::parse(br#"{"model":"m","messages":"hi"}"#).unwrap();
        assert_eq!(
            head.require_array("messages").unwrap_err().param,
            Some("messages")
        );
        assert_eq!(head.require("input").unwrap_err().param, Some("input"));
        assert!(head.require("messages").is_ok());
        let mut head = RequestHead::parse(br#"{"model":"m","stream":"yes"}"#).unwrap();
        assert_eq!(head.read_stream().unwrap_err().param, Some("stream"));
    }
}
