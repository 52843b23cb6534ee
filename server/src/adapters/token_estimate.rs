//! An estimate of a request's input tokens, for `count_tokens` when the key that would serve the
//! model cannot count them itself (only Anthropic keys can).
//!
//! Text (system, messages, tool calls and results, tool definitions) is counted with OpenAI's
//! `cl100k_base` vocabulary, which ships inside the binary (`tiktoken-rs`) and is loaded on the
//! first estimate; no vendor's tokenizer is exact for another vendor's model. Images count a flat
//! [`IMAGE_TOKENS`] (Anthropic's cost of an image of about a megapixel), a PDF its base64 text's
//! tokens (the file's pages are not rendered), and every message a few tokens of framing.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use super::canonical::{Block, MediaSource, Request};

/// Tokens counted for each image, whatever its size.
pub const IMAGE_TOKENS: u64 = 1_600;
/// Role markers and separators around each message.
const MESSAGE_FRAMING: u64 = 4;
/// Framing of the tool definitions as a whole.
const TOOLS_FRAMING: u64 = 16;

fn tokenizer() -> &'static CoreBPE {
    static BPE: OnceLock<CoreBPE> = OnceLock::new();
    BPE.get_or_init(|| {
        tiktoken_rs::cl100k_base().expect("the vocabulary built into the binary loads")
    })
}

fn text_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    tokenizer().encode_ordinary(text).len() as u64
}

fn block_tokens(block: &Block) -> u64 {
    match block {
        Block::Text { text } => text_tokens(text),
        Block::Image { .. } => IMAGE_TOKENS,
        Block::Document { source, title } => {
            title.as_deref().map_or(0, text_tokens)
                + match source {
                    MediaSource::Text { data, .. } | MediaSource::Base64 { data, .. } => {
                        text_tokens(data)
                    }
                    MediaSource::Url { url } => text_tokens(url),
                }
        }
        Block::ToolUse { name, input, .. } => text_tokens(name) + text_tokens(&input.to_string()),
        Block::ToolResult { content, .. } => content.iter().map(block_tokens).sum::<u64>() + 2,
        Block::Thinking { thinking, .. } => text_tokens(thinking),
        Block::RedactedThinking { data } => text_tokens(data),
        Block::Unsupported { .. } => 0,
    }
}

/// The estimated input tokens of `request`.
pub fn estimate_input_tokens(request: &Request) -> u64 {
    let system: u64 = request.system.iter().map(|s| text_tokens(s)).sum();
    let messages: u64 = request
        .messages
        .iter()
        .map(|m| MESSAGE_FRAMING + m.content.iter().map(block_tokens).sum::<u64>())
        .sum();
    let tools: u64 = request
        .tools
        .iter()
        .map(|t| {
            text_tokens(&t.name)
                + t.description.as_deref().map_or(0, text_tokens)
                + t.input_schema
                    .as_ref()
                    .map_or(0, |s| text_tokens(&s.to_string()))
        })
        .sum();
    let tools = if request.tools.is_empty() {
        0
    } else {
        tools + TOOLS_FRAMING
    };
    system + messages + tools
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::canonical::{Message, Role, Tool};
    use serde_json::json;

    fn user(blocks: Vec<Block>) -> Message {
        Message {
            role: Role::User,
            content: blocks,
        }
    }

    #[test]
    fn text_is_counted_with_the_vocabulary() {
        // "Hello world" is two cl100k tokens.
        assert_eq!(text_tokens("Hello world"), 2);
        let request = Request {
            system: vec!["Hello world".into()],
            messages: vec![user(vec![Block::Text {
                text: "Hello world".into(),
            }])],
            ..Request::default()
        };
        assert_eq!(estimate_input_tokens(&request), 2 + MESSAGE_FRAMING + 2);
    }

    #[test]
    fn more_content_costs_more_and_images_are_flat() {
        let base = Request {
            messages: vec![user(vec![Block::Text {
                text: "Describe this".into(),
            }])],
            ..Request::default()
        };
        let mut with_image = base.clone();
        with_image.messages[0].content.push(Block::Image {
            source: MediaSource::Url {
                url: "https://example.com/cat.png".into(),
            },
        });
        assert_eq!(
            estimate_input_tokens(&with_image),
            estimate_input_tokens(&base) + IMAGE_TOKENS
        );
        let mut with_tools = base.clone();
        with_tools.tools.push(Tool {
            name: "get_weather".into(),
            description: Some("The weather in a city".into()),
            input_schema: Some(
                json!({"type": "object", "properties": {"city": {"type": "string"}}}),
            ),
            server_kind: None,
        });
        assert!(estimate_input_tokens(&with_tools) > estimate_input_tokens(&base) + TOOLS_FRAMING);
    }
}
