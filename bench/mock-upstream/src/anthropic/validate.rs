//! The checks the Messages API makes before generating anything, with its error messages (which
//! start with the path of the offending field, e.g. `messages.1.content.0.source: …`).
//!
//! Deliberately strict where api-proxy's translation can go wrong: unknown top-level fields
//! (accepted only with an `anthropic-beta` header, as a beta may add some), roles other than
//! user/assistant, unpaired `tool_use` / `tool_result`, OpenAI-shaped tools and images, and
//! thinking blocks whose `signature` does not match their text (the real API rejects a
//! thinking block that was altered on its way back). Consecutive same-role turns and a leading assistant turn are rejected too, as
//! older API versions did; a proxy that sends them relies on merging it should do itself.

use std::collections::HashSet;

use serde_json::{Map, Value};

type Checked = Result<(), String>;

const FIELDS: &[&str] = &[
    "model",
    "messages",
    "system",
    "max_tokens",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
];

const BLOCK_TYPES: &[&str] = &[
    "text",
    "image",
    "document",
    "search_result",
    "thinking",
    "redacted_thinking",
    "tool_use",
    "tool_result",
    "server_tool_use",
    "web_search_tool_result",
];

const IMAGE_MEDIA_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

const TOOL_KEYS: &[&str] = &[
    "type",
    "name",
    "description",
    "input_schema",
    "cache_control",
];

/// The signature the mock gives a thinking block's text (an FNV-1a hash): a block that comes
/// back with another text or signature is refused, as the real API refuses tampered thinking.
pub fn thinking_signature(thinking: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in thinking.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("EqMockSig{hash:016x}")
}

/// The whole request; `Err` holds the message of Anthropic's `invalid_request_error`. `betas`:
/// the request carries `anthropic-beta`, so fields of betas are allowed.
pub fn request(body: &Value, betas: bool) -> Checked {
    let Some(obj) = body.as_object() else {
        return Err("Input should be a valid dictionary or object to extract fields from".into());
    };
    if let Some(extra) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        if !betas {
            return Err(format!("{extra}: Extra inputs are not permitted"));
        }
    }
    match obj.get("model") {
        None => return Err("model: Field required".into()),
        Some(Value::String(m)) if !m.is_empty() => {}
        Some(_) => return Err("model: Input should be a valid string".into()),
    }
    let max_tokens = match obj.get("max_tokens") {
        None => return Err("max_tokens: Field required".into()),
        Some(v) => match v.as_u64() {
            Some(0) => return Err("max_tokens: Input should be greater than or equal to 1".into()),
            Some(n) => n,
            None => return Err("max_tokens: Input should be a valid integer".into()),
        },
    };
    let messages = match obj.get("messages") {
        None => return Err("messages: Field required".into()),
        Some(Value::Array(m)) => m,
        Some(_) => return Err("messages: Input should be a valid list".into()),
    };
    check_messages(messages)?;
    if let Some(system) = obj.get("system") {
        check_system(system)?;
    }
    if let Some(stream) = obj.get("stream") {
        if !stream.is_boolean() {
            return Err("stream: Input should be a valid boolean".into());
        }
    }
    check_unit_interval(obj, "temperature")?;
    check_unit_interval(obj, "top_p")?;
    if let Some(top_k) = obj.get("top_k") {
        if top_k.as_u64().is_none() {
            return Err("top_k: Input should be a valid integer".into());
        }
    }
    if let Some(stops) = obj.get("stop_sequences") {
        let Some(stops) = stops.as_array() else {
            return Err("stop_sequences: Input should be a valid list".into());
        };
        if let Some(i) = stops.iter().position(|s| !s.is_string()) {
            return Err(format!(
                "stop_sequences.{i}: Input should be a valid string"
            ));
        }
    }
    if let Some(metadata) = obj.get("metadata") {
        check_metadata(metadata)?;
    }
    let tool_names = match obj.get("tools") {
        Some(tools) => check_tools(tools)?,
        None => Vec::new(),
    };
    if let Some(choice) = obj.get("tool_choice") {
        check_tool_choice(choice, &tool_names)?;
    }
    if let Some(thinking) = obj.get("thinking") {
        check_thinking(thinking, max_tokens)?;
    }
    if let Some(tier) = obj.get("service_tier") {
        if tier != "auto" && tier != "standard_only" {
            return Err("service_tier: Input should be 'auto' or 'standard_only'".into());
        }
    }
    Ok(())
}

fn check_unit_interval(obj: &Map<String, Value>, field: &str) -> Checked {
    let Some(value) = obj.get(field) else {
        return Ok(());
    };
    match value.as_f64() {
        None => Err(format!("{field}: Input should be a valid number")),
        Some(v) if v < 0.0 => Err(format!(
            "{field}: Input should be greater than or equal to 0"
        )),
        Some(v) if v > 1.0 => Err(format!("{field}: Input should be less than or equal to 1")),
        Some(_) => Ok(()),
    }
}

fn check_messages(messages: &[Value]) -> Checked {
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    for (i, message) in messages.iter().enumerate() {
        let Some(m) = message.as_object() else {
            return Err(format!(
                "messages.{i}: Input should be a valid dictionary or object to extract fields from"
            ));
        };
        if let Some(extra) = m.keys().find(|k| *k != "role" && *k != "content") {
            return Err(format!(
                "messages.{i}.{extra}: Extra inputs are not permitted"
            ));
        }
        match m.get("role") {
            None => return Err(format!("messages.{i}.role: Field required")),
            Some(r) if r == "user" || r == "assistant" => {}
            Some(_) => {
                return Err(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant'"
                ))
            }
        }
        match m.get("content") {
            None => return Err(format!("messages.{i}.content: Field required")),
            Some(Value::String(_)) => {}
            Some(Value::Array(blocks)) => {
                for (j, block) in blocks.iter().enumerate() {
                    check_block(&format!("messages.{i}.content.{j}"), block)?;
                }
            }
            Some(_) => {
                return Err(format!(
                "messages.{i}.content: Input should be a valid string or a list of content blocks"
            ))
            }
        }
    }
    if messages[0]["role"] != "user" {
        return Err("messages: first message must use the \"user\" role".into());
    }
    for pair in messages.windows(2) {
        if pair[0]["role"] == pair[1]["role"] {
            let role = pair[0]["role"].as_str().unwrap_or_default();
            return Err(format!(
                "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"{role}\" roles in a row"
            ));
        }
    }
    let last = messages.len() - 1;
    for (i, m) in messages.iter().enumerate() {
        let empty = match &m["content"] {
            Value::String(s) => s.is_empty(),
            Value::Array(blocks) => blocks.is_empty(),
            _ => false,
        };
        if empty && !(i == last && m["role"] == "assistant") {
            return Err(format!(
                "messages.{i}: all messages must have non-empty content except for the optional final assistant message"
            ));
        }
    }
    for i in 0..messages.len() {
        if messages[i]["role"] == "user" {
            check_tool_pairing(messages, i)?;
        }
    }
    Ok(())
}

fn blocks_of(message: &Value) -> &[Value] {
    message["content"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The user message at `i` answers every `tool_use` of the assistant message just before it with
/// a `tool_result`, those results come first, and it answers nothing else.
fn check_tool_pairing(messages: &[Value], i: usize) -> Checked {
    let asked: Vec<&str> = match i.checked_sub(1).map(|p| &messages[p]) {
        Some(prev) if prev["role"] == "assistant" => blocks_of(prev)
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .filter_map(|b| b["id"].as_str())
            .collect(),
        _ => Vec::new(),
    };
    let blocks = blocks_of(&messages[i]);
    let mut answered = HashSet::new();
    for (j, block) in blocks.iter().enumerate() {
        if block["type"] != "tool_result" {
            continue;
        }
        let id = block["tool_use_id"].as_str().unwrap_or_default();
        if !asked.contains(&id) {
            return Err(format!(
                "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
            ));
        }
        answered.insert(id);
    }
    let unanswered: Vec<&str> = asked
        .iter()
        .copied()
        .filter(|id| !answered.contains(id))
        .collect();
    if !unanswered.is_empty() {
        return Err(format!(
            "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
            i - 1,
            unanswered.join(", ")
        ));
    }
    let results = blocks.iter().filter(|b| b["type"] == "tool_result").count();
    let leading = blocks
        .iter()
        .take_while(|b| b["type"] == "tool_result")
        .count();
    if leading < results {
        return Err(format!(
            "messages.{i}: Did not find {results} `tool_result` block(s) at the beginning of this message. Messages following `tool_use` blocks must begin with a matching number of `tool_result` blocks."
        ));
    }
    Ok(())
}

fn check_block(path: &str, block: &Value) -> Checked {
    if !block.is_object() {
        return Err(format!(
            "{path}: Input should be a valid dictionary or object to extract fields from"
        ));
    }
    let Some(kind) = block.get("type") else {
        return Err(format!("{path}.type: Field required"));
    };
    let kind = kind.as_str().unwrap_or_default();
    let string = |field: &str| -> Checked {
        match block.get(field) {
            None => Err(format!("{path}.{field}: Field required")),
            Some(Value::String(_)) => Ok(()),
            Some(_) => Err(format!("{path}.{field}: Input should be a valid string")),
        }
    };
    match kind {
        "text" => {
            string("text")?;
            if block["text"] == "" {
                return Err(format!("{path}: text content blocks must be non-empty"));
            }
            Ok(())
        }
        "image" => check_image_source(path, block),
        "document" => check_document_source(path, block),
        "tool_use" | "server_tool_use" => {
            string("id")?;
            string("name")?;
            match block.get("input") {
                Some(Value::Object(_)) => Ok(()),
                None => Err(format!("{path}.input: Field required")),
                Some(_) => Err(format!("{path}.input: Input should be a valid dictionary")),
            }
        }
        "tool_result" => {
            string("tool_use_id")?;
            match block.get("content") {
                None | Some(Value::String(_)) => Ok(()),
                Some(Value::Array(parts)) => {
                    for (k, part) in parts.iter().enumerate() {
                        check_block(&format!("{path}.content.{k}"), part)?;
                    }
                    Ok(())
                }
                Some(_) => Err(format!(
                    "{path}.content: Input should be a valid string or a list of content blocks"
                )),
            }
        }
        "thinking" => {
            string("thinking")?;
            string("signature")?;
            let thinking = block["thinking"].as_str().unwrap_or_default();
            if block["signature"].as_str() != Some(thinking_signature(thinking).as_str()) {
                return Err(format!("{path}: Invalid `signature` in `thinking` block"));
            }
            Ok(())
        }
        "redacted_thinking" => string("data"),
        _ if BLOCK_TYPES.contains(&kind) => Ok(()),
        _ => Err(format!(
            "{path}: Input tag '{kind}' found using 'type' does not match any of the expected tags: {}",
            quoted(BLOCK_TYPES)
        )),
    }
}

/// A PDF (`base64` with `application/pdf`, or `url`), plain text (`text`), or content blocks
/// (`content`).
fn check_document_source(path: &str, block: &Value) -> Checked {
    let Some(source) = block.get("source").filter(|s| s.is_object()) else {
        return Err(format!("{path}.source: Field required"));
    };
    match source["type"].as_str().unwrap_or_default() {
        "base64" if source["media_type"] == "application/pdf" && source["data"].is_string() => {
            Ok(())
        }
        "base64" => Err(format!(
            "{path}.source.base64.media_type: Input should be 'application/pdf'"
        )),
        "text" if source["data"].is_string() => Ok(()),
        "url" if source["url"].is_string() => Ok(()),
        "content" if source["content"].is_string() || source["content"].is_array() => Ok(()),
        "file" if source["file_id"].is_string() => Ok(()),
        other => Err(format!(
            "{path}.source: Input tag '{other}' found using 'type' does not match any of the expected tags: 'base64', 'content', 'file', 'text', 'url'"
        )),
    }
}

/// `{type: "base64", media_type, data}` or `{type: "url", url}`; not OpenAI's `image_url`.
fn check_image_source(path: &str, block: &Value) -> Checked {
    let Some(source) = block.get("source") else {
        return Err(format!("{path}.source: Field required"));
    };
    let kind = source["type"].as_str().unwrap_or_default();
    match kind {
        "base64" => {
            let media_type = source["media_type"].as_str();
            if !media_type.is_some_and(|m| IMAGE_MEDIA_TYPES.contains(&m)) {
                return Err(format!(
                    "{path}.source.base64.media_type: Input should be {}",
                    quoted(IMAGE_MEDIA_TYPES)
                ));
            }
            if !source["data"].is_string() {
                return Err(format!("{path}.source.base64.data: Field required"));
            }
            Ok(())
        }
        "url" => {
            if !source["url"].is_string() {
                return Err(format!("{path}.source.url.url: Field required"));
            }
            Ok(())
        }
        _ => Err(format!(
            "{path}.source: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'base64', 'url'"
        )),
    }
}

/// A string, or a list of text blocks.
fn check_system(system: &Value) -> Checked {
    match system {
        Value::String(_) => Ok(()),
        Value::Array(blocks) => {
            for (j, block) in blocks.iter().enumerate() {
                if block["type"] != "text" {
                    return Err(format!("system.{j}.type: Input should be 'text'"));
                }
                check_block(&format!("system.{j}"), block)?;
            }
            Ok(())
        }
        _ => Err("system: Input should be a valid string or a list of text blocks".into()),
    }
}

fn check_metadata(metadata: &Value) -> Checked {
    let Some(m) = metadata.as_object() else {
        return Err("metadata: Input should be a valid dictionary".into());
    };
    if let Some(extra) = m.keys().find(|k| *k != "user_id") {
        return Err(format!("metadata.{extra}: Extra inputs are not permitted"));
    }
    match m.get("user_id") {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(_) => Err("metadata.user_id: Input should be a valid string".into()),
    }
}

/// Client tools are `{name, description?, input_schema}` (optionally `type: "custom"`); server
/// tools are dated types such as `web_search_20250305`. Returns the client tools' names.
fn check_tools(tools: &Value) -> Result<Vec<String>, String> {
    let Some(tools) = tools.as_array() else {
        return Err("tools: Input should be a valid list".into());
    };
    let mut names = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let Some(t) = tool.as_object() else {
            return Err(format!("tools.{i}: Input should be a valid dictionary"));
        };
        if let Some(kind) = t.get("type") {
            let kind = kind.as_str().unwrap_or_default();
            if is_server_tool(kind) {
                continue;
            }
            if kind != "custom" {
                return Err(format!(
                    "tools.{i}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'custom', 'bash_20250124', 'code_execution_20250522', 'text_editor_20250728', 'web_search_20250305'"
                ));
            }
        }
        let name = match t.get("name") {
            None => return Err(format!("tools.{i}.name: Field required")),
            Some(n) => n.as_str().unwrap_or_default(),
        };
        let valid = (1..=128).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            ));
        }
        match t.get("input_schema") {
            None => return Err(format!("tools.{i}.input_schema: Field required")),
            Some(Value::Object(schema)) => {
                if schema.get("type").is_some_and(|ty| ty != "object") {
                    return Err(format!(
                        "tools.{i}.input_schema.type: Input should be 'object'"
                    ));
                }
            }
            Some(_) => {
                return Err(format!(
                    "tools.{i}.input_schema: Input should be a valid dictionary"
                ))
            }
        }
        if let Some(extra) = t.keys().find(|k| !TOOL_KEYS.contains(&k.as_str())) {
            return Err(format!("tools.{i}.{extra}: Extra inputs are not permitted"));
        }
        if names.iter().any(|n| n == name) {
            return Err("tools: Tool names must be unique.".into());
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// `web_search_20250305`, `bash_20250124`, …: a name, an underscore and an eight-digit date.
fn is_server_tool(kind: &str) -> bool {
    kind.rsplit_once('_').is_some_and(|(name, date)| {
        !name.is_empty() && date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit())
    })
}

fn check_tool_choice(choice: &Value, tool_names: &[String]) -> Checked {
    let Some(c) = choice.as_object() else {
        return Err(
            "tool_choice: Input should be a valid dictionary or object to extract fields from"
                .into(),
        );
    };
    let Some(kind) = c.get("type") else {
        return Err("tool_choice.type: Field required".into());
    };
    let kind = kind.as_str().unwrap_or_default();
    if c.get("disable_parallel_tool_use")
        .is_some_and(|d| !d.is_boolean())
    {
        return Err(format!(
            "tool_choice.{kind}.disable_parallel_tool_use: Input should be a valid boolean"
        ));
    }
    match kind {
        "auto" | "none" => Ok(()),
        "any" if tool_names.is_empty() => {
            Err("tool_choice: tool_choice.type 'any' may only be specified while providing tools".into())
        }
        "any" => Ok(()),
        "tool" => {
            let Some(name) = c.get("name").and_then(Value::as_str) else {
                return Err("tool_choice.tool.name: Field required".into());
            };
            if !tool_names.iter().any(|n| n == name) {
                return Err(format!(
                    "tool_choice.tool.name: Tool '{name}' not found in provided tools"
                ));
            }
            Ok(())
        }
        _ => Err(format!(
            "tool_choice: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
        )),
    }
}

fn check_thinking(thinking: &Value, max_tokens: u64) -> Checked {
    let kind = thinking["type"].as_str().unwrap_or_default();
    match kind {
        "disabled" => Ok(()),
        "enabled" => {
            let Some(budget) = thinking["budget_tokens"].as_u64() else {
                return Err("thinking.enabled.budget_tokens: Field required".into());
            };
            if budget < 1024 {
                return Err(
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
                        .into(),
                );
            }
            if budget >= max_tokens {
                return Err(
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
                        .into(),
                );
            }
            Ok(())
        }
        _ => Err(format!(
            "thinking: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'disabled', 'enabled'"
        )),
    }
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn valid() -> Value {
        json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
               "messages": [{"role": "user", "content": "Hi"}]})
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = valid();
        body[field] = value;
        body
    }

    fn request_ok(body: &Value) -> Checked {
        request(body, false)
    }

    fn rejects(body: Value, needle: &str) {
        let err = request_ok(&body).expect_err("should be rejected");
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }

    #[test]
    fn a_minimal_request_passes() {
        request_ok(&valid()).unwrap();
    }

    #[test]
    fn a_full_tool_round_trip_passes() {
        let body = json!({
            "model": "claude-sonnet-4-5", "max_tokens": 2048, "stream": true,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "temperature": 0.5, "top_p": 0.9, "top_k": 5, "stop_sequences": ["END"],
            "metadata": {"user_id": "u-1"}, "service_tier": "auto",
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "tools": [{"name": "get_weather", "description": "Weather",
                       "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
                      {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": false},
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather in Paris? Here is a map."},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
                ]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]},
                    {"type": "text", "text": "Thanks"}
                ]},
                {"role": "assistant", "content": ""}
            ]
        });
        request_ok(&body).unwrap();
    }

    #[test]
    fn thinking_must_come_back_with_its_own_signature() {
        let turn = |signature: &str| {
            with(
                "messages",
                json!([
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": "Hmm.", "signature": signature},
                        {"type": "text", "text": "Hello"}]},
                    {"role": "user", "content": "Again"}
                ]),
            )
        };
        request_ok(&turn(&thinking_signature("Hmm."))).unwrap();
        rejects(turn("forged"), "messages.1.content.0: Invalid `signature`");
        rejects(turn(&thinking_signature("Other.")), "Invalid `signature`");
    }

    #[test]
    fn beta_fields_need_a_beta_header() {
        let body = with("brand_new_field", json!({"x": 1}));
        rejects(
            body.clone(),
            "brand_new_field: Extra inputs are not permitted",
        );
        request(&body, true).unwrap();
    }

    #[test]
    fn documents_are_pdfs_text_or_content() {
        let doc = |source: Value| {
            with(
                "messages",
                json!([{"role": "user", "content": [{"type": "document", "source": source}]}]),
            )
        };
        request_ok(&doc(
            json!({"type": "base64", "media_type": "application/pdf", "data": "JVBE"}),
        ))
        .unwrap();
        request_ok(&doc(
            json!({"type": "text", "media_type": "text/plain", "data": "x"}),
        ))
        .unwrap();
        request_ok(&doc(
            json!({"type": "content", "content": [{"type": "text", "text": "x"}]}),
        ))
        .unwrap();
        rejects(
            doc(json!({"type": "base64", "media_type": "image/png", "data": "x"})),
            "application/pdf",
        );
        rejects(
            doc(json!({"type": "image_url", "url": "x"})),
            "Input tag 'image_url'",
        );
    }

    #[test]
    fn top_level_shape() {
        rejects(with("n", json!(1)), "n: Extra inputs are not permitted");
        rejects(with("stream_options", json!({})), "stream_options:");
        let mut body = valid();
        body.as_object_mut().unwrap().remove("max_tokens");
        rejects(body, "max_tokens: Field required");
        let mut body = valid();
        body.as_object_mut().unwrap().remove("messages");
        rejects(body, "messages: Field required");
        rejects(
            with("messages", json!([])),
            "messages: at least one message",
        );
        rejects(with("temperature", json!(1.5)), "temperature:");
        rejects(with("temperature", json!(-0.1)), "temperature:");
        rejects(
            with("metadata", json!({"session": "x"})),
            "metadata.session",
        );
    }

    #[test]
    fn roles_and_turns() {
        for role in ["system", "tool"] {
            rejects(
                with(
                    "messages",
                    json!([{"role": role, "content": "x"}, {"role": "user", "content": "Hi"}]),
                ),
                "messages.0.role",
            );
        }
        rejects(
            with(
                "messages",
                json!([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),
            ),
            "roles must alternate",
        );
        rejects(
            with(
                "messages",
                json!([{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]),
            ),
            "first message must use the \"user\" role",
        );
        rejects(
            with(
                "messages",
                json!([{"role": "user", "content": "a", "name": "bob"}]),
            ),
            "messages.0.name",
        );
    }

    #[test]
    fn tool_choice_and_tools() {
        let tools = json!([{"name": "t", "input_schema": {"type": "object"}}]);
        let mut body = with("tools", tools.clone());
        body["tool_choice"] = json!("auto");
        rejects(body.clone(), "tool_choice:");
        body["tool_choice"] = json!({"type": "required"});
        rejects(body.clone(), "tool_choice:");
        body["tool_choice"] = json!({"type": "tool"});
        rejects(body.clone(), "tool_choice.tool.name");
        body["tool_choice"] = json!({"type": "tool", "name": "t"});
        request_ok(&body).unwrap();
        rejects(
            with(
                "tools",
                json!([{"type": "function", "function": {"name": "t", "parameters": {}}}]),
            ),
            "tools.0.type",
        );
        rejects(
            with("tools", json!([{"name": "t"}])),
            "tools.0.input_schema",
        );
        rejects(
            with(
                "tools",
                json!([{"name": "t", "input_schema": {}, "parameters": {}}]),
            ),
            "tools.0.parameters",
        );
    }

    #[test]
    fn tool_results_pair_with_the_previous_tool_uses() {
        let turn = |result_blocks: Value| {
            with(
                "messages",
                json!([
                    {"role": "user", "content": "Weather?"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}]},
                    {"role": "user", "content": result_blocks}
                ]),
            )
        };
        rejects(
            turn(json!([{"type": "tool_result", "tool_use_id": "toolu_9"}])),
            "messages.2.content.0: unexpected `tool_use_id`",
        );
        rejects(
            turn(json!([{"type": "text", "text": "no"}])),
            "messages.1: `tool_use` ids",
        );
        rejects(
            turn(json!([{"type": "text", "text": "first"},
                        {"type": "tool_result", "tool_use_id": "toolu_1"}])),
            "messages.2: Did not find 1 `tool_result` block(s) at the beginning",
        );
        request_ok(&turn(
            json!([{"type": "tool_result", "tool_use_id": "toolu_1"}]),
        ))
        .unwrap();
    }

    #[test]
    fn content_blocks() {
        let user = |blocks: Value| with("messages", json!([{"role": "user", "content": blocks}]));
        rejects(
            user(json!([{"type": "image_url", "image_url": {"url": "https://x/a.png"}}])),
            "messages.0.content.0: Input tag 'image_url'",
        );
        rejects(
            user(json!([{"type": "image", "source": {"url": "https://x/a.png"}}])),
            "messages.0.content.0.source",
        );
        rejects(
            user(json!([{"type": "image", "source": {"type": "base64", "data": "x"}}])),
            "messages.0.content.0.source.base64.media_type",
        );
        rejects(user(json!([{"type": "text", "text": ""}])), "non-empty");
        rejects(
            user(json!([])),
            "messages.0: all messages must have non-empty content",
        );
    }
}
