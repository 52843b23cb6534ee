//! Proxied handlers: chat completions (`/v1`, `/api/v1`, the seed's provider-scoped paths) and
//! embeddings.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::ClientAuth;
use super::body::read_json_body;
use super::openapi::openai::{OpenAiChatCompletionRequest, OpenAiEmbeddingsRequest};
use super::openapi::responses::{ChatCompletionAnswer, EmbeddingsAnswer, ProxyErrors};
use crate::adapters::{openai, ClientDialect};
use crate::error::ApiError;
use crate::proxy::{proxy_call, Call};
use crate::state::AppState;

/// Reads the body and hands the call to the loop, in `dialect`.
pub(super) async fn proxy(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    auth: ClientAuth,
    provider: Option<&str>,
    dialect: &'static dyn ClientDialect,
) -> Result<HttpResponse, ApiError> {
    if let Some(p) = provider {
        if state.catalog.get(p).is_none() {
            return Err(ApiError::NotFound(format!("unknown provider `{p}`")));
        }
    }
    let body = read_json_body(
        &req,
        payload,
        state.config.body_limit_bytes,
        state.config.client_body_timeout,
    )
    .await?;
    proxy_call(
        &state,
        &client,
        Call {
            body,
            dialect,
            headers: dialect.forwarded_headers(req.headers()),
            provider,
            client_key_id: auth.0,
            only_key: None,
            trace_parent: state.traces.client_context(req.headers()),
        },
    )
    .await
}

/// Creates a chat completion.
///
/// Plain or streamed, routed to the best usable key that serves the model (any provider format)
/// and failed over to the next one before the first byte reaches the client.
#[utoipa::path(
    post,
    path = "/v1/chat/completions",
    tag = "openai",
    security(("client_key" = []), ()),
    request_body = OpenAiChatCompletionRequest,
    responses(
        (status = 200, response = ChatCompletionAnswer),
        ProxyErrors,
    )
)]
pub async fn post_chat_completions(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    auth: ClientAuth,
) -> Result<HttpResponse, ApiError> {
    proxy(req, payload, state, client, auth, None, &openai::CHAT).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProviderQuery {
    /// Only keys of this provider (an id such as `openai`).
    #[param(example = "openai")]
    provider: Option<String>,
}

/// Creates a chat completion (the seed's path).
///
/// As `/v1/chat/completions`, restricted to one provider's keys when `provider` is given.
#[utoipa::path(
    post,
    path = "/api/chat/completions",
    tag = "openai",
    security(("client_key" = []), ()),
    params(ProviderQuery),
    request_body = OpenAiChatCompletionRequest,
    responses(
        (status = 200, response = ChatCompletionAnswer),
        ProxyErrors,
    )
)]
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
        &openai::CHAT,
    )
    .await
}

/// Creates a chat completion with one provider's keys (the seed's path).
///
/// As `/v1/chat/completions`, restricted to the keys of the provider in the path.
#[utoipa::path(
    post,
    path = "/api/proxy/{provider}/chat/completions",
    tag = "openai",
    security(("client_key" = []), ()),
    params(("provider" = String, Path, description = "A provider id, e.g. `openai`", example = "openai")),
    request_body = OpenAiChatCompletionRequest,
    responses(
        (status = 200, response = ChatCompletionAnswer),
        ProxyErrors,
    )
)]
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
        &openai::CHAT,
    )
    .await
}

/// Creates embeddings.
///
/// Routed and failed over like chat, by OpenAI, Azure and OpenAI-compatible keys (Anthropic has
/// no embeddings API).
#[utoipa::path(
    post,
    path = "/v1/embeddings",
    tag = "openai",
    security(("client_key" = []), ()),
    request_body = OpenAiEmbeddingsRequest,
    responses(
        (status = 200, response = EmbeddingsAnswer),
        ProxyErrors,
    )
)]
pub async fn post_embeddings(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    auth: ClientAuth,
) -> Result<HttpResponse, ApiError> {
    proxy(req, payload, state, client, auth, None, &openai::EMBEDDINGS).await
}
