//! OpenAI chat requests and the canonical request, both ways: a client's chat request read into
//! the canonical model (for a key of another dialect), and a canonical request written as a chat
//! request (for an OpenAI-format key serving another dialect's client).
//!
//! Traps handled: `system` and `developer` messages become system text; `tool` messages become
//! `tool_result` blocks of a user turn with the same id; `arguments` is a JSON string while the
//! canonical `input` is an object; on the way out, tool results must directly follow the
//! assistant turn that called them (as `tool` messages), and reasoning is never sent back
//! (OpenAI-format APIs reject or ignore it).

use serde_json::{json, Value};

use super::wire::{
    OpenAiChatRequest, OpenAiChatRequestOut, OpenAiContent, OpenAiContentOut, OpenAiContentPart,
    OpenAiFileOut, OpenAiFunctionCall, OpenAiFunctionDefOut, OpenAiImageUrlOut, OpenAiMessage,
    OpenAiMessageOut, OpenAiPartOut, OpenAiStreamOptionsOut, OpenAiToolCall, OpenAiToolChoice,
    OpenAiToolOut,
};
use crate::adapters::canonical::{
    Block, MediaSource, Message, Request, ResponseFormat, Role, Tool, ToolChoice,
};
use crate::adapters::{AdapterError, UpstreamContext};

fn invalid(message: impl Into<String>, param: &'static str) -> AdapterError {
    AdapterError::new(message, Some(param))
}

/// A client's chat request, read into the canonical model.
pub fn to_canonical(body: &[u8]) -> Result<Request, AdapterError> {
    let request: OpenAiChatRequest = serde_json::from_slice(body)
        .map_err(|e| AdapterError::new(format!("invalid chat request: {e}"), None))?;
    if request.n.is_some_and(|n| n > 1) {
        return Err(invalid("n > 1 is not supported by this provider", "n"));
    }
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for (i, message) in request.messages.into_iter().enumerate() {
        match message.role.as_str() {
            "system" | "developer" => {
                let text = plain_text(message.content, i)?;
                if !text.is_empty() {
                    system.push(text);
                }
            }
            "user" => messages.push(Message {
                role: Role::User,
                content: user_blocks(message.content, i)?,
            }),
            "assistant" => messages.push(Message {
                role: Role::Assistant,
                content: assistant_blocks(message, i)?,
            }),
            "tool" => {
                let id = message.tool_call_id.clone().ok_or_else(|| {
                    invalid(
                        format!("messages[{i}]: a tool message needs tool_call_id"),
                        "messages",
                    )
                })?;
                let text = plain_text(message.content, i)?;
                let content = if text.is_empty() {
                    vec![]
                } else {
                    vec![Block::Text { text }]
                };
                messages.push(Message {
                    role: Role::User,
                    content: vec![Block::ToolResult {
                        tool_use_id: id,
                        content,
                        is_error: false,
                    }],
                });
            }
            other => {
                return Err(invalid(
                    format!("messages[{i}]: role {other:?} is not supported"),
                    "messages",
                ));
            }
        }
    }
    let tool_choice = match request.tool_choice {
        None => None,
        Some(OpenAiToolChoice::Mode(mode)) => Some(match mode.as_str() {
            "auto" => ToolChoice::Auto,
            "required" => ToolChoice::Any,
            "none" => ToolChoice::None,
            other => {
                return Err(invalid(
                    format!("tool_choice {other:?} is not one of auto, none, required"),
                    "tool_choice",
                ))
            }
        }),
        Some(OpenAiToolChoice::Named(named)) => Some(ToolChoice::Tool(named.function.name)),
    };
    Ok(Request {
        system,
        messages,
        tools: request
            .tools
            .unwrap_or_default()
            .into_iter()
            .map(|t| Tool {
                name: t.function.name,
                description: t.function.description,
                input_schema: t.function.parameters,
                server_kind: None,
            })
            .collect(),
        tool_choice,
        parallel_tool_calls: request.parallel_tool_calls,
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: request.top_k,
        stop: request.stop.map(|s| s.into_vec()).unwrap_or_default(),
        stream: request.stream.unwrap_or(false),
        user: request.user,
        response_format: request.response_format.map(|f| ResponseFormat {
            kind: f.kind,
            json_schema: f.json_schema,
        }),
        thinking_budget: None,
    })
}

fn plain_text(content: Option<OpenAiContent>, i: usize) -> Result<String, AdapterError> {
    match content {
        None => Ok(String::new()),
        Some(OpenAiContent::Text(t)) => Ok(t),
        Some(OpenAiContent::Parts(parts)) => {
            let mut texts = Vec::new();
            for part in parts {
                match part {
                    OpenAiContentPart::Text { text } => texts.push(text),
                    _ => {
                        return Err(invalid(
                            format!("messages[{i}]: only text parts are allowed in this message"),
                            "messages",
                        ))
                    }
                }
            }
            Ok(texts.join("\n"))
        }
    }
}

fn user_blocks(content: Option<OpenAiContent>, i: usize) -> Result<Vec<Block>, AdapterError> {
    match content {
        None => Ok(vec![]),
        Some(OpenAiContent::Text(text)) if text.is_empty() => Ok(vec![]),
        Some(OpenAiContent::Text(text)) => Ok(vec![Block::Text { text }]),
        Some(OpenAiContent::Parts(parts)) => parts
            .into_iter()
            .filter(|p| !matches!(p, OpenAiContentPart::Text { text } if text.is_empty()))
            .map(|part| match part {
                OpenAiContentPart::Text { text } => Ok(Block::Text { text }),
                OpenAiContentPart::ImageUrl { image_url } => image_block(&image_url.url, i),
                OpenAiContentPart::Refusal { refusal } => Ok(Block::Text { text: refusal }),
                OpenAiContentPart::Unsupported => Err(invalid(
                    format!(
                        "messages[{i}]: this content part type is not supported by this provider"
                    ),
                    "messages",
                )),
            })
            .collect(),
    }
}

fn image_block(url: &str, i: usize) -> Result<Block, AdapterError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| invalid(format!("messages[{i}]: malformed data URL"), "messages"))?;
        let media_type = meta.strip_suffix(";base64").ok_or_else(|| {
            invalid(
                format!("messages[{i}]: image data URLs must be base64"),
                "messages",
            )
        })?;
        return Ok(Block::Image {
            source: MediaSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            },
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Block::Image {
            source: MediaSource::Url {
                url: url.to_owned(),
            },
        });
    }
    Err(invalid(
        format!("messages[{i}]: image_url must be a data: or http(s) URL"),
        "messages",
    ))
}

fn assistant_blocks(message: OpenAiMessage, i: usize) -> Result<Vec<Block>, AdapterError> {
    let mut blocks = Vec::new();
    let text = match message.content {
        None => String::new(),
        Some(OpenAiContent::Text(t)) => t,
        Some(OpenAiContent::Parts(parts)) => parts
            .into_iter()
            .filter_map(|p| match p {
                OpenAiContentPart::Text { text } => Some(text),
                OpenAiContentPart::Refusal { refusal } => Some(refusal),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
    };
    if !text.is_empty() {
        blocks.push(Block::Text { text });
    }
    for call in message.tool_calls.unwrap_or_default() {
        let input: Value = if call.function.arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&call.function.arguments).map_err(|_| {
                invalid(
                    format!(
                        "messages[{i}]: tool call {:?} has arguments that are not valid JSON",
                        call.id
                    ),
                    "messages",
                )
            })?
        };
        let input = if input.is_object() {
            input
        } else {
            json!({ "value": input })
        };
        blocks.push(Block::ToolUse {
            id: call.id,
            name: call.function.name,
            input,
        });
    }
    Ok(blocks)
}

/// At most this many stop sequences reach an OpenAI-format upstream (OpenAI's limit).
const MAX_STOP_SEQUENCES: usize = 4;

/// A canonical request written as a chat request for `context.model`.
pub fn from_canonical(
    request: &Request,
    context: &UpstreamContext<'_>,
) -> Result<Vec<u8>, AdapterError> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.is_empty() {
        messages.push(OpenAiMessageOut {
            role: "system",
            content: Some(OpenAiContentOut::Text(request.system.join("\n\n"))),
            tool_calls: vec![],
            tool_call_id: None,
        });
    }
    for (i, message) in request.messages.iter().enumerate() {
        match message.role {
            Role::User => user_messages(&message.content, i, &mut messages)?,
            Role::Assistant => {
                if let Some(m) = assistant_message(&message.content) {
                    messages.push(m);
                }
            }
        }
    }
    if let Some(kind) = request.tools.iter().find_map(|t| t.server_kind.as_deref()) {
        return Err(invalid(
            format!("tools: `{kind}` is a server tool that only Anthropic runs; this model is served by another provider"),
            "tools",
        ));
    }
    let has_tools = !request.tools.is_empty();
    // OpenAI itself wants `max_completion_tokens` (its reasoning models refuse `max_tokens`);
    // the other OpenAI-format vendors know only `max_tokens`.
    let completion_field = matches!(context.provider.id.as_str(), "openai" | "azure");
    let out = OpenAiChatRequestOut {
        model: context.model.to_owned(),
        messages,
        max_tokens: request.max_tokens.filter(|_| !completion_field),
        max_completion_tokens: request.max_tokens.filter(|_| completion_field),
        temperature: request.temperature,
        top_p: request.top_p,
        stop: request
            .stop
            .iter()
            .take(MAX_STOP_SEQUENCES)
            .cloned()
            .collect(),
        stream: request.stream,
        stream_options: request.stream.then_some(OpenAiStreamOptionsOut {
            include_usage: true,
        }),
        tools: request
            .tools
            .iter()
            .map(|t| OpenAiToolOut {
                kind: "function",
                function: OpenAiFunctionDefOut {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: t
                        .input_schema
                        .clone()
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                },
            })
            .collect(),
        tool_choice: request
            .tool_choice
            .as_ref()
            .filter(|_| has_tools)
            .map(|c| match c {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::Any => json!("required"),
                ToolChoice::None => json!("none"),
                ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            }),
        parallel_tool_calls: request.parallel_tool_calls.filter(|p| !p && has_tools),
        response_format: request
            .response_format
            .as_ref()
            .map(|f| match &f.json_schema {
                Some(schema) => json!({"type": f.kind, "json_schema": schema}),
                None => json!({"type": f.kind}),
            }),
    };
    Ok(serde_json::to_vec(&out).expect("a chat request serialises"))
}

/// A user turn: its tool results first, as `tool` messages (they must directly follow the
/// assistant turn that called the tools), then the rest as one user message.
fn user_messages(
    blocks: &[Block],
    i: usize,
    out: &mut Vec<OpenAiMessageOut>,
) -> Result<(), AdapterError> {
    let mut parts = Vec::new();
    for block in blocks {
        match block {
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let mut text = String::new();
                if *is_error {
                    text.push_str("[error] ");
                }
                for inner in content {
                    match inner {
                        Block::Text { text: t } => {
                            if !text.is_empty() && !text.ends_with(' ') {
                                text.push('\n');
                            }
                            text.push_str(t);
                        }
                        // A tool message carries text only: anything else goes to the user
                        // message that follows.
                        other => push_part(other, i, &mut parts)?,
                    }
                }
                out.push(OpenAiMessageOut {
                    role: "tool",
                    content: Some(OpenAiContentOut::Text(text)),
                    tool_calls: vec![],
                    tool_call_id: Some(tool_use_id.clone()),
                });
            }
            other => push_part(other, i, &mut parts)?,
        }
    }
    if parts.is_empty() {
        return Ok(());
    }
    let all_text = parts
        .iter()
        .all(|p| matches!(p, OpenAiPartOut::Text { .. }));
    // Plain text as a string: several OpenAI-format vendors accept no arrays of parts.
    let content = if all_text {
        OpenAiContentOut::Text(
            parts
                .into_iter()
                .filter_map(|p| match p {
                    OpenAiPartOut::Text { text } => Some(text),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n\n"),
        )
    } else {
        OpenAiContentOut::Parts(parts)
    };
    out.push(OpenAiMessageOut {
        role: "user",
        content: Some(content),
        tool_calls: vec![],
        tool_call_id: None,
    });
    Ok(())
}

fn push_part(block: &Block, i: usize, parts: &mut Vec<OpenAiPartOut>) -> Result<(), AdapterError> {
    match block {
        Block::Text { text } if !text.is_empty() => {
            parts.push(OpenAiPartOut::Text { text: text.clone() })
        }
        Block::Text { .. } | Block::Thinking { .. } | Block::RedactedThinking { .. } => {}
        Block::Image { source } => {
            let url = match source {
                MediaSource::Base64 { media_type, data } => {
                    format!("data:{media_type};base64,{data}")
                }
                MediaSource::Url { url } => url.clone(),
                MediaSource::Text { data, .. } => {
                    parts.push(OpenAiPartOut::Text { text: data.clone() });
                    return Ok(());
                }
            };
            parts.push(OpenAiPartOut::ImageUrl {
                image_url: OpenAiImageUrlOut { url },
            });
        }
        Block::Document { source, title } => match source {
            MediaSource::Base64 { media_type, data } => parts.push(OpenAiPartOut::File {
                file: OpenAiFileOut {
                    filename: title.clone().unwrap_or_else(|| "document.pdf".into()),
                    file_data: format!("data:{media_type};base64,{data}"),
                },
            }),
            MediaSource::Text { data, .. } => parts.push(OpenAiPartOut::Text {
                text: match title {
                    Some(title) => format!("{title}\n\n{data}"),
                    None => data.clone(),
                },
            }),
            MediaSource::Url { .. } => {
                return Err(invalid(
                    format!("messages[{i}]: documents given by URL cannot be sent to this provider; send the file's content"),
                    "messages",
                ))
            }
        },
        Block::ToolUse { .. } | Block::ToolResult { .. } => {
            return Err(invalid(
                format!("messages[{i}]: tool blocks are misplaced in this message"),
                "messages",
            ))
        }
        Block::Unsupported { kind } => {
            return Err(invalid(
                format!("messages[{i}]: content blocks of type {kind:?} cannot be sent to this provider"),
                "messages",
            ))
        }
    }
    Ok(())
}

/// An assistant turn; `None` when nothing in it can be said to an OpenAI-format API
/// (reasoning only).
fn assistant_message(blocks: &[Block]) -> Option<OpenAiMessageOut> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in blocks {
        match block {
            Block::Text { text: t } => text.push_str(t),
            Block::ToolUse { id, name, input } => calls.push(OpenAiToolCall {
                id: id.clone(),
                kind: "function".into(),
                function: OpenAiFunctionCall {
                    name: name.clone(),
                    arguments: input.to_string(),
                },
            }),
            _ => {}
        }
    }
    if text.is_empty() && calls.is_empty() {
        return None;
    }
    Some(OpenAiMessageOut {
        role: "assistant",
        content: (!text.is_empty()).then_some(OpenAiContentOut::Text(text)),
        tool_calls: calls,
        tool_call_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::providers::ProviderSpec;

    fn provider(id: &str) -> ProviderSpec {
        serde_json::from_value(json!({"id": id, "display_name": id, "format": "openai",
            "base_url": "http://x", "auth": "bearer", "models": []}))
        .unwrap()
    }

    fn out(request: &Request, provider_id: &str) -> Value {
        let spec = provider(provider_id);
        let body = from_canonical(
            request,
            &UpstreamContext {
                model: "gpt-4o",
                max_output_tokens: 100,
                provider: &spec,
            },
        )
        .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[test]
    fn chat_requests_read_into_the_canonical_model() {
        let request = to_canonical(
            json!({"model": "m", "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "f", "arguments": "{\"a\":1}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "done"}
            ], "max_tokens": 10, "stop": "END", "parallel_tool_calls": false})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(request.system, ["Be brief."]);
        assert_eq!(request.max_tokens, Some(10));
        assert_eq!(request.stop, ["END"]);
        assert_eq!(request.parallel_tool_calls, Some(false));
        assert_eq!(
            request.messages[1].content,
            [Block::ToolUse {
                id: "c1".into(),
                name: "f".into(),
                input: json!({"a": 1})
            }]
        );
        assert_eq!(
            request.messages[2].content,
            [Block::ToolResult {
                tool_use_id: "c1".into(),
                content: vec![Block::Text {
                    text: "done".into()
                }],
                is_error: false
            }]
        );
    }

    #[test]
    fn tool_turns_become_tool_messages_right_after_the_call() {
        let request = Request {
            system: vec!["Be brief.".into(), "Use English.".into()],
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![Block::Text {
                        text: "Weather?".into(),
                    }],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Block::Thinking {
                            thinking: "hmm".into(),
                            signature: "sig".into(),
                        },
                        Block::Text {
                            text: "Let me check.".into(),
                        },
                        Block::ToolUse {
                            id: "toolu_1".into(),
                            name: "get_weather".into(),
                            input: json!({"city": "Paris"}),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        Block::ToolResult {
                            tool_use_id: "toolu_1".into(),
                            content: vec![Block::Text {
                                text: "sunny".into(),
                            }],
                            is_error: false,
                        },
                        Block::Text {
                            text: "Thanks".into(),
                        },
                    ],
                },
            ],
            tools: vec![Tool {
                name: "get_weather".into(),
                description: None,
                input_schema: None,
                server_kind: None,
            }],
            tool_choice: Some(ToolChoice::Any),
            parallel_tool_calls: Some(false),
            max_tokens: Some(300),
            stream: true,
            user: Some("u".into()),
            top_k: Some(5),
            stop: vec!["a".into(), "b".into(), "c".into(), "d".into(), "e".into()],
            ..Request::default()
        };
        let v = out(&request, "openai");
        assert_eq!(
            v["messages"],
            json!([
                {"role": "system", "content": "Be brief.\n\nUse English."},
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": "Let me check.", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "content": "sunny", "tool_call_id": "toolu_1"},
                {"role": "user", "content": "Thanks"}
            ])
        );
        assert_eq!(v["max_completion_tokens"], 300);
        assert!(v.get("max_tokens").is_none());
        assert_eq!(v["stream_options"], json!({"include_usage": true}));
        assert_eq!(v["tool_choice"], "required");
        assert_eq!(v["parallel_tool_calls"], false);
        assert_eq!(
            v["tools"][0]["function"]["parameters"],
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(v["stop"].as_array().unwrap().len(), 4);
        assert!(v.get("top_k").is_none() && v.get("user").is_none());
        assert_eq!(out(&request, "deepseek")["max_tokens"], 300);
    }

    #[test]
    fn images_and_documents_become_parts() {
        let request = Request {
            messages: vec![Message {
                role: Role::User,
                content: vec![
                    Block::Text {
                        text: "Read these".into(),
                    },
                    Block::Image {
                        source: MediaSource::Base64 {
                            media_type: "image/png".into(),
                            data: "AAA".into(),
                        },
                    },
                    Block::Document {
                        source: MediaSource::Base64 {
                            media_type: "application/pdf".into(),
                            data: "JVBE".into(),
                        },
                        title: Some("a.pdf".into()),
                    },
                    Block::Document {
                        source: MediaSource::Text {
                            media_type: "text/plain".into(),
                            data: "plain words".into(),
                        },
                        title: None,
                    },
                ],
            }],
            ..Request::default()
        };
        assert_eq!(
            out(&request, "openai")["messages"][0]["content"],
            json!([
                {"type": "text", "text": "Read these"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
                {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
                {"type": "text", "text": "plain words"}
            ])
        );
        let unsupported = Request {
            messages: vec![Message {
                role: Role::User,
                content: vec![Block::Unsupported {
                    kind: "container_upload".into(),
                }],
            }],
            ..Request::default()
        };
        let spec = provider("openai");
        let err = from_canonical(
            &unsupported,
            &UpstreamContext {
                model: "m",
                max_output_tokens: 1,
                provider: &spec,
            },
        )
        .unwrap_err();
        assert!(err.message.contains("container_upload"));
    }
}
