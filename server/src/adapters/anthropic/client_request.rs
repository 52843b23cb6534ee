//! A Messages client's request read into the canonical model (for a key of another dialect).
//!
//! Read block by block and tolerantly: `cache_control`, `citations` and other annotations are
//! dropped (only Anthropic acts on them), a `search_result` becomes text, and a block type the
//! model does not carry is kept as [`Block::Unsupported`] so the upstream dialect can say which
//! one it cannot send. Server tools (`web_search_…`) run only at Anthropic and are refused.

use serde::Deserialize;
use serde_json::Value;

use crate::adapters::canonical::{Block, MediaSource, Message, Request, Role, Tool, ToolChoice};
use crate::adapters::AdapterError;

#[derive(Deserialize)]
struct MessagesRequest {
    #[serde(default)]
    messages: Vec<MessageIn>,
    #[serde(default)]
    system: Option<Value>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    stop_sequences: Vec<String>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_k: Option<u32>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    metadata: Option<MetadataIn>,
    #[serde(default)]
    tools: Vec<Value>,
    #[serde(default)]
    tool_choice: Option<ToolChoiceIn>,
    #[serde(default)]
    thinking: Option<ThinkingIn>,
}

#[derive(Deserialize)]
struct MessageIn {
    role: String,
    content: Value,
}

#[derive(Deserialize)]
struct MetadataIn {
    #[serde(default)]
    user_id: Option<String>,
}

#[derive(Deserialize)]
struct ToolChoiceIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Deserialize)]
struct ThinkingIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    budget_tokens: Option<u32>,
}

fn invalid(message: impl Into<String>, param: &'static str) -> AdapterError {
    AdapterError::new(message, Some(param))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The canonical request.
pub fn to_canonical(body: &[u8]) -> Result<Request, AdapterError> {
    let request: MessagesRequest = serde_json::from_slice(body)
        .map_err(|e| AdapterError::new(format!("invalid Messages request: {e}"), None))?;
    let system = match &request.system {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .map(|b| str_of(b, "text").to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        Some(_) => {
            return Err(invalid(
                "system: Input should be a valid string or a list of text blocks",
                "system",
            ))
        }
    };
    let mut messages = Vec::with_capacity(request.messages.len());
    for (i, m) in request.messages.iter().enumerate() {
        let role = match m.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => {
                return Err(invalid(
                    format!("messages.{i}.role: Input should be 'user' or 'assistant'"),
                    "messages",
                ))
            }
        };
        messages.push(Message {
            role,
            content: content_blocks(&m.content, &format!("messages.{i}.content"))?,
        });
    }
    let mut tools = Vec::with_capacity(request.tools.len());
    for tool in &request.tools {
        let kind = str_of(tool, "type");
        let server = !kind.is_empty() && kind != "custom";
        tools.push(Tool {
            name: str_of(tool, "name").to_owned(),
            description: tool
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            input_schema: if server {
                Some(tool.clone())
            } else {
                tool.get("input_schema").cloned()
            },
            server_kind: server.then(|| kind.to_owned()),
        });
    }
    let (tool_choice, parallel_tool_calls) = match request.tool_choice {
        None => (None, None),
        Some(choice) => {
            let parallel = choice.disable_parallel_tool_use.map(|off| !off);
            let choice = match choice.kind.as_str() {
                "auto" => ToolChoice::Auto,
                "any" => ToolChoice::Any,
                "none" => ToolChoice::None,
                "tool" => ToolChoice::Tool(choice.name.unwrap_or_default()),
                other => {
                    return Err(invalid(
                        format!("tool_choice: unknown type {other:?}"),
                        "tool_choice",
                    ))
                }
            };
            (Some(choice), parallel)
        }
    };
    Ok(Request {
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        max_tokens: request.max_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: request.top_k,
        stop: request.stop_sequences,
        stream: request.stream.unwrap_or(false),
        user: request.metadata.and_then(|m| m.user_id),
        response_format: None,
        thinking_budget: request
            .thinking
            .filter(|t| t.kind == "enabled")
            .and_then(|t| t.budget_tokens),
    })
}

/// A message's content: a string, or a list of blocks.
fn content_blocks(content: &Value, path: &str) -> Result<Vec<Block>, AdapterError> {
    match content {
        Value::String(text) if text.is_empty() => Ok(vec![]),
        Value::String(text) => Ok(vec![Block::Text { text: text.clone() }]),
        Value::Array(blocks) => blocks
            .iter()
            .enumerate()
            .map(|(j, b)| block(b, &format!("{path}.{j}")))
            .collect(),
        Value::Null => Ok(vec![]),
        _ => Err(invalid(
            format!("{path}: Input should be a valid string or a list of content blocks"),
            "messages",
        )),
    }
}

fn source(v: &Value, path: &str) -> Result<MediaSource, AdapterError> {
    let source = v.get("source").unwrap_or(&Value::Null);
    Ok(match str_of(source, "type") {
        "base64" => MediaSource::Base64 {
            media_type: str_of(source, "media_type").to_owned(),
            data: str_of(source, "data").to_owned(),
        },
        "url" => MediaSource::Url {
            url: str_of(source, "url").to_owned(),
        },
        "text" => MediaSource::Text {
            media_type: str_of(source, "media_type").to_owned(),
            data: str_of(source, "data").to_owned(),
        },
        // A document given as content blocks: its text.
        "content" => MediaSource::Text {
            media_type: "text/plain".into(),
            data: match source.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .map(|p| str_of(p, "text"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            },
        },
        other => {
            return Err(invalid(
                format!("{path}.source: a source of type {other:?} cannot be sent to this provider (files uploaded to Anthropic stay there)"),
                "messages",
            ))
        }
    })
}

fn block(v: &Value, path: &str) -> Result<Block, AdapterError> {
    let kind = str_of(v, "type");
    Ok(match kind {
        "text" => Block::Text {
            text: str_of(v, "text").to_owned(),
        },
        "image" => Block::Image {
            source: source(v, path)?,
        },
        "document" => Block::Document {
            source: source(v, path)?,
            title: v.get("title").and_then(Value::as_str).map(str::to_owned),
        },
        "search_result" => {
            let text = v
                .get("content")
                .and_then(Value::as_array)
                .map(|parts| {
                    parts
                        .iter()
                        .map(|p| str_of(p, "text"))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            Block::Text {
                text: format!("{}\n{}\n\n{text}", str_of(v, "title"), str_of(v, "source")),
            }
        }
        "tool_use" => Block::ToolUse {
            id: str_of(v, "id").to_owned(),
            name: str_of(v, "name").to_owned(),
            input: v.get("input").cloned().unwrap_or(Value::Null),
        },
        "tool_result" => Block::ToolResult {
            tool_use_id: str_of(v, "tool_use_id").to_owned(),
            content: match v.get("content") {
                None => vec![],
                Some(content) => content_blocks(content, &format!("{path}.content"))?,
            },
            is_error: v.get("is_error").and_then(Value::as_bool).unwrap_or(false),
        },
        "thinking" => Block::Thinking {
            thinking: str_of(v, "thinking").to_owned(),
            signature: str_of(v, "signature").to_owned(),
        },
        "redacted_thinking" => Block::RedactedThinking {
            data: str_of(v, "data").to_owned(),
        },
        other => Block::Unsupported {
            kind: other.to_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_claude_code_request_reads_into_the_canonical_model() {
        let request = to_canonical(
            json!({
                "model": "claude-sonnet-4-5-20250929", "max_tokens": 32000, "stream": true,
                "system": [
                    {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "Be careful."}
                ],
                "metadata": {"user_id": "user_abc_account__session_1"},
                "thinking": {"type": "enabled", "budget_tokens": 4000},
                "tools": [{"name": "Bash", "description": "Run", "input_schema": {"type": "object"},
                    "cache_control": {"type": "ephemeral"}}],
                "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"},
                        {"type": "text", "text": "List files", "cache_control": {"type": "ephemeral"}}]},
                    {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": "ls", "signature": "sig"},
                        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "a.txt"}], "is_error": true}]}
                ]
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(request.system, ["You are Claude Code.", "Be careful."]);
        assert_eq!(request.user.as_deref(), Some("user_abc_account__session_1"));
        assert_eq!(request.thinking_budget, Some(4000));
        assert_eq!(request.parallel_tool_calls, Some(false));
        assert_eq!(request.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(
            request.tools[0].input_schema,
            Some(json!({"type": "object"}))
        );
        assert_eq!(request.messages[0].content.len(), 2);
        assert_eq!(
            request.messages[1].content[0],
            Block::Thinking {
                thinking: "ls".into(),
                signature: "sig".into()
            }
        );
        assert_eq!(
            request.messages[2].content[0],
            Block::ToolResult {
                tool_use_id: "toolu_1".into(),
                content: vec![Block::Text {
                    text: "a.txt".into()
                }],
                is_error: true
            }
        );
        assert!(request.stream);
    }

    #[test]
    fn documents_and_unknown_blocks() {
        let request = to_canonical(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
                {"type": "document", "title": "a.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
                {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}},
                {"type": "container_upload", "file_id": "f"}
            ]}]})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let content = &request.messages[0].content;
        assert_eq!(
            content[1],
            Block::Document {
                source: MediaSource::Text {
                    media_type: "text/plain".into(),
                    data: "one\ntwo".into()
                },
                title: None
            }
        );
        assert_eq!(
            content[2],
            Block::Unsupported {
                kind: "container_upload".into()
            }
        );
        let request = to_canonical(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}]})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            request.tools[0].server_kind.as_deref(),
            Some("web_search_20250305")
        );
    }
}
