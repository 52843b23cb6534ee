//! The client surfaces (dialects) api-proxy serves, for tests that must behave the same from
//! every one of them: routing, failover, quotas and costs. Adding a surface is one entry in
//! [`SURFACES`] and its arms in [`Surface`]'s methods.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use super::{Reply, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `POST /v1/chat/completions`
    Chat,
    /// `POST /v1/messages`, translated for OpenAI-format keys.
    Messages,
    /// `POST /v1/responses`, passed through to OpenAI keys.
    Responses,
}

/// Every surface a routing test runs on.
pub const SURFACES: &[Surface] = &[Surface::Chat, Surface::Messages, Surface::Responses];

impl Surface {
    /// A request for `model` saying hello, in this surface's dialect.
    pub fn body(self, model: &str) -> Value {
        match self {
            Self::Chat => super::chat_body(model),
            Self::Messages => super::messages_body(model),
            Self::Responses => json!({"model": model, "input": "Say hello"}),
        }
    }

    /// A request whose conversation is `messages` (`role`/`content` pairs, the first a system
    /// prompt).
    pub fn conversation(self, model: &str, messages: &[(&str, String)]) -> Value {
        match self {
            Self::Chat => json!({"model": model, "messages": messages
                .iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect::<Vec<_>>()}),
            Self::Messages => json!({"model": model, "max_tokens": 256,
                "system": messages.iter().find(|(r, _)| *r == "system").map(|(_, c)| c.clone()),
                "messages": messages
                    .iter()
                    .filter(|(role, _)| *role != "system")
                    .map(|(role, content)| json!({"role": role, "content": content}))
                    .collect::<Vec<_>>()}),
            Self::Responses => json!({"model": model,
                "instructions": messages.iter().find(|(r, _)| *r == "system").map(|(_, c)| c.clone()),
                "input": messages
                    .iter()
                    .filter(|(role, _)| *role != "system")
                    .map(|(role, content)| json!({"role": role, "content": content}))
                    .collect::<Vec<_>>()}),
        }
    }

    pub async fn send(self, app: &TestApp, body: Value) -> Reply {
        match self {
            Self::Chat => app.chat(body).await,
            Self::Messages => app.messages(body).await,
            Self::Responses => {
                app.request("POST", "/v1/responses", Some("any-client-key"), Some(body))
                    .await
            }
        }
    }

    /// Sends [`Surface::body`] for `model`.
    pub async fn call(self, app: &TestApp, model: &str) -> Reply {
        self.send(app, self.body(model)).await
    }

    /// The call log's `endpoint` for this surface.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::Chat => "chat/completions",
            Self::Messages => "messages",
            Self::Responses => "responses",
        }
    }

    /// The status when no key can take the call now (Anthropic's clients get "overloaded").
    pub fn no_key_status(self) -> StatusCode {
        match self {
            Self::Chat | Self::Responses => StatusCode::SERVICE_UNAVAILABLE,
            Self::Messages => StatusCode::from_u16(529).unwrap(),
        }
    }

    /// Asserts `reply` is this surface's error for every key being rate-limited.
    pub fn assert_all_keys_throttled(self, reply: &Reply) {
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            reply.text
        );
        match self {
            Self::Chat | Self::Responses => {
                assert_eq!(reply.error_code(), Some("all_keys_rate_limited"))
            }
            Self::Messages => assert_eq!(reply.anthropic_error_type(), "rate_limit_error"),
        }
    }
}
