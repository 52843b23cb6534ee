//! Anthropic's Messages API: `POST /v1/messages` and `POST /v1/messages/count_tokens` (also under
//! `/api/v1`; `?beta=true` is accepted, as Anthropic's SDKs send it for beta calls). Errors,
//! api-proxy's own included, are Anthropic-shaped ([`render_as_messages`]).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpRequest, HttpResponse};

use super::auth::ClientAuth;
use super::body::read_json_body;
use super::chat::proxy;
use super::openapi::anthropic::{
    AnthropicCountTokensRequest, AnthropicMessagesRequest, CountTokensAnswer, MessagesAnswer,
    MessagesErrors,
};
use crate::adapters::anthropic;
use crate::error::ApiError;
use crate::proxy::count_tokens::count_tokens;
use crate::state::AppState;

/// Creates a message.
///
/// Anthropic's Messages API. Served by Anthropic keys as a passthrough (the request and the
/// answer as they are; `anthropic-version` and `anthropic-beta` forwarded), and by OpenAI-format
/// keys through translation when the model maps there.
#[utoipa::path(
    post,
    path = "/v1/messages",
    tag = "anthropic",
    security(("client_key" = []), ("client_api_key" = []), ()),
    request_body = AnthropicMessagesRequest,
    responses(
        (status = 200, response = MessagesAnswer),
        MessagesErrors,
    )
)]
pub async fn post_messages(
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
        &anthropic::MESSAGES,
    )
    .await
}

/// Counts a message's input tokens.
///
/// Exact from an Anthropic key; for a model served by another provider, an estimate
/// (`x-api-proxy-estimate: true`). Free: no quota is spent and no call is logged.
#[utoipa::path(
    post,
    path = "/v1/messages/count_tokens",
    tag = "anthropic",
    security(("client_key" = []), ("client_api_key" = []), ()),
    request_body = AnthropicCountTokensRequest,
    responses(
        (status = 200, response = CountTokensAnswer),
        MessagesErrors,
    )
)]
pub async fn post_count_tokens(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    _auth: ClientAuth,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_body(
        &req,
        payload,
        state.config.body_limit_bytes,
        state.config.client_body_timeout,
    )
    .await?;
    let headers = anthropic::forwarded_headers(req.headers());
    count_tokens(&state, &client, body, headers).await
}

/// `POST /v1/messages` and its `count_tokens`, under `/v1` or `/api/v1`: the paths whose errors
/// take Anthropic's shape.
pub fn is_messages_path(path: &str) -> bool {
    path.ends_with("/v1/messages") || path.ends_with("/v1/messages/count_tokens")
}

/// Renders every api-proxy error of the wrapped routes (the handler's, an extractor's, a 405)
/// in the Messages dialect: the one place this surface's errors take Anthropic's shape.
pub async fn render_as_messages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let response = next.call(req).await?;
    let restyled = response
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .map(|e| e.response_for(&anthropic::MESSAGES));
    Ok(match restyled {
        Some(restyled) => {
            let (req, _) = response.into_parts();
            ServiceResponse::new(req, restyled).map_into_right_body()
        }
        None => response.map_into_left_body(),
    })
}
