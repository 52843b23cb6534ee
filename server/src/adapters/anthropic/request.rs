//! OpenAI chat request -> Anthropic Messages request.

use serde_json::{json, Value};

use super::wire::{
    AnthropicBlock, AnthropicImageSource, AnthropicMessage, AnthropicMessagesRequest,
    AnthropicMetadata, AnthropicRole, AnthropicTool, AnthropicToolChoice,
};
use crate::adapters::openai_wire::{
    OpenAiChatRequest, OpenAiContent, OpenAiContentPart, OpenAiMessage, OpenAiToolChoice,
};
use crate::adapters::AdapterError;

/// Anthropic requires `max_tokens`; when the client sent none, the model's limit is used.
#[derive(Debug, Clone, Copy)]
pub struct RequestDefaults {
    pub max_output_tokens: u32,
}

/// Anthropic's temperature range is 0..=1 (OpenAI's is 0..=2).
const MAX_TEMPERATURE: f64 = 1.0;

fn invalid(message: impl Into<String>, param: &'static str) -> AdapterError {
    AdapterError::new(message, Some(param))
}

/// Translates the client's request body for `model` (the model actually routed to).
pub fn translate_request(
    body: &[u8],
    model: &str,
    defaults: RequestDefaults,
) -> Result<Vec<u8>, AdapterError> {
    let request: OpenAiChatRequest = serde_json::from_slice(body)
        .map_err(|e| AdapterError::new(format!("invalid chat request: {e}"), None))?;
    let translated = build(request, model, defaults)?;
    Ok(serde_json::to_vec(&translated).expect("Anthropic request serialises"))
}

fn build(
    request: OpenAiChatRequest,
    model: &str,
    defaults: RequestDefaults,
) -> Result<AnthropicMessagesRequest, AdapterError> {
    if request.n.is_some_and(|n| n > 1) {
        return Err(invalid("n > 1 is not supported by this provider", "n"));
    }
    let mut system: Vec<String> = Vec::new();
    let mut messages: Vec<AnthropicMessage> = Vec::new();
    for (i, message) in request.messages.into_iter().enumerate() {
        match message.role.as_str() {
            "system" | "developer" => {
                let text = plain_text(message.content, i)?;
                if !text.is_empty() {
                    system.push(text);
                }
            }
            "user" => push(
                &mut messages,
                AnthropicRole::User,
                user_blocks(message.content, i)?,
            ),
            "assistant" => push(
                &mut messages,
                AnthropicRole::Assistant,
                assistant_blocks(message, i)?,
            ),
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
                    vec![AnthropicBlock::Text { text }]
                };
                push(
                    &mut messages,
                    AnthropicRole::User,
                    vec![AnthropicBlock::ToolResult {
                        tool_use_id: id,
                        content,
                    }],
                );
            }
            other => {
                return Err(invalid(
                    format!("messages[{i}]: role {other:?} is not supported"),
                    "messages",
                ));
            }
        }
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
    if let Some(format) = &request.response_format {
        if let Some(hint) = json_mode_hint(&format.kind, format.json_schema.as_ref()) {
            system.push(hint);
        }
    }
    let parallel_off = request.parallel_tool_calls == Some(false);
    let tools: Vec<AnthropicTool> = request
        .tools
        .unwrap_or_default()
        .into_iter()
        .map(|t| AnthropicTool {
            name: t.function.name,
            description: t.function.description,
            input_schema: t
                .function
                .parameters
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        })
        .collect();
    let tool_choice = match request.tool_choice {
        None if parallel_off && !tools.is_empty() => Some(AnthropicToolChoice::Auto {
            disable_parallel_tool_use: true,
        }),
        None => None,
        Some(OpenAiToolChoice::Mode(mode)) => match mode.as_str() {
            "auto" => Some(AnthropicToolChoice::Auto {
                disable_parallel_tool_use: parallel_off,
            }),
            "required" => Some(AnthropicToolChoice::Any {
                disable_parallel_tool_use: parallel_off,
            }),
            "none" => Some(AnthropicToolChoice::None),
            other => {
                return Err(invalid(
                    format!("tool_choice {other:?} is not one of auto, none, required"),
                    "tool_choice",
                ))
            }
        },
        Some(OpenAiToolChoice::Named(named)) => Some(AnthropicToolChoice::Tool {
            name: named.function.name,
            disable_parallel_tool_use: parallel_off,
        }),
    };
    let max_tokens = request
        .max_completion_tokens
        .or(request.max_tokens)
        .unwrap_or(defaults.max_output_tokens)
        .max(1);
    Ok(AnthropicMessagesRequest {
        model: model.to_owned(),
        max_tokens,
        messages,
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        stop_sequences: request
            .stop
            .map(|s| s.into_vec())
            .unwrap_or_default()
            .into_iter()
            // Anthropic rejects whitespace-only stop sequences.
            .filter(|s| !s.trim().is_empty())
            .collect(),
        temperature: request.temperature.map(|t| t.clamp(0.0, MAX_TEMPERATURE)),
        top_p: request.top_p,
        top_k: request.top_k,
        stream: request.stream.unwrap_or(false),
        metadata: request.user.map(|user_id| AnthropicMetadata { user_id }),
        tool_choice: if tools.is_empty() { None } else { tool_choice },
        tools,
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

fn user_blocks(
    content: Option<OpenAiContent>,
    i: usize,
) -> Result<Vec<AnthropicBlock>, AdapterError> {
    match content {
        None => Ok(vec![]),
        Some(OpenAiContent::Text(text)) if text.is_empty() => Ok(vec![]),
        Some(OpenAiContent::Text(text)) => Ok(vec![AnthropicBlock::Text { text }]),
        Some(OpenAiContent::Parts(parts)) => parts
            .into_iter()
            .filter(|p| !matches!(p, OpenAiContentPart::Text { text } if text.is_empty()))
            .map(|part| match part {
                OpenAiContentPart::Text { text } => Ok(AnthropicBlock::Text { text }),
                OpenAiContentPart::ImageUrl { image_url } => image_block(&image_url.url, i),
                OpenAiContentPart::Refusal { refusal } => {
                    Ok(AnthropicBlock::Text { text: refusal })
                }
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

fn image_block(url: &str, i: usize) -> Result<AnthropicBlock, AdapterError> {
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
        return Ok(AnthropicBlock::Image {
            source: AnthropicImageSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            },
        });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(AnthropicBlock::Image {
            source: AnthropicImageSource::Url {
                url: url.to_owned(),
            },
        });
    }
    Err(invalid(
        format!("messages[{i}]: image_url must be a data: or http(s) URL"),
        "messages",
    ))
}

fn assistant_blocks(message: OpenAiMessage, i: usize) -> Result<Vec<AnthropicBlock>, AdapterError> {
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
    // Anthropic rejects empty text blocks (and trailing whitespace in a final assistant turn).
    if !text.trim().is_empty() {
        blocks.push(AnthropicBlock::Text { text });
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
        blocks.push(AnthropicBlock::ToolUse {
            id: call.id,
            name: call.function.name,
            input,
        });
    }
    Ok(blocks)
}

fn json_mode_hint(kind: &str, schema: Option<&Value>) -> Option<String> {
    match kind {
        "json_object" => {
            Some("Respond only with a single valid JSON object and nothing else.".into())
        }
        "json_schema" => {
            let schema = schema
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

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: RequestDefaults = RequestDefaults {
        max_output_tokens: 8192,
    };

    fn translate(body: Value) -> Value {
        let out =
            translate_request(body.to_string().as_bytes(), "claude-sonnet-4-5", DEFAULTS).unwrap();
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
        let err = translate_request(
            base(json!("sometimes")).to_string().as_bytes(),
            "m",
            DEFAULTS,
        )
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
                translate_request(case.to_string().as_bytes(), "m", DEFAULTS).is_err(),
                "{case}"
            );
        }
    }
}
