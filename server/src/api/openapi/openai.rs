//! Schemas of the OpenAI-compatible bodies, for the description only. The proxy never builds or
//! parses these types: it reads the few fields it needs straight from the bytes
//! (`adapters::openai`) and forwards the rest as it came, so they are deliberately loose — the
//! fields api-proxy relies on are required, everything else is the vendor's business and extra
//! fields are allowed.

use serde_json::Value;
use utoipa::ToSchema;

/// `POST /v1/chat/completions`: OpenAI's request. Fields not listed here are forwarded to the
/// upstream as they are (translated for Anthropic keys).
#[derive(ToSchema)]
#[schema(example = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello!"}]}))]
pub struct OpenAiChatCompletionRequest {
    /// The model to route; a key that serves it, or one of its equivalents, answers.
    #[schema(example = "gpt-4o")]
    pub model: String,
    pub messages: Vec<OpenAiChatMessage>,
    /// Answer as a stream of Server-Sent Events (`text/event-stream`).
    pub stream: Option<bool>,
    /// `include_usage: true` keeps the final usage chunk of a stream.
    pub stream_options: Option<OpenAiStreamOptions>,
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    #[schema(minimum = 1)]
    pub max_tokens: Option<u32>,
    /// Function tools, in OpenAI's shape.
    pub tools: Option<Vec<Value>>,
}

#[derive(ToSchema)]
pub struct OpenAiStreamOptions {
    pub include_usage: Option<bool>,
}

/// One message of the conversation.
#[derive(ToSchema)]
pub struct OpenAiChatMessage {
    pub role: OpenAiRole,
    /// A string, or an array of content parts (`text`, `image_url`); `null` for an assistant
    /// message with only `tool_calls`.
    #[schema(example = "Hello!")]
    pub content: Option<Value>,
    /// On `tool` messages: the call this answers.
    pub tool_call_id: Option<String>,
    /// On `assistant` messages: the tool calls it made.
    pub tool_calls: Option<Vec<Value>>,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OpenAiRole {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

/// A `chat.completion`: the upstream's answer (translated from Anthropic's for Anthropic keys).
#[derive(ToSchema)]
pub struct OpenAiChatCompletion {
    pub id: String,
    /// `chat.completion`
    pub object: String,
    /// Unix seconds.
    pub created: i64,
    /// The model that actually answered.
    pub model: String,
    pub choices: Vec<OpenAiChatChoice>,
    pub usage: Option<OpenAiUsage>,
}

/// One Server-Sent Event of a streamed answer (`text/event-stream`).
#[derive(ToSchema)]
pub struct OpenAiChatStreamEvent {
    /// A `chat.completion.chunk` as JSON; `[DONE]` at the end. A stream that breaks after its
    /// first byte ends with an OpenAI-shaped `{"error": …}` instead of `[DONE]`.
    pub data: String,
}

#[derive(ToSchema)]
pub struct OpenAiChatChoice {
    pub index: u32,
    pub message: OpenAiAssistantMessage,
    /// `stop`, `length`, `tool_calls`, `content_filter`.
    pub finish_reason: Option<String>,
}

#[derive(ToSchema)]
pub struct OpenAiAssistantMessage {
    /// `assistant`
    pub role: String,
    pub content: Option<String>,
    pub tool_calls: Option<Vec<Value>>,
}

#[derive(ToSchema)]
pub struct OpenAiUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: Option<u64>,
    pub total_tokens: u64,
}

/// `POST /v1/embeddings`: OpenAI's request; other fields (`dimensions`, `encoding_format`, …)
/// are forwarded as they are.
#[derive(ToSchema)]
#[schema(example = json!({"model": "text-embedding-3-small", "input": ["Hello!", "Bonjour !"]}))]
pub struct OpenAiEmbeddingsRequest {
    #[schema(example = "text-embedding-3-small")]
    pub model: String,
    pub input: OpenAiEmbeddingsInput,
}

/// What to embed: one text, several, or token ids.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum OpenAiEmbeddingsInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

/// The upstream's answer: one embedding per input.
#[derive(ToSchema)]
pub struct OpenAiEmbeddingList {
    /// `list`
    pub object: String,
    pub data: Vec<OpenAiEmbedding>,
    pub model: String,
    pub usage: Option<OpenAiUsage>,
}

#[derive(ToSchema)]
pub struct OpenAiEmbedding {
    /// `embedding`
    pub object: String,
    pub index: u32,
    /// Floats, or a base64 string when the request asked for `encoding_format: "base64"`.
    pub embedding: Value,
}

/// `POST /v1/responses`: OpenAI's Responses API request. Fields not listed here (`include`,
/// `store`, `metadata`, `text`, `reasoning`, `prompt_cache_key`, …) are forwarded as they are to
/// keys that speak the Responses API natively, and translated (or refused with a 400 saying why)
/// for the others.
#[derive(ToSchema)]
#[schema(example = json!({"model": "gpt-4o", "input": "Hello!"}))]
pub struct OpenAiResponsesRequest {
    /// The model to route; a key that serves it, or one of its equivalents, answers.
    #[schema(example = "gpt-4o")]
    pub model: String,
    /// The user's text, or a list of input items (messages with `input_text` / `input_image` /
    /// `input_file` parts, `function_call`, `function_call_output`, `reasoning`, …).
    pub input: Option<Value>,
    /// System instructions for this turn.
    pub instructions: Option<String>,
    /// Answer as a stream of Server-Sent Events (`text/event-stream`).
    pub stream: Option<bool>,
    /// A response to continue. Only the key whose account stored it can serve the request.
    pub previous_response_id: Option<String>,
    /// Whether the upstream stores the answer (OpenAI's default: true). Translated answers are
    /// never stored.
    pub store: Option<bool>,
    #[schema(minimum = 1)]
    pub max_output_tokens: Option<u32>,
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    /// Function tools (`{"type": "function", "name", "parameters"}`); OpenAI's hosted tools for
    /// keys that speak the Responses API natively.
    pub tools: Option<Vec<Value>>,
    /// `auto`, `none`, `required`, or `{"type": "function", "name"}`.
    pub tool_choice: Option<Value>,
}

/// A `response` object: the upstream's answer (translated for keys of other formats).
#[derive(ToSchema)]
pub struct OpenAiResponse {
    /// `resp_…`
    pub id: String,
    /// `response`
    pub object: String,
    /// Unix seconds.
    pub created_at: i64,
    /// `completed`, `incomplete`, `failed`, `in_progress`.
    pub status: String,
    /// The model that actually answered.
    pub model: String,
    /// Output items: `message` (with `output_text` parts), `function_call`, `reasoning`, ….
    pub output: Vec<Value>,
    /// `input_tokens` (with `input_tokens_details.cached_tokens`), `output_tokens` (with
    /// `output_tokens_details.reasoning_tokens`), `total_tokens`.
    pub usage: Option<Value>,
}

/// One Server-Sent Event of a streamed response (`text/event-stream`): `event: <type>` and the
/// event as JSON, from `response.created` to `response.completed` (or `response.incomplete`),
/// each with a `sequence_number`. A stream that fails after its first byte ends with
/// `response.failed` and/or an `error` event.
#[derive(ToSchema)]
pub struct OpenAiResponsesStreamEvent {
    /// The event's type, e.g. `response.output_text.delta`.
    pub event: String,
    /// The event as JSON.
    pub data: String,
}
