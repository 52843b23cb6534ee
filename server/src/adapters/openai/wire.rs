//! OpenAI chat wire types, typed, for translated calls: reading a client's request and writing
//! its answer, or writing an upstream request and reading its answer. The passthrough never
//! uses them: it never re-serialises. Unknown fields are ignored and unknown content part types
//! are tolerated.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiChatRequest {
    pub messages: Vec<OpenAiMessage>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Not OpenAI's, but sent by clients written for other vendors.
    #[serde(default)]
    pub top_k: Option<u32>,
    #[serde(default)]
    pub stop: Option<OpenAiStop>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub tools: Option<Vec<OpenAiTool>>,
    #[serde(default)]
    pub tool_choice: Option<OpenAiToolChoice>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub response_format: Option<OpenAiResponseFormat>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum OpenAiStop {
    One(String),
    Many(Vec<String>),
}

impl OpenAiStop {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

/// One message; the role decides which fields matter.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<OpenAiContent>,
    #[serde(default)]
    pub tool_calls: Option<Vec<OpenAiToolCall>>,
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum OpenAiContent {
    Text(String),
    Parts(Vec<OpenAiContentPart>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum OpenAiContentPart {
    Text {
        text: String,
    },
    ImageUrl {
        image_url: OpenAiImageUrl,
    },
    Refusal {
        refusal: String,
    },
    #[serde(other)]
    Unsupported,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiImageUrl {
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(super) struct OpenAiToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: OpenAiFunctionCall,
}

fn function_type() -> String {
    "function".to_owned()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(super) struct OpenAiFunctionCall {
    pub name: String,
    /// A JSON document, as a string.
    pub arguments: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiTool {
    pub function: OpenAiFunctionDef,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiFunctionDef {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum OpenAiToolChoice {
    /// `auto`, `none` or `required`.
    Mode(String),
    Named(OpenAiNamedToolChoice),
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiNamedToolChoice {
    pub function: OpenAiFunctionName,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiFunctionName {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub json_schema: Option<Value>,
}

/// `chat.completion`
#[derive(Debug, Clone, Serialize)]
pub(super) struct OpenAiChatCompletion {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub model: String,
    pub choices: Vec<OpenAiChoice>,
    pub usage: OpenAiUsageOut,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct OpenAiChoice {
    pub index: u32,
    pub message: OpenAiResponseMessage,
    pub logprobs: Option<()>,
    pub finish_reason: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct OpenAiResponseMessage {
    pub role: &'static str,
    pub content: Option<String>,
    pub refusal: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<OpenAiToolCall>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(super) struct OpenAiUsageOut {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub prompt_tokens_details: OpenAiPromptDetailsOut,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub(super) struct OpenAiPromptDetailsOut {
    pub cached_tokens: i64,
}

/// `chat.completion.chunk`
#[derive(Debug, Clone, Serialize)]
pub(super) struct OpenAiChatChunk<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: i64,
    pub model: &'a str,
    pub choices: Vec<OpenAiChunkChoice<'a>>,
    /// OpenAI sends `"usage": null` on every chunk when usage was requested.
    #[serde(skip_serializing_if = "UsageField::is_absent")]
    pub usage: UsageField,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub(super) enum UsageField {
    #[serde(skip)]
    Absent,
    Null(Option<()>),
    Some(OpenAiUsageOut),
}

impl UsageField {
    fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct OpenAiChunkChoice<'a> {
    pub index: u32,
    pub delta: OpenAiDelta<'a>,
    pub logprobs: Option<()>,
    pub finish_reason: Option<&'static str>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct OpenAiDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<OpenAiToolCallDelta<'a>>>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct OpenAiToolCallDelta<'a> {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: OpenAiFunctionDelta<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct OpenAiFunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

/// A chat request api-proxy sends (translated from another dialect).
#[derive(Debug, Clone, Serialize)]
pub(super) struct OpenAiChatRequestOut {
    pub model: String,
    pub messages: Vec<OpenAiMessageOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<OpenAiStreamOptionsOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<OpenAiToolOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct OpenAiStreamOptionsOut {
    pub include_usage: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(super) struct OpenAiMessageOut {
    pub role: &'static str,
    /// `null` for an assistant turn that only calls tools.
    pub content: Option<OpenAiContentOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<OpenAiToolCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub(super) enum OpenAiContentOut {
    Text(String),
    Parts(Vec<OpenAiPartOut>),
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum OpenAiPartOut {
    Text { text: String },
    ImageUrl { image_url: OpenAiImageUrlOut },
    File { file: OpenAiFileOut },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(super) struct OpenAiImageUrlOut {
    pub url: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(super) struct OpenAiFileOut {
    pub filename: String,
    /// A `data:` URL.
    pub file_data: String,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct OpenAiToolOut {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: OpenAiFunctionDefOut,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct OpenAiFunctionDefOut {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub parameters: Value,
}

/// A `chat.completion` an upstream sent (to be translated for another dialect's client).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiCompletionIn {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<OpenAiChoiceIn>,
    #[serde(default)]
    pub usage: Option<super::relay::OpenAiUsage>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiChoiceIn {
    #[serde(default)]
    pub message: OpenAiMessageIn,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// An answer's message; DeepSeek, Qwen and others put their reasoning in `reasoning_content`,
/// OpenRouter, Ollama and vLLM in `reasoning`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct OpenAiMessageIn {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<OpenAiToolCall>,
}

/// A `chat.completion.chunk` an upstream sent.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiChunkIn {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<OpenAiChunkChoiceIn>,
    #[serde(default)]
    pub usage: Option<super::relay::OpenAiUsage>,
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiChunkChoiceIn {
    #[serde(default)]
    pub delta: OpenAiDeltaIn,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct OpenAiDeltaIn {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<OpenAiToolCallDeltaIn>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct OpenAiToolCallDeltaIn {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: OpenAiFunctionDeltaIn,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct OpenAiFunctionDeltaIn {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}
