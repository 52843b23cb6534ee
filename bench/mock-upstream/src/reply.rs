//! What the mock says, whatever the vendor: the reply text cut into one-token pieces, and the
//! tool calls it makes, with arguments generated from each tool's JSON schema. The vendor modules
//! only dress these up in their wire format, so OpenAI, Azure and Anthropic answers agree.

use serde_json::{Map, Value};

/// The reply to an ordinary prompt, one word per token (cycled when more chunks are asked for).
pub const MOCK_REPLY: &str = "Hello from the mock upstream.";
/// The text that precedes a tool call (Anthropic answers carry it as a text block).
pub const MOCK_TOOL_PREAMBLE: &str = "Let me check.";
/// The reply once the conversation ends with tool results.
pub const MOCK_TOOL_RESULT_REPLY: &str = "The weather is sunny.";
/// The reasoning the mock shows when asked to think (Anthropic's `thinking`, or an OpenAI-format
/// reasoning model: one whose id contains `reason`).
pub const MOCK_THINKING: &str = "Let me think about this request.";
/// Output tokens counted for each tool call.
pub const TOOL_CALL_TOKENS: u64 = 5;

/// `n` pieces (at least one) of [`MOCK_REPLY`], one word each, spaces leading: concatenated they
/// read "Hello from the mock upstream." for `n = 5`.
pub fn reply_pieces(n: usize) -> Vec<String> {
    let words: Vec<&str> = MOCK_REPLY.split(' ').collect();
    (0..n.max(1))
        .map(|i| {
            let w = words[i % words.len()];
            if i == 0 {
                w.to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect()
}

/// `text` as one piece per word, spaces leading.
pub fn word_pieces(text: &str) -> Vec<String> {
    text.split(' ')
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect()
}

/// Whitespace-separated words, the mock's token count for input text.
pub fn word_count(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Whether the user asked for several tool calls at once (the word "parallel").
pub fn wants_parallel(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case("parallel"))
}

/// One tool call the mock makes.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub input: Value,
}

impl ToolCall {
    /// The `index`-th call (0-based) of a reply, with ids `{prefix}1`, `{prefix}2`, ….
    pub fn new(prefix: &str, index: usize, name: &str, schema: Option<&Value>) -> Self {
        Self {
            id: format!("{prefix}{}", index + 1),
            name: name.to_owned(),
            input: input_for_schema(schema),
        }
    }

    /// The arguments as compact JSON, as both vendors stream them.
    pub fn input_json(&self) -> String {
        self.input.to_string()
    }
}

/// Arguments for a tool from its JSON schema's `properties`: strings are "Paris", numbers and
/// integers 1, booleans true, anything else null.
pub fn input_for_schema(schema: Option<&Value>) -> Value {
    let mut input = Map::new();
    let properties = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    for (name, prop) in properties.into_iter().flatten() {
        input.insert(name.clone(), value_for_type(prop.get("type")));
    }
    Value::Object(input)
}

fn value_for_type(ty: Option<&Value>) -> Value {
    // `"type": ["string", "null"]` means a nullable string.
    let ty = match ty {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    };
    match ty {
        Some("string") => Value::from("Paris"),
        Some("number" | "integer") => Value::from(1),
        Some("boolean") => Value::Bool(true),
        _ => Value::Null,
    }
}

/// `json` cut into at least three pieces on character boundaries (fewer only when it is shorter
/// than three characters), the way vendors stream tool arguments.
pub fn split_json(json: &str) -> Vec<String> {
    let chars: Vec<char> = json.chars().collect();
    if chars.len() < 3 {
        return chars.iter().map(|c| c.to_string()).collect();
    }
    let size = chars.len().div_ceil(3).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_default_reply_is_five_pieces() {
        assert_eq!(
            reply_pieces(5),
            ["Hello", " from", " the", " mock", " upstream."]
        );
        assert_eq!(reply_pieces(0), ["Hello"]);
        assert_eq!(reply_pieces(7).concat(), format!("{MOCK_REPLY} Hello from"));
    }

    #[test]
    fn arguments_follow_the_schema_types() {
        let schema = json!({"type": "object", "properties": {
            "city": {"type": "string"}, "days": {"type": "integer"}, "temp": {"type": "number"},
            "metric": {"type": "boolean"}, "tags": {"type": "array"}, "note": {"type": ["string", "null"]}
        }});
        assert_eq!(
            input_for_schema(Some(&schema)),
            json!({"city": "Paris", "days": 1, "temp": 1, "metric": true, "tags": null, "note": "Paris"})
        );
        assert_eq!(input_for_schema(None), json!({}));
    }

    #[test]
    fn json_is_split_in_at_least_three_pieces() {
        let json = r#"{"city":"Paris"}"#;
        let pieces = split_json(json);
        assert!(pieces.len() >= 3, "{pieces:?}");
        assert!(pieces.iter().all(|p| !p.is_empty()));
        assert_eq!(pieces.concat(), json);
        assert_eq!(split_json("{}"), ["{", "}"]);
    }

    #[test]
    fn parallel_is_a_whole_word() {
        assert!(wants_parallel("Check both cities in Parallel, please"));
        assert!(!wants_parallel("parallelogram"));
    }
}
