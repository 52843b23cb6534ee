//! The admin REST API (`/api/...`, same origin): every request carries the admin token, answers
//! are the `shared` types, and a 401 from any call signs the user out.

use std::rc::Rc;

use gloo_net::http::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::live::LiveTicket;
use yew::Callback;

use crate::i18n::{Lang, Text};

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401: the token is wrong, or the server was restarted with another one.
    Unauthorized,
    /// The server answered with an error status; `message` is its `error.message`.
    Status { status: u16, message: String },
    /// No answer at all (server down, connection refused).
    Network(String),
    /// An answer we could not read.
    Decode(String),
}

impl ApiError {
    /// What the user reads.
    pub fn describe(&self, lang: Lang) -> String {
        match self {
            ApiError::Unauthorized => lang.t(Text::WrongToken).to_owned(),
            ApiError::Status {
                status: 404 | 405,
                message,
            } => {
                format!("{} ({message})", lang.t(Text::ErrNotAvailable))
            }
            ApiError::Status { status, message } => {
                format!("{} ({status}): {message}", lang.t(Text::ErrServer))
            }
            ApiError::Network(detail) => format!("{} ({detail})", lang.t(Text::ErrNetwork)),
            ApiError::Decode(detail) => format!("{} ({detail})", lang.t(Text::ErrDecode)),
        }
    }
}

/// The server's error envelope, `{"error": {"message", "type", "param", "code"}}`: only what
/// the dashboard shows is read.
#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

/// A handle on the API for one signed-in session.
#[derive(Clone)]
pub struct Api {
    token: Rc<str>,
    /// Called on any 401.
    on_unauthorized: Callback<()>,
}

impl PartialEq for Api {
    fn eq(&self, other: &Self) -> bool {
        self.token == other.token && self.on_unauthorized == other.on_unauthorized
    }
}

impl Api {
    pub fn new(token: Rc<str>, on_unauthorized: Callback<()>) -> Self {
        Api {
            token,
            on_unauthorized,
        }
    }

    /// The sign-in form's check: `GET /api/keys` with `token`, without signing anyone out on a 401.
    pub async fn check_token(token: &str) -> Result<(), ApiError> {
        let response = authorized(RequestBuilder::new("/api/keys"), token)
            .send()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))?;
        match response.status() {
            200..=299 => Ok(()),
            401 => Err(ApiError::Unauthorized),
            _ => Err(error_of(&response).await),
        }
    }

    /// A single-use ticket for the live feed's websocket (`POST /api/live/ticket` with `token`),
    /// so the token itself never travels in a URL. A 401 signs nobody out here: the REST calls
    /// of the same session do.
    pub async fn live_ticket(token: &str) -> Result<LiveTicket, ApiError> {
        let builder = RequestBuilder::new("/api/live/ticket").method(Method::POST);
        let response = authorized(builder, token)
            .send()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))?;
        match response.status() {
            200..=299 => read_json(&response).await,
            401 => Err(ApiError::Unauthorized),
            _ => Err(error_of(&response).await),
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let response = self.send(Method::GET, path, None::<&()>).await?;
        read_json(&response).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let response = self.send(Method::POST, path, Some(body)).await?;
        read_json(&response).await
    }

    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let response = self.send(Method::PATCH, path, Some(body)).await?;
        read_json(&response).await
    }

    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let response = self.send(Method::PUT, path, Some(body)).await?;
        read_json(&response).await
    }

    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        self.send(Method::DELETE, path, None::<&()>).await.map(drop)
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, ApiError> {
        let builder = authorized(RequestBuilder::new(path).method(method), &self.token);
        let request = match body {
            Some(body) => builder
                .json(body)
                .map_err(|e| ApiError::Decode(e.to_string()))?,
            None => builder
                .build()
                .map_err(|e| ApiError::Network(e.to_string()))?,
        };
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::Network(e.to_string()))?;
        match response.status() {
            200..=299 => Ok(response),
            401 => {
                self.on_unauthorized.emit(());
                Err(ApiError::Unauthorized)
            }
            _ => Err(error_of(&response).await),
        }
    }
}

fn authorized(builder: RequestBuilder, token: &str) -> RequestBuilder {
    builder
        .header("Authorization", &format!("Bearer {token}"))
        .header("Accept", "application/json")
}

async fn read_json<T: DeserializeOwned>(response: &Response) -> Result<T, ApiError> {
    let text = response
        .text()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| ApiError::Decode(e.to_string()))
}

async fn error_of(response: &Response) -> ApiError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorEnvelope>(&text)
        .map(|e| e.error.message)
        .unwrap_or_else(|_| {
            let text = text.trim();
            if text.is_empty() {
                response.status_text()
            } else {
                text.chars().take(200).collect()
            }
        });
    ApiError::Status { status, message }
}
