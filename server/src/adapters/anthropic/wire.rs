//! Anthropic Messages API wire types (private to this dialect): the request api-proxy sends and
//! the answers it reads from an Anthropic key, and the answers it writes for a Messages client
//! served by another vendor. (A Messages client's own request is read in `client_request.rs`,
//! tolerantly, block by block.)

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(super) struct AnthropicMessagesRequest {
    pub model: String,
    pub max_tokens: u32,
    pub messages: Vec<AnthropicMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<AnthropicMetadata>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<AnthropicTool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<AnthropicToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<AnthropicThinking>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicThinking {
    Enabled { budget_tokens: u32 },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(super) struct AnthropicMetadata {
    pub user_id: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(super) struct AnthropicMessage {
    pub role: AnthropicRole,
    pub content: Vec<AnthropicBlock>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum AnthropicRole {
    User,
    Assistant,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicBlock {
    Text {
        text: String,
    },
    Image {
        source: AnthropicImageSource,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    Document {
        source: AnthropicImageSource,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    ToolResult {
        tool_use_id: String,
        content: Vec<AnthropicBlock>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicImageSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    /// A plain-text document.
    Text {
        media_type: String,
        data: String,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(super) struct AnthropicTool {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input_schema: Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicToolChoice {
    Auto {
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        disable_parallel_tool_use: bool,
    },
    Any {
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        disable_parallel_tool_use: bool,
    },
    Tool {
        name: String,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        disable_parallel_tool_use: bool,
    },
    None,
}

/// A non-streamed response.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct AnthropicMessagesResponse {
    pub id: String,
    pub model: String,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(default)]
    pub content: Vec<AnthropicResponseBlock>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: AnthropicUsage,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicResponseBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    RedactedThinking {
        #[serde(default)]
        data: String,
    },
    #[serde(other)]
    Other,
}

/// Token counts; `input_tokens` excludes cache reads and writes.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub(super) struct AnthropicUsage {
    #[serde(default, deserialize_with = "crate::adapters::tokens::maybe_count")]
    pub input_tokens: Option<i64>,
    #[serde(default, deserialize_with = "crate::adapters::tokens::maybe_count")]
    pub output_tokens: Option<i64>,
    #[serde(default, deserialize_with = "crate::adapters::tokens::maybe_count")]
    pub cache_creation_input_tokens: Option<i64>,
    #[serde(default, deserialize_with = "crate::adapters::tokens::maybe_count")]
    pub cache_read_input_tokens: Option<i64>,
}

/// One streamed event's `data`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicStreamEvent {
    MessageStart {
        message: AnthropicStreamMessage,
    },
    ContentBlockStart {
        index: u32,
        content_block: AnthropicStreamBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: AnthropicDelta,
    },
    ContentBlockStop {
        #[serde(default)]
        index: u32,
    },
    MessageDelta {
        delta: AnthropicMessageDelta,
        #[serde(default)]
        usage: AnthropicUsage,
    },
    MessageStop,
    Ping,
    Error {
        error: AnthropicErrorDetail,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct AnthropicStreamMessage {
    pub id: String,
    pub model: String,
    #[serde(default)]
    pub usage: AnthropicUsage,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicStreamBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    Thinking {},
    RedactedThinking {
        #[serde(default)]
        data: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        #[serde(default)]
        partial_json: String,
    },
    ThinkingDelta {
        #[serde(default)]
        thinking: String,
    },
    SignatureDelta {
        #[serde(default)]
        signature: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct AnthropicMessageDelta {
    #[serde(default)]
    pub stop_reason: Option<String>,
}

/// Usage as an Anthropic client reads it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(super) struct AnthropicUsageOut {
    pub input_tokens: i64,
    pub cache_creation_input_tokens: i64,
    pub cache_read_input_tokens: i64,
    pub output_tokens: i64,
}

/// A `message` api-proxy writes (another vendor's answer, translated).
#[derive(Debug, Clone, Serialize)]
pub(super) struct AnthropicMessageOut<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: &'a str,
    pub content: Vec<AnthropicContentOut<'a>>,
    pub stop_reason: Option<&'a str>,
    pub stop_sequence: Option<&'a str>,
    pub usage: AnthropicUsageOut,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicContentOut<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a Value,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
}

/// A stream event api-proxy writes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicEventOut<'a> {
    MessageStart {
        message: AnthropicMessageOut<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: AnthropicBlockStartOut<'a>,
    },
    ContentBlockDelta {
        index: u32,
        delta: AnthropicDeltaOut<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: AnthropicMessageDeltaOut<'a>,
        usage: AnthropicUsageOut,
    },
    MessageStop,
    Ping,
    Error {
        error: AnthropicErrorOut<'a>,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum AnthropicBlockStartOut<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Value,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type")]
pub(super) enum AnthropicDeltaOut<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct AnthropicMessageDeltaOut<'a> {
    pub stop_reason: Option<&'a str>,
    pub stop_sequence: Option<&'a str>,
}

/// `{"type":"error","error":{"type","message"}}`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct AnthropicErrorEnvelopeOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: AnthropicErrorOut<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct AnthropicErrorOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub message: &'a str,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct AnthropicErrorEnvelope {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub error: AnthropicErrorDetail,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct AnthropicErrorDetail {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}
