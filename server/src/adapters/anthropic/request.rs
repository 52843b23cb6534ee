//! Canonical request -> Anthropic Messages request (for an Anthropic key serving another
//! dialect's client).
//!
//! What Anthropic requires and the canonical model does not promise: turns alternate (same-role
//! turns are merged, tool results first in a user turn) and start with the user; no empty text
//! blocks (nor whitespace-only assistant text); `max_tokens` is always given; `temperature` is
//! 0..=1; stop sequences are not blank; JSON mode has no switch, so it becomes an instruction.

use serde_json::{json, Value};

use super::wire::{
    AnthropicBlock, AnthropicImageSource, AnthropicMessage, AnthropicMessagesRequest,
    AnthropicMetadata, AnthropicRole, AnthropicThinking, AnthropicTool, AnthropicToolChoice,
};
use crate::adapters::canonical::{Block, MediaSource, Request, ResponseFormat, Role, ToolChoice};
use crate::adapters::{AdapterError, UpstreamContext};

/// Anthropic's temperature range is 0..=1 (OpenAI's is 0..=2).
const MAX_TEMPERATURE: f64 = 1.0;

fn invalid(message: impl Into<String>, param: &'static str) -> AdapterError {
    AdapterError::new(message, Some(param))
}

/// The request body for `context.model`.
pub fn from_canonical(
    request: &Request,
    context: &UpstreamContext<'_>,
) -> Result<Vec<u8>, AdapterError> {
    let translated = build(request, context)?;
    Ok(serde_json::to_vec(&translated).expect("Anthropic request serialises"))
}

fn build(
    request: &Request,
    context: &UpstreamContext<'_>,
) -> Result<AnthropicMessagesRequest, AdapterError> {
    let mut messages: Vec<AnthropicMessage> = Vec::new();
    for (i, message) in request.messages.iter().enumerate() {
        let role = match message.role {
            Role::User => AnthropicRole::User,
            Role::Assistant => AnthropicRole::Assistant,
        };
        let mut blocks = Vec::with_capacity(message.content.len());
        for block in &message.content {
            if let Some(b) = anthropic_block(block, role, i)? {
                blocks.push(b);
            }
        }
        push(&mut messages, role, blocks);
    }
    messages.retain(|m| !m.content.is_empty());
    if messages.is_empty() {
        return Err(invalid(
            "at least one user or assistant message is required",
            "messages",
        ));
    }
    if messages[0].role == AnthropicRole::Assistant {
        // Anthropic conversations start with the user; an empty turn keeps the assistant's words.
        messages.insert(
            0,
            AnthropicMessage {
                role: AnthropicRole::User,
                content: vec![AnthropicBlock::Text {
                    text: "(continue)".into(),
                }],
            },
        );
    }
    let mut system = request.system.clone();
    if let Some(hint) = request.response_format.as_ref().and_then(json_mode_hint) {
        system.push(hint);
    }
    if let Some(kind) = request.tools.iter().find_map(|t| t.server_kind.as_deref()) {
        return Err(invalid(
            format!("tools: `{kind}` cannot be forwarded by translation"),
            "tools",
        ));
    }
    let parallel_off = request.parallel_tool_calls == Some(false);
    let tools: Vec<AnthropicTool> = request
        .tools
        .iter()
        .map(|t| AnthropicTool {
            name: t.name.clone(),
            description: t.description.clone(),
            input_schema: t
                .input_schema
                .clone()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        })
        .collect();
    let tool_choice = match &request.tool_choice {
        None if parallel_off && !tools.is_empty() => Some(AnthropicToolChoice::Auto {
            disable_parallel_tool_use: true,
        }),
        None => None,
        Some(ToolChoice::Auto) => Some(AnthropicToolChoice::Auto {
            disable_parallel_tool_use: parallel_off,
        }),
        Some(ToolChoice::Any) => Some(AnthropicToolChoice::Any {
            disable_parallel_tool_use: parallel_off,
        }),
        Some(ToolChoice::None) => Some(AnthropicToolChoice::None),
        Some(ToolChoice::Tool(name)) => Some(AnthropicToolChoice::Tool {
            name: name.clone(),
            disable_parallel_tool_use: parallel_off,
        }),
    };
    let max_tokens = request
        .max_tokens
        .unwrap_or(context.max_output_tokens)
        .max(1);
    Ok(AnthropicMessagesRequest {
        model: context.model.to_owned(),
        max_tokens,
        messages,
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        stop_sequences: request
            .stop
            .iter()
            // Anthropic rejects whitespace-only stop sequences.
            .filter(|s| !s.trim().is_empty())
            .cloned()
            .collect(),
        temperature: request.temperature.map(|t| t.clamp(0.0, MAX_TEMPERATURE)),
        top_p: request.top_p,
        top_k: request.top_k,
        stream: request.stream,
        metadata: request
            .user
            .clone()
            .map(|user_id| AnthropicMetadata { user_id }),
        tool_choice: if tools.is_empty() { None } else { tool_choice },
        tools,
        thinking: request
            .thinking_budget
            .filter(|budget| *budget < max_tokens)
            .map(|budget_tokens| AnthropicThinking::Enabled { budget_tokens }),
    })
}

/// Appends to the previous message when it has the same role (Anthropic wants alternation);
/// within a user turn, tool results go first as Anthropic requires.
fn push(messages: &mut Vec<AnthropicMessage>, role: AnthropicRole, blocks: Vec<AnthropicBlock>) {
    match messages.last_mut() {
        Some(last) if last.role == role => {
            last.content.extend(blocks);
            if role == AnthropicRole::User {
                // Stable: tool results keep their order, and so does the rest.
                last.content
                    .sort_by_key(|b| !matches!(b, AnthropicBlock::ToolResult { .. }));
            }
        }
        _ => messages.push(AnthropicMessage {
            role,
            content: blocks,
        }),
    }
}

/// One block as Anthropic takes it; `None` for what it must not get (empty text).
fn anthropic_block(
    block: &Block,
    role: AnthropicRole,
    i: usize,
) -> Result<Option<AnthropicBlock>, AdapterError> {
    Ok(Some(match block {
        Block::Text { text } if text.is_empty() => return Ok(None),
        // Anthropic rejects whitespace-only text in an assistant turn (a final one above all).
        Block::Text { text } if role == AnthropicRole::Assistant && text.trim().is_empty() => {
            return Ok(None)
        }
        Block::Text { text } => AnthropicBlock::Text { text: text.clone() },
        Block::Image { source } => AnthropicBlock::Image {
            source: match source {
                MediaSource::Base64 { media_type, data } => AnthropicImageSource::Base64 {
                    media_type: media_type.clone(),
                    data: data.clone(),
                },
                MediaSource::Url { url } => AnthropicImageSource::Url { url: url.clone() },
                MediaSource::Text { .. } => {
                    return Err(invalid(
                        format!("messages[{i}]: an image cannot be text"),
                        "messages",
                    ))
                }
            },
        },
        Block::Document { source, title } => AnthropicBlock::Document {
            source: match source {
                MediaSource::Base64 { media_type, data } => AnthropicImageSource::Base64 {
                    media_type: media_type.clone(),
                    data: data.clone(),
                },
                MediaSource::Url { url } => AnthropicImageSource::Url { url: url.clone() },
                MediaSource::Text { media_type, data } => AnthropicImageSource::Text {
                    media_type: media_type.clone(),
                    data: data.clone(),
                },
            },
            title: title.clone(),
        },
        Block::ToolUse { id, name, input } => AnthropicBlock::ToolUse {
            id: id.clone(),
            name: name.clone(),
            input: if input.is_object() {
                input.clone()
            } else {
                json!({})
            },
        },
        Block::ToolResult {
            tool_use_id,
            content,
            is_error,
        } => {
            let mut inner = Vec::with_capacity(content.len());
            for b in content {
                if let Some(b) = anthropic_block(b, AnthropicRole::User, i)? {
                    inner.push(b);
                }
            }
            AnthropicBlock::ToolResult {
                tool_use_id: tool_use_id.clone(),
                content: inner,
                is_error: *is_error,
            }
        }
        // Reasoning of another vendor carries no signature Anthropic would accept.
        Block::Thinking { signature, .. } if signature.is_empty() => return Ok(None),
        Block::Thinking {
            thinking,
            signature,
        } => AnthropicBlock::Thinking {
            thinking: thinking.clone(),
            signature: signature.clone(),
        },
        Block::RedactedThinking { data } => AnthropicBlock::RedactedThinking { data: data.clone() },
        Block::Unsupported { kind } => {
            return Err(invalid(
                format!(
                "messages[{i}]: content blocks of type {kind:?} cannot be sent to this provider"
            ),
                "messages",
            ))
        }
    }))
}

fn json_mode_hint(format: &ResponseFormat) -> Option<String> {
    match format.kind.as_str() {
        "json_object" => {
            Some("Respond only with a single valid JSON object and nothing else.".into())
        }
        "json_schema" => {
            let schema = format
                .json_schema
                .as_ref()
                .and_then(|s| s.get("schema"))
                .map(Value::to_string)
                .unwrap_or_else(|| "{}".into());
            Some(format!(
                "Respond only with a single valid JSON object matching this JSON schema, and nothing else: {schema}"
            ))
        }
        _ => None,
    }
}

/// OpenAI chat requests translated for Anthropic: the composition the chat surface uses with an
/// Anthropic key, checked end to end.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::openai::request::to_canonical;
    use shared::providers::ProviderSpec;

    fn translate_request(
        body: &[u8],
        model: &str,
        max_output_tokens: u32,
    ) -> Result<Vec<u8>, AdapterError> {
        let spec: ProviderSpec =
            serde_json::from_value(json!({"id": "anthropic", "display_name": "A",
            "format": "anthropic", "base_url": "http://x", "auth": "x-api-key", "models": []}))
            .unwrap();
        from_canonical(
            &to_canonical(body)?,
            &UpstreamContext {
                model,
                max_output_tokens,
                provider: &spec,
            },
        )
    }

    fn translate(body: Value) -> Value {
        let out =
            translate_request(body.to_string().as_bytes(), "claude-sonnet-4-5", 8192).unwrap();
        serde_json::from_slice(&out).unwrap()
    }
    #[test]
    fn system_is_lifted_and_openai_only_fields_are_dropped() {
        let out = translate(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use English."}]},
                {"role": "user", "content": "Hi"}
            ],
            "stream_options": {"include_usage": true}, "n": 1, "frequency_penalty": 0.5,
            "presence_penalty": 0.1, "logprobs": false, "seed": 3, "user": "u-42",
            "temperature": 1.7, "top_p": 0.9, "stop": ["\n\n", "END", " "]
        }));
        assert_eq!(
            out,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 8192,
                "system": "Be brief.\n\nUse English.",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                "stop_sequences": ["END"],
                "temperature": 1.0,
                "top_p": 0.9,
                "metadata": {"user_id": "u-42"}
            })
        );
    }

    #[test]
    fn tools_tool_calls_and_tool_results() {
        let out = translate(json!({
            "model": "gpt-4o", "max_tokens": 300, "stream": true,
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": false,
            "messages": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
                {"role": "user", "content": "Thanks"}
            ]
        }));
        assert_eq!(out["max_tokens"], 300);
        assert_eq!(out["stream"], true);
        assert_eq!(
            out["tools"],
            json!([{"name": "get_weather", "description": "Weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}])
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true})
        );
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(
            messages.len(),
            3,
            "tool results and the next user text merge into one user turn"
        );
        assert_eq!(
            messages[1]["content"],
            json!([
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}
            ])
        );
        assert_eq!(
            messages[2],
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
                {"type": "text", "text": "Thanks"}
            ]})
        );
    }

    #[test]
    fn tool_choice_modes() {
        let base = |choice: Value| {
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": choice})
        };
        assert_eq!(
            translate(base(json!("auto")))["tool_choice"],
            json!({"type": "auto"})
        );
        assert_eq!(
            translate(base(json!("required")))["tool_choice"],
            json!({"type": "any"})
        );
        assert_eq!(
            translate(base(json!("none")))["tool_choice"],
            json!({"type": "none"})
        );
        assert_eq!(
            translate(base(json!("auto")))["tools"][0]["input_schema"],
            json!({"type": "object", "properties": {}})
        );
        let err = translate_request(base(json!("sometimes")).to_string().as_bytes(), "m", 10)
            .unwrap_err();
        assert_eq!(err.param, Some("tool_choice"));
    }

    #[test]
    fn consecutive_turns_merge_and_images_translate() {
        let out = translate(json!({"model": "m", "messages": [
            {"role": "user", "content": "one"},
            {"role": "user", "content": [
                {"type": "text", "text": "two"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}}
            ]},
            {"role": "assistant", "content": "ok"},
            {"role": "assistant", "content": "more"}
        ]}));
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0]["content"],
            json!([
                {"type": "text", "text": "one"},
                {"type": "text", "text": "two"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
            ])
        );
        assert_eq!(
            m[1]["content"],
            json!([{"type": "text", "text": "ok"}, {"type": "text", "text": "more"}])
        );
    }

    #[test]
    fn conversation_starting_with_the_assistant_gets_a_user_turn_first() {
        let out = translate(
            json!({"model": "m", "messages": [{"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "hi"}]}),
        );
        assert_eq!(out["messages"][0]["role"], "user");
        assert_eq!(out["messages"][1]["role"], "assistant");
    }

    #[test]
    fn json_mode_becomes_a_system_instruction() {
        let out = translate(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_object"}}),
        );
        assert!(out["system"].as_str().unwrap().contains("valid JSON"));
    }

    #[test]
    fn bad_requests_are_explained() {
        let cases = [
            json!({"model": "m", "messages": [{"role": "system", "content": "only system"}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}),
            json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}),
            json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}),
            json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}),
        ];
        for case in cases {
            assert!(
                translate_request(case.to_string().as_bytes(), "m", 10).is_err(),
                "{case}"
            );
        }
    }
}
