//! OpenAI Responses API wire types, for translated calls only: reading a client's request and
//! writing the `response` object and its stream events. The passthrough never uses them (it
//! forwards bytes and probes only what accounting needs, in `relay.rs`). Requests are read
//! loosely: unknown fields are ignored, and items, parts and tools are flat structs keyed by
//! their `type`, so a type api-proxy does not translate is named in the error rather than lost.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// `POST /v1/responses`, the members a translation reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesRequest {
    #[serde(default)]
    pub input: Option<ResponsesInput>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub tools: Option<Vec<ResponsesTool>>,
    #[serde(default)]
    pub tool_choice: Option<ResponsesToolChoice>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub safety_identifier: Option<String>,
    #[serde(default)]
    pub reasoning: Option<ResponsesReasoning>,
    #[serde(default)]
    pub text: Option<ResponsesTextConfig>,
    // What only the upstream that stores responses can serve.
    #[serde(default)]
    pub previous_response_id: Option<String>,
    #[serde(default)]
    pub conversation: Option<Value>,
    #[serde(default)]
    pub prompt: Option<Value>,
    #[serde(default)]
    pub background: Option<bool>,
}

/// `input`: a user message's text, or a list of items.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum ResponsesInput {
    Text(String),
    Items(Vec<ResponsesItem>),
}

/// One input item: a message (its `type` may be left out), a function call or its output, a
/// reasoning item, or one of the hosted tools' items.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesItem {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub content: Option<ResponsesContent>,
    /// `function_call`, `function_call_output`.
    #[serde(default)]
    pub call_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// `function_call`: a JSON document, as a string.
    #[serde(default)]
    pub arguments: Option<String>,
    /// `function_call_output`: text, or a list of input parts.
    #[serde(default)]
    pub output: Option<ResponsesContent>,
    /// `reasoning`.
    #[serde(default)]
    pub summary: Option<Vec<ResponsesReasoningText>>,
    #[serde(default)]
    pub encrypted_content: Option<String>,
}

/// A message's content: text, or a list of parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum ResponsesContent {
    Text(String),
    Parts(Vec<ResponsesPart>),
}

/// A content part (`input_text`, `input_image`, `input_file`, `output_text`, `refusal`) or a
/// reasoning item's `content` entry (`reasoning_text`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesPart {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub file_id: Option<String>,
    #[serde(default)]
    pub file_data: Option<String>,
    #[serde(default)]
    pub file_url: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct ResponsesReasoningText {
    #[serde(default)]
    pub text: String,
}

/// A tool: a function, or one OpenAI runs itself (`web_search`, `file_search`, …).
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesTool {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum ResponsesToolChoice {
    /// `auto`, `none` or `required`.
    Mode(String),
    /// `{"type": "function", "name"}`, `{"type": "allowed_tools", "mode", "tools"}`, or a
    /// hosted tool's type.
    Typed(ResponsesTypedToolChoice),
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct ResponsesTypedToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub tools: Option<Vec<ResponsesTool>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesReasoning {
    #[serde(default)]
    pub effort: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesTextConfig {
    #[serde(default)]
    pub format: Option<ResponsesTextFormat>,
}

/// `text.format`: `text`, `json_object`, or `json_schema` with its fields beside the type.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesTextFormat {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
}

/// The request settings a `response` object repeats, as the client sent them (raw JSON), with
/// the values the API reports when they were left out.
#[derive(Debug, Clone)]
pub(super) struct ResponsesEcho {
    pub instructions: Box<RawValue>,
    pub max_output_tokens: Box<RawValue>,
    pub max_tool_calls: Box<RawValue>,
    pub metadata: Box<RawValue>,
    pub parallel_tool_calls: Box<RawValue>,
    pub prompt_cache_key: Box<RawValue>,
    pub reasoning: Box<RawValue>,
    pub safety_identifier: Box<RawValue>,
    pub temperature: Box<RawValue>,
    pub text: Box<RawValue>,
    pub tool_choice: Box<RawValue>,
    pub tools: Box<RawValue>,
    pub top_logprobs: Box<RawValue>,
    pub top_p: Box<RawValue>,
    pub truncation: Box<RawValue>,
    pub user: Box<RawValue>,
}

/// The `response` object (`object: "response"`).
#[derive(Debug, Serialize)]
pub(super) struct ResponsesResponse<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created_at: i64,
    pub status: &'static str,
    pub background: bool,
    pub error: Option<ResponsesErrorOut<'a>>,
    pub incomplete_details: Option<ResponsesIncompleteDetails>,
    pub instructions: &'a RawValue,
    pub max_output_tokens: &'a RawValue,
    pub max_tool_calls: &'a RawValue,
    pub model: &'a str,
    pub output: &'a [ResponsesOutputItem],
    pub parallel_tool_calls: &'a RawValue,
    pub previous_response_id: Option<()>,
    pub prompt_cache_key: &'a RawValue,
    pub reasoning: &'a RawValue,
    pub safety_identifier: &'a RawValue,
    pub service_tier: &'static str,
    /// A translated answer is never stored (api-proxy keeps no prompts).
    pub store: bool,
    pub temperature: &'a RawValue,
    pub text: &'a RawValue,
    pub tool_choice: &'a RawValue,
    pub tools: &'a RawValue,
    pub top_logprobs: &'a RawValue,
    pub top_p: &'a RawValue,
    pub truncation: &'a RawValue,
    pub usage: Option<ResponsesUsageOut>,
    pub user: &'a RawValue,
    pub metadata: &'a RawValue,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct ResponsesErrorOut<'a> {
    pub code: &'static str,
    pub message: &'a str,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct ResponsesIncompleteDetails {
    pub reason: &'static str,
}

/// An output item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ResponsesOutputItem {
    Message {
        id: String,
        status: &'static str,
        role: &'static str,
        content: Vec<ResponsesOutputText>,
    },
    FunctionCall {
        id: String,
        status: &'static str,
        arguments: String,
        call_id: String,
        name: String,
    },
    /// The model's reasoning: its text (as `content`, the raw reasoning) and, for Anthropic's
    /// thinking, the signature that proves it (as `encrypted_content`), so a client that sends
    /// the item back gives the next turn what Anthropic needs.
    Reasoning {
        id: String,
        summary: Vec<ResponsesSummaryText>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        content: Vec<ResponsesReasoningTextOut>,
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct ResponsesOutputText {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
    pub annotations: [(); 0],
    pub logprobs: [(); 0],
}

impl ResponsesOutputText {
    pub fn new(text: String) -> Self {
        Self {
            kind: "output_text",
            text,
            annotations: [],
            logprobs: [],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct ResponsesSummaryText {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct ResponsesReasoningTextOut {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
}

impl ResponsesReasoningTextOut {
    pub fn new(text: String) -> Self {
        Self {
            kind: "reasoning_text",
            text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(super) struct ResponsesUsageOut {
    pub input_tokens: i64,
    pub input_tokens_details: ResponsesInputDetailsOut,
    pub output_tokens: i64,
    pub output_tokens_details: ResponsesOutputDetailsOut,
    pub total_tokens: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(super) struct ResponsesInputDetailsOut {
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(super) struct ResponsesOutputDetailsOut {
    pub reasoning_tokens: i64,
}

/// A content part in a stream event: a message's text or a reasoning item's.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub(super) enum ResponsesPartRef<'a> {
    Text(&'a ResponsesOutputText),
    Reasoning(&'a ResponsesReasoningTextOut),
}

/// A stream event's payload (its `type` is also the SSE `event:` name).
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub(super) enum ResponsesEvent<'a> {
    #[serde(rename = "response.created")]
    Created {
        response: ResponsesResponse<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.in_progress")]
    InProgress {
        response: ResponsesResponse<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.completed")]
    Completed {
        response: ResponsesResponse<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.incomplete")]
    Incomplete {
        response: ResponsesResponse<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.failed")]
    Failed {
        response: ResponsesResponse<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        output_index: usize,
        item: &'a ResponsesOutputItem,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        output_index: usize,
        item: &'a ResponsesOutputItem,
        sequence_number: u64,
    },
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded {
        item_id: &'a str,
        output_index: usize,
        content_index: usize,
        part: ResponsesPartRef<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.content_part.done")]
    ContentPartDone {
        item_id: &'a str,
        output_index: usize,
        content_index: usize,
        part: ResponsesPartRef<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        item_id: &'a str,
        output_index: usize,
        content_index: usize,
        delta: &'a str,
        logprobs: [(); 0],
        sequence_number: u64,
    },
    #[serde(rename = "response.output_text.done")]
    OutputTextDone {
        item_id: &'a str,
        output_index: usize,
        content_index: usize,
        text: &'a str,
        logprobs: [(); 0],
        sequence_number: u64,
    },
    #[serde(rename = "response.function_call_arguments.delta")]
    FunctionCallArgumentsDelta {
        item_id: &'a str,
        output_index: usize,
        delta: &'a str,
        sequence_number: u64,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionCallArgumentsDone {
        item_id: &'a str,
        output_index: usize,
        arguments: &'a str,
        sequence_number: u64,
    },
    #[serde(rename = "response.reasoning_text.delta")]
    ReasoningTextDelta {
        item_id: &'a str,
        output_index: usize,
        content_index: usize,
        delta: &'a str,
        sequence_number: u64,
    },
    #[serde(rename = "response.reasoning_text.done")]
    ReasoningTextDone {
        item_id: &'a str,
        output_index: usize,
        content_index: usize,
        text: &'a str,
        sequence_number: u64,
    },
    #[serde(rename = "error")]
    Error {
        code: &'static str,
        message: &'a str,
        param: Option<()>,
        sequence_number: u64,
    },
}

impl ResponsesEvent<'_> {
    /// The event's `type`, for its SSE `event:` line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created { .. } => "response.created",
            Self::InProgress { .. } => "response.in_progress",
            Self::Completed { .. } => "response.completed",
            Self::Incomplete { .. } => "response.incomplete",
            Self::Failed { .. } => "response.failed",
            Self::OutputItemAdded { .. } => "response.output_item.added",
            Self::OutputItemDone { .. } => "response.output_item.done",
            Self::ContentPartAdded { .. } => "response.content_part.added",
            Self::ContentPartDone { .. } => "response.content_part.done",
            Self::OutputTextDelta { .. } => "response.output_text.delta",
            Self::OutputTextDone { .. } => "response.output_text.done",
            Self::FunctionCallArgumentsDelta { .. } => "response.function_call_arguments.delta",
            Self::FunctionCallArgumentsDone { .. } => "response.function_call_arguments.done",
            Self::ReasoningTextDelta { .. } => "response.reasoning_text.delta",
            Self::ReasoningTextDone { .. } => "response.reasoning_text.done",
            Self::Error { .. } => "error",
        }
    }
}

/// The members of a Responses answer (or of a stream event's `response`) the passthrough reads.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ResponsesAnswerProbe {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub store: Option<bool>,
    #[serde(default)]
    pub usage: Option<ResponsesUsageIn>,
    #[serde(default)]
    pub error: Option<ResponsesErrorIn>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesUsageIn {
    #[serde(default, deserialize_with = "crate::adapters::tokens::count")]
    pub input_tokens: i64,
    #[serde(default, deserialize_with = "crate::adapters::tokens::count")]
    pub output_tokens: i64,
    #[serde(default)]
    pub input_tokens_details: Option<ResponsesInputDetailsIn>,
    #[serde(default)]
    pub output_tokens_details: Option<ResponsesOutputDetailsIn>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesOutputDetailsIn {
    #[serde(default, deserialize_with = "crate::adapters::tokens::maybe_count")]
    pub reasoning_tokens: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesInputDetailsIn {
    #[serde(default, deserialize_with = "crate::adapters::tokens::maybe_count")]
    pub cached_tokens: Option<i64>,
    #[serde(default, deserialize_with = "crate::adapters::tokens::maybe_count")]
    pub cache_write_tokens: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct ResponsesErrorIn {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}
