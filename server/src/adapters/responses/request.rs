//! A client's Responses API request read into the canonical model (for a key of another
//! dialect), and what in it only OpenAI's own API can serve.
//!
//! Traps handled: `input` is a string or a list of items whose `type` may be left out for a
//! message; `instructions` and `system`/`developer` messages are system text; a
//! `function_call` item is a tool use of the assistant turn (consecutive ones, with the
//! reasoning before them, form one turn) and its `arguments` is a JSON string; a
//! `function_call_output` is a tool result of the next user turn, matched by `call_id`; a
//! `reasoning` item comes back with Anthropic's signature in `encrypted_content` (see
//! `response.rs`); `text.format`'s JSON schema sits beside its type, where chat nests it;
//! `max_output_tokens` is the output limit and `reasoning.effort` becomes a thinking budget.

use serde_json::{json, Value};

use super::wire::{
    ResponsesContent, ResponsesInput, ResponsesItem, ResponsesPart, ResponsesRequest,
    ResponsesTextFormat, ResponsesTool, ResponsesToolChoice,
};
use crate::adapters::canonical::{
    Block, MediaSource, Message, Request, ResponseFormat, Role, Tool, ToolChoice,
};
use crate::adapters::AdapterError;

fn invalid(message: impl Into<String>, param: &'static str) -> AdapterError {
    AdapterError::new(message, Some(param))
}

/// The request, parsed for translation.
pub(super) fn read(body: &[u8]) -> Result<ResponsesRequest, AdapterError> {
    serde_json::from_slice(body)
        .map_err(|e| AdapterError::new(format!("invalid Responses API request: {e}"), None))
}

/// Why a key that translates cannot serve this request, if it cannot: it refers to what only
/// OpenAI stores (earlier responses, conversations, prompts, uploaded files) or runs (hosted
/// tools, background mode).
pub(super) fn requires_native(request: &ResponsesRequest) -> Option<AdapterError> {
    const WHY: &str = "only OpenAI's own Responses API can serve that, and the keys that serve \
                       this model here translate the request for another provider (api-proxy \
                       stores no prompts)";
    if request.previous_response_id.is_some() {
        return Some(invalid(
            format!(
                "`previous_response_id` refers to a response stored in the account that made it; \
                 {WHY}. Send the earlier turns in `input` instead"
            ),
            "previous_response_id",
        ));
    }
    if request.conversation.as_ref().is_some_and(|c| !c.is_null()) {
        return Some(invalid(
            format!(
                "`conversation` refers to a conversation stored by OpenAI; {WHY}. Send the \
                 earlier turns in `input` instead"
            ),
            "conversation",
        ));
    }
    if request.prompt.as_ref().is_some_and(|p| !p.is_null()) {
        return Some(invalid(
            format!("`prompt` refers to a prompt template stored by OpenAI; {WHY}"),
            "prompt",
        ));
    }
    if request.background == Some(true) {
        return Some(invalid(
            format!("background responses are kept by OpenAI to be polled; {WHY}"),
            "background",
        ));
    }
    if let Some(tool) = request
        .tools
        .iter()
        .flatten()
        .find(|t| t.kind != "function")
    {
        return Some(invalid(
            format!(
                "tools of type `{}` are run by OpenAI itself; {WHY}",
                tool.kind
            ),
            "tools",
        ));
    }
    if let Some(ResponsesToolChoice::Typed(choice)) = &request.tool_choice {
        if !matches!(choice.kind.as_str(), "function" | "allowed_tools") {
            return Some(invalid(
                format!(
                    "`tool_choice` of type `{}` names a tool OpenAI runs itself; {WHY}",
                    choice.kind
                ),
                "tool_choice",
            ));
        }
    }
    let Some(ResponsesInput::Items(items)) = &request.input else {
        return None;
    };
    for (i, item) in items.iter().enumerate() {
        let kind = item.kind.as_deref().unwrap_or("message");
        if !matches!(
            kind,
            "message" | "function_call" | "function_call_output" | "reasoning"
        ) {
            return Some(invalid(
                format!(
                    "input[{i}]: items of type `{kind}` refer to what OpenAI stores or runs; {WHY}"
                ),
                "input",
            ));
        }
        let parts = [&item.content, &item.output];
        let file_ref = parts.iter().any(|c| match c {
            Some(ResponsesContent::Parts(parts)) => parts.iter().any(|p| p.file_id.is_some()),
            _ => false,
        });
        if file_ref {
            return Some(invalid(
                format!("input[{i}]: `file_id` refers to a file uploaded to OpenAI; {WHY}. Send the file's content (`image_url` or `file_data`) instead"),
                "input",
            ));
        }
    }
    None
}

/// Canonical thinking budgets for `reasoning.effort` (Anthropic's minimum is 1,024 tokens).
fn thinking_budget(effort: &str) -> Option<u32> {
    match effort {
        "none" | "minimal" => None,
        "low" => Some(1_024),
        "high" => Some(16_384),
        "xhigh" => Some(32_768),
        _ => Some(4_096),
    }
}

/// The request in the canonical model.
pub(super) fn to_canonical(request: ResponsesRequest) -> Result<Request, AdapterError> {
    if let Some(reason) = requires_native(&request) {
        return Err(reason);
    }
    let mut system = Vec::new();
    if let Some(instructions) = request.instructions.filter(|i| !i.is_empty()) {
        system.push(instructions);
    }
    let mut messages: Vec<Message> = Vec::new();
    match request.input {
        None => {}
        Some(ResponsesInput::Text(text)) => messages.push(Message {
            role: Role::User,
            content: vec![Block::Text { text }],
        }),
        Some(ResponsesInput::Items(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                read_item(item, i, &mut system, &mut messages)?;
            }
        }
    }
    let mut tools: Vec<Tool> = request
        .tools
        .unwrap_or_default()
        .into_iter()
        .map(function_tool)
        .collect::<Result<_, _>>()?;
    let tool_choice = match request.tool_choice {
        None => None,
        Some(ResponsesToolChoice::Mode(mode)) => Some(mode_choice(&mode)?),
        Some(ResponsesToolChoice::Typed(choice)) => match choice.kind.as_str() {
            "function" => {
                Some(ToolChoice::Tool(choice.name.ok_or_else(|| {
                    invalid("`tool_choice.name` is required", "tool_choice")
                })?))
            }
            // Only the listed functions may be called: the others are not offered.
            _ => {
                let allowed: Vec<String> = choice
                    .tools
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|t| t.name)
                    .collect();
                tools.retain(|t| allowed.contains(&t.name));
                Some(mode_choice(choice.mode.as_deref().unwrap_or("auto"))?)
            }
        },
    };
    Ok(Request {
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls: request.parallel_tool_calls,
        max_tokens: request.max_output_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: None,
        stop: Vec::new(),
        stream: request.stream.unwrap_or(false),
        user: request.user.or(request.safety_identifier),
        response_format: request
            .text
            .and_then(|t| t.format)
            .and_then(response_format),
        thinking_budget: request
            .reasoning
            .and_then(|r| r.effort)
            .and_then(|e| thinking_budget(&e)),
    })
}

fn mode_choice(mode: &str) -> Result<ToolChoice, AdapterError> {
    match mode {
        "auto" => Ok(ToolChoice::Auto),
        "required" => Ok(ToolChoice::Any),
        "none" => Ok(ToolChoice::None),
        other => Err(invalid(
            format!("tool_choice {other:?} is not one of auto, none, required"),
            "tool_choice",
        )),
    }
}

fn function_tool(tool: ResponsesTool) -> Result<Tool, AdapterError> {
    let name = tool
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("a function tool needs a `name`", "tools"))?;
    Ok(Tool {
        name,
        description: tool.description,
        input_schema: tool.parameters.filter(|p| !p.is_null()),
        server_kind: None,
    })
}

/// `text.format`: chat's `response_format` shape, which the canonical model keeps.
fn response_format(format: ResponsesTextFormat) -> Option<ResponseFormat> {
    match format.kind.as_str() {
        "json_object" => Some(ResponseFormat {
            kind: "json_object".into(),
            json_schema: None,
        }),
        "json_schema" => {
            let mut schema = json!({
                "name": format.name.unwrap_or_else(|| "response".into()),
                "schema": format.schema.unwrap_or_else(|| json!({})),
            });
            if let Some(strict) = format.strict {
                schema["strict"] = json!(strict);
            }
            if let Some(description) = format.description {
                schema["description"] = json!(description);
            }
            Some(ResponseFormat {
                kind: "json_schema".into(),
                json_schema: Some(schema),
            })
        }
        _ => None,
    }
}

/// Appends `blocks` to the last message when it has `role`, else as a new message: consecutive
/// items of one turn (reasoning, text, function calls; or tool outputs) form one message.
fn push(messages: &mut Vec<Message>, role: Role, blocks: Vec<Block>) {
    if blocks.is_empty() {
        return;
    }
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => messages.push(Message {
            role,
            content: blocks,
        }),
    }
}

fn read_item(
    item: ResponsesItem,
    i: usize,
    system: &mut Vec<String>,
    messages: &mut Vec<Message>,
) -> Result<(), AdapterError> {
    match item.kind.as_deref().unwrap_or("message") {
        "message" => {
            let role = item
                .role
                .ok_or_else(|| invalid(format!("input[{i}]: a message needs a `role`"), "input"))?;
            let content = item.content.ok_or_else(|| {
                invalid(format!("input[{i}]: a message needs `content`"), "input")
            })?;
            match role.as_str() {
                "system" | "developer" => {
                    let text = plain_text(content, i)?;
                    if !text.is_empty() {
                        system.push(text);
                    }
                }
                "user" => push(messages, Role::User, blocks(content, i)?),
                "assistant" => push(messages, Role::Assistant, blocks(content, i)?),
                other => {
                    return Err(invalid(
                        format!("input[{i}]: role {other:?} is not one of user, assistant, system, developer"),
                        "input",
                    ))
                }
            }
        }
        "function_call" => {
            let call_id = item.call_id.ok_or_else(|| {
                invalid(
                    format!("input[{i}]: a function_call needs a `call_id`"),
                    "input",
                )
            })?;
            let name = item.name.ok_or_else(|| {
                invalid(
                    format!("input[{i}]: a function_call needs a `name`"),
                    "input",
                )
            })?;
            let input = arguments_object(item.arguments.as_deref().unwrap_or(""), &call_id, i)?;
            push(
                messages,
                Role::Assistant,
                vec![Block::ToolUse {
                    id: call_id,
                    name,
                    input,
                }],
            );
        }
        "function_call_output" => {
            let call_id = item.call_id.ok_or_else(|| {
                invalid(
                    format!("input[{i}]: a function_call_output needs a `call_id`"),
                    "input",
                )
            })?;
            let content = match item.output {
                None => Vec::new(),
                Some(output) => blocks(output, i)?,
            };
            push(
                messages,
                Role::User,
                vec![Block::ToolResult {
                    tool_use_id: call_id,
                    content,
                    is_error: false,
                }],
            );
        }
        "reasoning" => {
            let text: Vec<String> = match &item.content {
                Some(ResponsesContent::Parts(parts)) => {
                    parts.iter().filter_map(|p| p.text.clone()).collect()
                }
                _ => Vec::new(),
            };
            let text = if text.is_empty() {
                item.summary
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| s.text)
                    .collect::<Vec<_>>()
            } else {
                text
            };
            let block = match (text.is_empty(), item.encrypted_content) {
                (true, Some(data)) => Block::RedactedThinking { data },
                (_, signature) => Block::Thinking {
                    thinking: text.join("\n\n"),
                    signature: signature.unwrap_or_default(),
                },
            };
            push(messages, Role::Assistant, vec![block]);
        }
        other => {
            return Err(invalid(
                format!("input[{i}]: items of type `{other}` cannot be sent to this provider"),
                "input",
            ))
        }
    }
    Ok(())
}

fn plain_text(content: ResponsesContent, i: usize) -> Result<String, AdapterError> {
    match content {
        ResponsesContent::Text(text) => Ok(text),
        ResponsesContent::Parts(parts) => {
            let mut texts = Vec::with_capacity(parts.len());
            for part in parts {
                match (part.kind.as_str(), part.text) {
                    ("input_text" | "output_text" | "text", Some(text)) => texts.push(text),
                    _ => {
                        return Err(invalid(
                            format!("input[{i}]: only text parts are allowed in this message"),
                            "input",
                        ))
                    }
                }
            }
            Ok(texts.join("\n"))
        }
    }
}

fn blocks(content: ResponsesContent, i: usize) -> Result<Vec<Block>, AdapterError> {
    match content {
        ResponsesContent::Text(text) if text.is_empty() => Ok(Vec::new()),
        ResponsesContent::Text(text) => Ok(vec![Block::Text { text }]),
        ResponsesContent::Parts(parts) => parts.into_iter().map(|p| part(p, i)).collect(),
    }
}

fn part(part: ResponsesPart, i: usize) -> Result<Block, AdapterError> {
    match part.kind.as_str() {
        "input_text" | "output_text" | "text" => Ok(Block::Text {
            text: part.text.unwrap_or_default(),
        }),
        "refusal" => Ok(Block::Text {
            text: part.refusal.unwrap_or_default(),
        }),
        "input_image" => {
            let url = part.image_url.ok_or_else(|| {
                invalid(
                    format!("input[{i}]: an input_image needs an `image_url`"),
                    "input",
                )
            })?;
            Ok(Block::Image {
                source: media_source(&url, i)?,
            })
        }
        "input_file" => {
            let source = match (part.file_data, part.file_url) {
                (Some(data), _) => match data.strip_prefix("data:") {
                    Some(_) => media_source(&data, i)?,
                    // Bare base64, as some clients send a PDF.
                    None => MediaSource::Base64 {
                        media_type: "application/pdf".into(),
                        data,
                    },
                },
                (None, Some(url)) => media_source(&url, i)?,
                (None, None) => {
                    return Err(invalid(
                        format!("input[{i}]: an input_file needs `file_data` or `file_url`"),
                        "input",
                    ))
                }
            };
            Ok(Block::Document {
                source,
                title: part.filename,
            })
        }
        _ => Ok(Block::Unsupported { kind: part.kind }),
    }
}

/// A `data:` URL (base64) or an http(s) URL.
fn media_source(url: &str, i: usize) -> Result<MediaSource, AdapterError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| invalid(format!("input[{i}]: malformed data URL"), "input"))?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or_else(|| invalid(format!("input[{i}]: data URLs must be base64"), "input"))?;
        return Ok(MediaSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(MediaSource::Url {
            url: url.to_owned(),
        });
    }
    Err(invalid(
        format!("input[{i}]: URLs must be data: or http(s) URLs"),
        "input",
    ))
}

/// A function call's `arguments` as the object canonical `input` is.
fn arguments_object(arguments: &str, call_id: &str, i: usize) -> Result<Value, AdapterError> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    let value: Value = serde_json::from_str(arguments).map_err(|_| {
        invalid(
            format!("input[{i}]: function call {call_id:?} has arguments that are not valid JSON"),
            "input",
        )
    })?;
    Ok(if value.is_object() {
        value
    } else {
        json!({ "value": value })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(body: Value) -> Result<Request, AdapterError> {
        to_canonical(read(body.to_string().as_bytes())?)
    }

    #[test]
    fn a_string_input_is_one_user_message() {
        let r = canonical(
            json!({"model": "m", "input": "Hi", "instructions": "Be brief.",
            "max_output_tokens": 50, "temperature": 0.3, "top_p": 0.9, "stream": true,
            "user": "u-1", "store": true, "metadata": {"a": "b"}}),
        )
        .unwrap();
        assert_eq!(r.system, ["Be brief."]);
        assert_eq!(
            r.messages,
            [Message {
                role: Role::User,
                content: vec![Block::Text { text: "Hi".into() }]
            }]
        );
        assert_eq!(r.max_tokens, Some(50));
        assert_eq!((r.temperature, r.top_p), (Some(0.3), Some(0.9)));
        assert!(r.stream);
        assert_eq!(r.user.as_deref(), Some("u-1"));
    }

    #[test]
    fn a_tool_round_trip_becomes_turns() {
        let r = canonical(json!({"model": "m", "input": [
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAA", "detail": "auto"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [],
             "content": [{"type": "reasoning_text", "text": "Need the tool."}], "encrypted_content": "sig"},
            {"type": "function_call", "id": "fc_1", "call_id": "toolu_1", "name": "get_weather",
             "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
            {"type": "function_call", "call_id": "toolu_2", "name": "get_time", "arguments": ""},
            {"type": "function_call_output", "call_id": "toolu_1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "toolu_2",
             "output": [{"type": "input_text", "text": "noon"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "It is sunny.", "annotations": []}]},
            {"role": "user", "content": "Thanks"}
        ], "tools": [{"type": "function", "name": "get_weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true},
            {"type": "function", "name": "get_time", "parameters": null, "strict": false}],
          "tool_choice": "required", "parallel_tool_calls": false}))
        .unwrap();
        assert_eq!(r.system, ["Use metric units."]);
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::User,
                Role::Assistant,
                Role::User,
                Role::Assistant,
                Role::User
            ]
        );
        assert_eq!(
            r.messages[0].content[1],
            Block::Image {
                source: MediaSource::Base64 {
                    media_type: "image/png".into(),
                    data: "AAA".into()
                }
            }
        );
        assert_eq!(
            r.messages[1].content,
            [
                Block::Thinking {
                    thinking: "Need the tool.".into(),
                    signature: "sig".into()
                },
                Block::ToolUse {
                    id: "toolu_1".into(),
                    name: "get_weather".into(),
                    input: json!({"city": "Paris"})
                },
                Block::ToolUse {
                    id: "toolu_2".into(),
                    name: "get_time".into(),
                    input: json!({})
                },
            ]
        );
        assert_eq!(
            r.messages[2].content,
            [
                Block::ToolResult {
                    tool_use_id: "toolu_1".into(),
                    content: vec![Block::Text {
                        text: "sunny".into()
                    }],
                    is_error: false
                },
                Block::ToolResult {
                    tool_use_id: "toolu_2".into(),
                    content: vec![Block::Text {
                        text: "noon".into()
                    }],
                    is_error: false
                },
            ]
        );
        assert_eq!(r.tools.len(), 2);
        assert_eq!(r.tools[1].input_schema, None);
        assert_eq!(r.tool_choice, Some(ToolChoice::Any));
        assert_eq!(r.parallel_tool_calls, Some(false));
    }

    #[test]
    fn redacted_reasoning_files_and_formats() {
        let r = canonical(json!({"model": "m", "input": [
            {"type": "reasoning", "summary": [], "encrypted_content": "opaque"},
            {"role": "user", "content": [
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
                {"type": "input_file", "file_url": "https://example.com/b.pdf"}]}
        ], "text": {"format": {"type": "json_schema", "name": "answer", "strict": true,
            "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}},
          "reasoning": {"effort": "high", "summary": "auto"}}))
        .unwrap();
        assert_eq!(
            r.messages[0].content,
            [Block::RedactedThinking {
                data: "opaque".into()
            }]
        );
        assert_eq!(
            r.messages[1].content[0],
            Block::Document {
                source: MediaSource::Base64 {
                    media_type: "application/pdf".into(),
                    data: "JVBE".into()
                },
                title: Some("a.pdf".into())
            }
        );
        assert!(matches!(
            &r.messages[1].content[1],
            Block::Document { source: MediaSource::Url { url }, title: None } if url == "https://example.com/b.pdf"
        ));
        let format = r.response_format.unwrap();
        assert_eq!(format.kind, "json_schema");
        assert_eq!(
            format.json_schema.unwrap(),
            json!({"name": "answer", "strict": true,
                "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}})
        );
        assert_eq!(r.thinking_budget, Some(16_384));
        let none =
            canonical(json!({"model": "m", "input": "x", "reasoning": {"effort": "minimal"}}))
                .unwrap();
        assert_eq!(none.thinking_budget, None);
    }

    #[test]
    fn allowed_tools_narrow_the_offer() {
        let r = canonical(json!({"model": "m", "input": "x",
            "tools": [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}],
            "tool_choice": {"type": "allowed_tools", "mode": "required",
                "tools": [{"type": "function", "name": "b"}]}}))
        .unwrap();
        assert_eq!(r.tools.len(), 1);
        assert_eq!(r.tools[0].name, "b");
        assert_eq!(r.tool_choice, Some(ToolChoice::Any));
        let named = canonical(json!({"model": "m", "input": "x",
            "tools": [{"type": "function", "name": "a"}],
            "tool_choice": {"type": "function", "name": "a"}}))
        .unwrap();
        assert_eq!(named.tool_choice, Some(ToolChoice::Tool("a".into())));
    }

    #[test]
    fn what_only_openai_has_is_named() {
        let cases = [
            (
                json!({"model": "m", "input": "x", "previous_response_id": "resp_1"}),
                "previous_response_id",
            ),
            (
                json!({"model": "m", "input": "x", "conversation": "conv_1"}),
                "conversation",
            ),
            (json!({"model": "m", "prompt": {"id": "pmpt_1"}}), "prompt"),
            (
                json!({"model": "m", "input": "x", "background": true}),
                "background",
            ),
            (
                json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}),
                "tools",
            ),
            (
                json!({"model": "m", "input": "x", "tool_choice": {"type": "file_search"}}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}),
                "input",
            ),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]}),
                "input",
            ),
        ];
        for (body, param) in cases {
            let request = read(body.to_string().as_bytes()).unwrap();
            let reason = requires_native(&request).unwrap_or_else(|| panic!("{body}"));
            assert_eq!(reason.param, Some(param), "{body}");
            assert!(reason.message.contains("OpenAI"), "{}", reason.message);
            assert_eq!(to_canonical(request).unwrap_err().param, Some(param));
        }
        let plain = read(
            br#"{"model":"m","input":"x","store":true,"background":false,"conversation":null}"#,
        )
        .unwrap();
        assert!(requires_native(&plain).is_none());
    }

    #[test]
    fn bad_items_are_explained() {
        for body in [
            json!({"model": "m", "input": [{"role": "wizard", "content": "x"}]}),
            json!({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}),
            json!({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{oops"}]}),
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]}]}),
            json!({"model": "m", "input": [{"role": "system", "content": [{"type": "input_image", "image_url": "https://x"}]}]}),
            json!({"model": "m", "input": "x", "tool_choice": "sometimes"}),
            json!({"model": "m", "input": "x", "tools": [{"type": "function"}]}),
        ] {
            let err = canonical(body.clone()).unwrap_err();
            assert!(err.param.is_some(), "{body}: {err}");
        }
        assert!(read(b"[1]").is_err());
    }
}
