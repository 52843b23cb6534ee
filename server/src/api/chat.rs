//! Proxied handlers: chat completions (`/v1`, `/api/v1`, the seed's provider-scoped paths) and
//! embeddings.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::auth::ClientAuth;
use super::body::read_json_body;
use crate::error::ApiError;
use crate::proxy::{chat_completions, ChatCall, Operation};
use crate::state::AppState;

async fn proxy(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    auth: ClientAuth,
    provider: Option<&str>,
    operation: Operation,
) -> Result<HttpResponse, ApiError> {
    if let Some(p) = provider {
        if state.catalog.get(p).is_none() {
            return Err(ApiError::NotFound(format!("unknown provider `{p}`")));
        }
    }
    let body = read_json_body(&req, payload, state.config.body_limit_bytes).await?;
    chat_completions(
        &state,
        &client,
        ChatCall {
            body,
            provider,
            client_key_id: auth.0,
            operation,
            only_key: None,
        },
    )
    .await
}

pub async fn post_chat_completions(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    auth: ClientAuth,
) -> Result<HttpResponse, ApiError> {
    proxy(req, payload, state, client, auth, None, Operation::Chat).await
}

#[derive(Deserialize)]
pub struct ProviderQuery {
    provider: Option<String>,
}

/// `POST /api/chat/completions?provider=openai`
pub async fn post_chat_completions_seed(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    auth: ClientAuth,
    query: web::Query<ProviderQuery>,
) -> Result<HttpResponse, ApiError> {
    let provider = query.into_inner().provider;
    proxy(
        req,
        payload,
        state,
        client,
        auth,
        provider.as_deref(),
        Operation::Chat,
    )
    .await
}

/// `POST /api/proxy/{provider}/chat/completions`
pub async fn post_chat_completions_for_provider(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    auth: ClientAuth,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let provider = path.into_inner();
    proxy(
        req,
        payload,
        state,
        client,
        auth,
        Some(&provider),
        Operation::Chat,
    )
    .await
}

/// `POST /v1/embeddings`
pub async fn post_embeddings(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    auth: ClientAuth,
) -> Result<HttpResponse, ApiError> {
    proxy(
        req,
        payload,
        state,
        client,
        auth,
        None,
        Operation::Embeddings,
    )
    .await
}
