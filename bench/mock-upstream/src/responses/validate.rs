//! The checks OpenAI's Responses API makes before generating anything, with its error messages,
//! params and codes. Strict where api-proxy could go wrong: unknown top-level fields, item and
//! part types, function calls without outputs (and outputs without calls), a
//! `previous_response_id` this mock never stored, tools and `tool_choice` that do not agree.

use std::collections::HashSet;

use serde_json::{Map, Value};

/// An `invalid_request_error` as OpenAI words it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

type Checked = Result<(), Invalid>;

fn invalid(message: impl Into<String>, param: impl Into<String>, code: &'static str) -> Invalid {
    Invalid {
        message: message.into(),
        param: Some(param.into()),
        code: Some(code),
    }
}

fn missing(param: &str) -> Invalid {
    invalid(
        format!("Missing required parameter: '{param}'."),
        param,
        "missing_required_parameter",
    )
}

fn wrong_type(param: &str, expected: &str, got: &Value) -> Invalid {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    invalid(
        format!("Invalid type for '{param}': expected {expected}, but got {got} instead."),
        param,
        "invalid_type",
    )
}

fn bad_value(param: &str, value: &str, supported: &[&str]) -> Invalid {
    let list: Vec<String> = supported.iter().map(|s| format!("'{s}'")).collect();
    invalid(
        format!(
            "Invalid value: '{value}'. Supported values are: {}.",
            list.join(", ")
        ),
        param,
        "invalid_value",
    )
}

/// Every top-level parameter of `POST /v1/responses`.
const FIELDS: &[&str] = &[
    "model",
    "input",
    "instructions",
    "background",
    "conversation",
    "include",
    "max_output_tokens",
    "max_tool_calls",
    "metadata",
    "parallel_tool_calls",
    "previous_response_id",
    "prompt",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning",
    "safety_identifier",
    "service_tier",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
    "context_management",
];

const ITEM_TYPES: &[&str] = &[
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
    "item_reference",
    "file_search_call",
    "web_search_call",
    "computer_call",
    "computer_call_output",
    "image_generation_call",
    "code_interpreter_call",
    "local_shell_call",
    "local_shell_call_output",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "mcp_call",
    "custom_tool_call",
    "custom_tool_call_output",
];

const TOOL_TYPES: &[&str] = &[
    "function",
    "file_search",
    "web_search",
    "web_search_preview",
    "computer_use_preview",
    "mcp",
    "code_interpreter",
    "image_generation",
    "local_shell",
    "custom",
];

/// What a valid request continues from: the function calls of the stored responses it follows.
pub struct Context<'a> {
    /// `previous_response_id`'s chain, or `None` when the id is unknown.
    pub previous_calls: Option<&'a HashSet<String>>,
}

/// The whole request.
pub fn request(body: &Value, context: &Context<'_>) -> Checked {
    let Some(obj) = body.as_object() else {
        return Err(Invalid {
            message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)".into(),
            param: None,
            code: None,
        });
    };
    if let Some(extra) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid(
            format!("Unknown parameter: '{extra}'."),
            extra.as_str(),
            "unknown_parameter",
        ));
    }
    match obj.get("model") {
        None => return Err(missing("model")),
        Some(Value::String(m)) if !m.is_empty() => {}
        Some(other) => return Err(wrong_type("model", "a string", other)),
    }
    for flag in ["stream", "store", "background", "parallel_tool_calls"] {
        match obj.get(flag) {
            None | Some(Value::Null | Value::Bool(_)) => {}
            Some(other) => return Err(wrong_type(flag, "a boolean", other)),
        }
    }
    check_number(obj, "temperature", 0.0, 2.0)?;
    check_number(obj, "top_p", 0.0, 1.0)?;
    if let Some(v) = obj.get("max_output_tokens").filter(|v| !v.is_null()) {
        match v.as_u64() {
            Some(n) if n >= 16 => {}
            Some(n) => {
                return Err(invalid(
                    format!("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {n} instead."),
                    "max_output_tokens",
                    "integer_below_min_value",
                ))
            }
            None => return Err(wrong_type("max_output_tokens", "an integer", v)),
        }
    }
    for text in [
        "instructions",
        "previous_response_id",
        "user",
        "prompt_cache_key",
    ] {
        match obj.get(text) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(other) => return Err(wrong_type(text, "a string", other)),
        }
    }
    if let Some(metadata) = obj.get("metadata").filter(|m| !m.is_null()) {
        check_metadata(metadata)?;
    }
    if let Some(reasoning) = obj.get("reasoning").filter(|r| !r.is_null()) {
        check_reasoning(reasoning)?;
    }
    if let Some(text) = obj.get("text").filter(|t| !t.is_null()) {
        check_text(text)?;
    }
    let functions = match obj.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(tools) => check_tools(tools)?,
    };
    if let Some(choice) = obj.get("tool_choice").filter(|c| !c.is_null()) {
        check_tool_choice(choice, &functions)?;
    }
    let previous = obj.get("previous_response_id").and_then(Value::as_str);
    if let (Some(id), None) = (previous, context.previous_calls) {
        return Err(invalid(
            format!("Previous response with id '{id}' not found."),
            "previous_response_id",
            "previous_response_not_found",
        ));
    }
    match obj.get("input") {
        None | Some(Value::Null) => {
            if previous.is_none() && obj.get("prompt").is_none_or(Value::is_null) {
                return Err(missing("input"));
            }
            check_items(&[], context.previous_calls)?
        }
        Some(Value::String(_)) => check_items(&[], context.previous_calls)?,
        Some(Value::Array(items)) => check_items(items, context.previous_calls)?,
        Some(other) => {
            return Err(wrong_type(
                "input",
                "one of a string or array of input items",
                other,
            ))
        }
    }
    Ok(())
}

fn check_number(obj: &Map<String, Value>, name: &str, min: f64, max: f64) -> Checked {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_f64() {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            Some(n) if n < min => Err(invalid(
                format!("Invalid '{name}': decimal below minimum value. Expected a value >= {min}, but got {n} instead."),
                name,
                "decimal_below_min_value",
            )),
            Some(n) => Err(invalid(
                format!("Invalid '{name}': decimal above maximum value. Expected a value <= {max}, but got {n} instead."),
                name,
                "decimal_above_max_value",
            )),
            None => Err(wrong_type(name, "a decimal", v)),
        },
    }
}

fn check_metadata(metadata: &Value) -> Checked {
    let Some(map) = metadata.as_object() else {
        return Err(wrong_type("metadata", "an object", metadata));
    };
    if map.len() > 16 {
        return Err(invalid(
            "Invalid 'metadata': too many properties. Expected an object with at most 16 properties.",
            "metadata",
            "object_above_max_properties",
        ));
    }
    for (k, v) in map {
        if v.as_str().is_none_or(|s| s.len() > 512) {
            return Err(invalid(
                format!("Invalid 'metadata.{k}': expected a string of at most 512 characters."),
                format!("metadata.{k}"),
                "invalid_type",
            ));
        }
    }
    Ok(())
}

fn check_reasoning(reasoning: &Value) -> Checked {
    let Some(map) = reasoning.as_object() else {
        return Err(wrong_type("reasoning", "an object", reasoning));
    };
    if let Some(effort) = map.get("effort").filter(|e| !e.is_null()) {
        const EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh"];
        let e = effort.as_str().unwrap_or_default();
        if !EFFORTS.contains(&e) {
            return Err(bad_value("reasoning.effort", e, EFFORTS));
        }
    }
    if let Some(summary) = map.get("summary").filter(|s| !s.is_null()) {
        const SUMMARIES: &[&str] = &["auto", "concise", "detailed"];
        let s = summary.as_str().unwrap_or_default();
        if !SUMMARIES.contains(&s) {
            return Err(bad_value("reasoning.summary", s, SUMMARIES));
        }
    }
    Ok(())
}

fn check_text(text: &Value) -> Checked {
    let Some(format) = text.get("format").filter(|f| !f.is_null()) else {
        return Ok(());
    };
    const FORMATS: &[&str] = &["text", "json_object", "json_schema"];
    let kind = format["type"].as_str().unwrap_or_default();
    if !FORMATS.contains(&kind) {
        return Err(bad_value("text.format.type", kind, FORMATS));
    }
    if kind == "json_schema" {
        if !format["name"].is_string() {
            return Err(missing("text.format.name"));
        }
        if !format["schema"].is_object() {
            return Err(missing("text.format.schema"));
        }
    }
    Ok(())
}

/// The function names offered.
fn check_tools(tools: &Value) -> Result<Vec<String>, Invalid> {
    let Some(tools) = tools.as_array() else {
        return Err(wrong_type("tools", "an array", tools));
    };
    let mut functions = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let kind = tool["type"].as_str().unwrap_or_default();
        if !TOOL_TYPES.contains(&kind) {
            return Err(bad_value(&format!("tools[{i}].type"), kind, TOOL_TYPES));
        }
        if kind != "function" {
            continue;
        }
        let Some(name) = tool["name"].as_str() else {
            return Err(missing(&format!("tools[{i}].name")));
        };
        // Chat's shape (`{"type": "function", "function": {...}}`) is not this API's.
        if let Some(extra) = tool.as_object().and_then(|t| {
            t.keys().find(|k| {
                !["type", "name", "description", "parameters", "strict"].contains(&k.as_str())
            })
        }) {
            return Err(invalid(
                format!("Unknown parameter: 'tools[{i}].{extra}'."),
                format!("tools[{i}].{extra}"),
                "unknown_parameter",
            ));
        }
        match tool.get("parameters") {
            None | Some(Value::Null | Value::Object(_)) => {}
            Some(other) => {
                return Err(wrong_type(
                    &format!("tools[{i}].parameters"),
                    "an object",
                    other,
                ))
            }
        }
        functions.push(name.to_owned());
    }
    Ok(functions)
}

fn check_tool_choice(choice: &Value, functions: &[String]) -> Checked {
    match choice {
        Value::String(mode) => {
            const MODES: &[&str] = &["none", "auto", "required"];
            if !MODES.contains(&mode.as_str()) {
                return Err(bad_value("tool_choice", mode, MODES));
            }
        }
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("function") {
                let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
                if !functions.iter().any(|f| f == name) {
                    return Err(invalid(
                        format!("Tool choice '{name}' not found in 'tools' parameter."),
                        "tool_choice",
                        "invalid_value",
                    ));
                }
            }
        }
        other => {
            return Err(wrong_type(
                "tool_choice",
                "one of a string or object",
                other,
            ))
        }
    }
    Ok(())
}

fn check_items(items: &[Value], previous_calls: Option<&HashSet<String>>) -> Checked {
    let mut calls: HashSet<&str> = HashSet::new();
    let mut outputs: HashSet<&str> = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let Some(map) = item.as_object() else {
            return Err(wrong_type(&format!("input[{i}]"), "an object", item));
        };
        let kind = match map.get("type") {
            None => "message",
            Some(Value::String(t)) => t.as_str(),
            Some(other) => return Err(wrong_type(&format!("input[{i}].type"), "a string", other)),
        };
        if !ITEM_TYPES.contains(&kind) {
            return Err(bad_value(&format!("input[{i}].type"), kind, ITEM_TYPES));
        }
        let required = |field: &str| {
            map.get(field)
                .filter(|v| !v.is_null())
                .ok_or_else(|| missing(&format!("input[{i}].{field}")))
        };
        match kind {
            "message" => check_message(map, i)?,
            "function_call" => {
                let call_id = required("call_id")?;
                required("name")?;
                let arguments = required("arguments")?;
                if !arguments.is_string() {
                    return Err(wrong_type(
                        &format!("input[{i}].arguments"),
                        "a string",
                        arguments,
                    ));
                }
                calls.insert(call_id.as_str().unwrap_or_default());
            }
            "function_call_output" => {
                let call_id = required("call_id")?.as_str().unwrap_or_default();
                match required("output")? {
                    Value::String(_) => {}
                    Value::Array(parts) => {
                        check_parts(parts, &format!("input[{i}].output"), false)?
                    }
                    other => {
                        return Err(wrong_type(
                            &format!("input[{i}].output"),
                            "one of a string or array",
                            other,
                        ))
                    }
                }
                let known =
                    calls.contains(call_id) || previous_calls.is_some_and(|p| p.contains(call_id));
                if !known {
                    return Err(Invalid {
                        message: format!(
                            "No tool call found for function call output with call_id {call_id}."
                        ),
                        param: Some("input".into()),
                        code: None,
                    });
                }
                outputs.insert(call_id);
            }
            "reasoning" if !required("summary")?.is_array() => {
                return Err(wrong_type(
                    &format!("input[{i}].summary"),
                    "an array",
                    &map["summary"],
                ));
            }
            _ => {}
        }
    }
    // Every call needs its output: those of this input, and those the previous response ended
    // with.
    let pending = calls
        .iter()
        .copied()
        .chain(previous_calls.into_iter().flatten().map(String::as_str))
        .find(|c| !outputs.contains(c));
    if let Some(call) = pending {
        return Err(Invalid {
            message: format!("No tool output found for function call {call}."),
            param: Some("input".into()),
            code: None,
        });
    }
    Ok(())
}

fn check_message(map: &Map<String, Value>, i: usize) -> Checked {
    const ROLES: &[&str] = &["user", "assistant", "system", "developer"];
    let role = match map.get("role") {
        None => return Err(missing(&format!("input[{i}].role"))),
        Some(Value::String(r)) => r.as_str(),
        Some(other) => return Err(wrong_type(&format!("input[{i}].role"), "a string", other)),
    };
    if !ROLES.contains(&role) {
        return Err(bad_value(&format!("input[{i}].role"), role, ROLES));
    }
    match map.get("content") {
        None => Err(missing(&format!("input[{i}].content"))),
        Some(Value::String(_)) => Ok(()),
        Some(Value::Array(parts)) => {
            check_parts(parts, &format!("input[{i}].content"), role == "assistant")
        }
        Some(other) => Err(wrong_type(
            &format!("input[{i}].content"),
            "one of a string or array",
            other,
        )),
    }
}

fn check_parts(parts: &[Value], at: &str, assistant: bool) -> Checked {
    let allowed: &[&str] = if assistant {
        &["output_text", "refusal", "input_text"]
    } else {
        &["input_text", "input_image", "input_file"]
    };
    for (j, part) in parts.iter().enumerate() {
        let here = format!("{at}[{j}]");
        let kind = part["type"].as_str().unwrap_or_default();
        if !allowed.contains(&kind) {
            return Err(bad_value(&format!("{here}.type"), kind, allowed));
        }
        match kind {
            "input_text" | "output_text" if !part["text"].is_string() => {
                return Err(missing(&format!("{here}.text")));
            }
            "refusal" if !part["refusal"].is_string() => {
                return Err(missing(&format!("{here}.refusal")));
            }
            "input_image" => {
                let url = part["image_url"].as_str();
                if url.is_none() && !part["file_id"].is_string() {
                    return Err(missing(&format!("{here}.image_url")));
                }
                if let Some(url) = url {
                    if !(url.starts_with("data:image/") || url.starts_with("http")) {
                        return Err(invalid(
                            format!("Invalid '{here}.image_url'. Expected a valid URL, but got a value with an invalid format."),
                            format!("{here}.image_url"),
                            "invalid_value",
                        ));
                    }
                }
            }
            "input_file"
                if !["file_data", "file_url", "file_id"]
                    .iter()
                    .any(|f| part[*f].is_string()) =>
            {
                return Err(missing(&format!("{here}.file_data")));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(body: Value) -> Checked {
        request(
            &body,
            &Context {
                previous_calls: None,
            },
        )
    }

    #[test]
    fn valid_requests_pass() {
        check(json!({"model": "gpt-4o", "input": "Hi"})).unwrap();
        check(json!({"model": "gpt-4o", "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Hi"},
                {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "auto"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
            {"type": "reasoning", "id": "rs_1", "summary": []}
        ], "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": true}],
          "tool_choice": {"type": "function", "name": "f"}, "max_output_tokens": 100, "store": false,
          "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}}))
        .unwrap();
    }

    #[test]
    fn openai_rejects_what_does_not_belong() {
        let param = |body: Value| check(body).unwrap_err().param;
        assert_eq!(
            param(json!({"model": "m", "input": "x", "messages": []})).as_deref(),
            Some("messages")
        );
        assert_eq!(param(json!({"input": "x"})).as_deref(), Some("model"));
        assert_eq!(
            param(json!({"model": "m", "input": 3})).as_deref(),
            Some("input")
        );
        assert_eq!(
            param(json!({"model": "m", "input": [{"type": "bogus"}]})).as_deref(),
            Some("input[0].type")
        );
        assert_eq!(
            param(json!({"model": "m", "input": "x", "tools": [{"type": "function", "function": {"name": "f"}}]}))
                .as_deref(),
            Some("tools[0].name")
        );
        assert_eq!(
            param(json!({"model": "m", "input": "x", "max_output_tokens": 5})).as_deref(),
            Some("max_output_tokens")
        );
        assert_eq!(
            param(json!({"model": "m", "input": "x", "previous_response_id": "resp_x"})).as_deref(),
            Some("previous_response_id")
        );
        let dangling = check(json!({"model": "m", "input": [
            {"type": "function_call_output", "call_id": "c9", "output": "x"}]}))
        .unwrap_err();
        assert!(dangling.message.contains("No tool call found"));
        let unanswered = check(json!({"model": "m", "input": [
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}]}))
        .unwrap_err();
        assert!(unanswered.message.contains("No tool output found"));
    }

    #[test]
    fn outputs_may_answer_the_previous_responses_calls() {
        let previous: HashSet<String> = ["call_mock_1".to_owned()].into();
        let body = json!({"model": "m", "previous_response_id": "resp_1",
            "input": [{"type": "function_call_output", "call_id": "call_mock_1", "output": "sunny"}]});
        let context = Context {
            previous_calls: Some(&previous),
        };
        request(&body, &context).unwrap();
        let missing_output =
            json!({"model": "m", "previous_response_id": "resp_1", "input": "and?"});
        assert!(request(&missing_output, &context).is_err());
    }
}
