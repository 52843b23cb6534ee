//! The one model every dialect converts to and from: a request, a response, the events of a
//! streamed response, and an upstream's error. It is shaped after Anthropic's Messages API (the
//! richest of the dialects: content blocks, thinking, tool results inside user turns), with
//! usage in [`TokenUsage`]'s convention.
//!
//! Only translated calls meet this model. A call whose client and key speak the same dialect is
//! passed through as bytes and never converted.

use serde_json::Value;

use crate::routing::TokenUsage;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One part of a message's (or an answer's) content.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text {
        text: String,
    },
    Image {
        source: MediaSource,
    },
    /// A PDF or text document given to the model.
    Document {
        source: MediaSource,
        title: Option<String>,
    },
    ToolUse {
        id: String,
        name: String,
        /// The arguments, a JSON object.
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: Vec<Block>,
        is_error: bool,
    },
    /// The model's visible reasoning; `signature` proves it unaltered (Anthropic) and is empty
    /// when the upstream gives none.
    Thinking {
        thinking: String,
        signature: String,
    },
    /// Reasoning the upstream encrypted; meaningful only to the vendor that made it.
    RedactedThinking {
        data: String,
    },
    /// A block type this model does not carry (the client's `type` is kept for the error).
    Unsupported {
        kind: String,
    },
}

/// Where an image's or a document's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    /// Plain text (a text document).
    Text {
        media_type: String,
        data: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// The arguments' JSON schema; `None` when the client gave none.
    pub input_schema: Option<Value>,
    /// A tool the vendor runs itself (Anthropic's `web_search_20250305`, …): its type.
    pub server_kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    Auto,
    /// Some tool must be used.
    Any,
    /// This tool must be used.
    Tool(String),
    None,
}

/// `json_object`, or `json_schema` with its schema document.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseFormat {
    pub kind: String,
    pub json_schema: Option<Value>,
}

/// A request, whichever dialect it came in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// System instructions, in order.
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)`: at most one tool call per turn.
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u32>,
    pub stop: Vec<String>,
    pub stream: bool,
    /// An end-user id for the vendor's abuse monitoring.
    pub user: Option<String>,
    pub response_format: Option<ResponseFormat>,
    /// Extended thinking asked for, with this many tokens of budget.
    pub thinking_budget: Option<u32>,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    ToolUse,
    Refusal,
    PauseTurn,
    ContextWindowExceeded,
    /// A reason this model does not know, as the upstream wrote it.
    Other(String),
}

/// A complete (non-streamed) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub id: String,
    pub model: String,
    pub content: Vec<Block>,
    pub stop_reason: Option<StopReason>,
    pub stop_sequence: Option<String>,
    pub usage: TokenUsage,
}

/// What a streamed content block is, as it opens.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockStart {
    /// Text, possibly with some already.
    Text(String),
    ToolUse {
        id: String,
        name: String,
    },
    Thinking,
    RedactedThinking {
        data: String,
    },
    /// A block type this model does not carry: skipped by renderers that cannot show it.
    Other,
}

/// A piece of a streamed content block.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockDelta {
    Text(String),
    /// A piece of a tool call's arguments (JSON text).
    InputJson(String),
    Thinking(String),
    Signature(String),
    Other,
}

/// One event of a streamed answer. Blocks are numbered from 0 in the order they open; at most
/// one is open at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The answer begins; `usage` is what is known so far.
    Start {
        id: String,
        model: String,
        usage: TokenUsage,
    },
    BlockStart {
        index: u32,
        block: BlockStart,
    },
    BlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    BlockStop {
        index: u32,
    },
    /// The answer's end is known; `usage` is the total so far (every count is cumulative).
    Finish {
        stop_reason: Option<StopReason>,
        usage: TokenUsage,
    },
    /// The answer is complete: the client's terminator follows.
    Stop,
    Ping,
}

/// What kind of failure an upstream (or api-proxy) reports, in the vendors' shared vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    Billing,
    Permission,
    NotFound,
    RequestTooLarge,
    RateLimit,
    Api,
    Timeout,
    Overloaded,
}

/// An upstream's error answer, understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The upstream's HTTP status.
    pub status: u16,
    /// `None` when the upstream's words were not understood (not JSON, an unknown type).
    pub kind: Option<ErrorKind>,
    pub message: String,
    /// The upstream's own machine-readable code or type, if it gave one.
    pub code: Option<String>,
}

/// How a stream failed: the message is for people, the kind for the client's SDK.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamFailure {
    pub kind: ErrorKind,
    pub message: String,
    /// The client already has the upstream's own error event (a passthrough relayed it).
    pub delivered: bool,
}

impl StreamFailure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            delivered: false,
        }
    }
}
