//! `POST /v1/responses`: OpenAI's Responses API, served natively by keys whose provider has it
//! and translated for every other key (see [`crate::adapters::responses`]).

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ClientAuth;
use super::chat::proxy;
use super::openapi::openai::OpenAiResponsesRequest;
use super::openapi::responses::{ProxyErrors, ResponsesAnswer};
use crate::adapters::responses::RESPONSES;
use crate::error::ApiError;
use crate::state::AppState;

/// Creates a model response (OpenAI's Responses API).
///
/// Plain or streamed (`stream: true`: `response.*` Server-Sent Events, each with a
/// `sequence_number`). Keys whose provider serves the Responses API natively (OpenAI) get the
/// request as sent, with `model` rewritten for an alias, and `previous_response_id` then goes
/// to the key whose account stored that response (503 when that key cannot serve now: no other
/// account has it). Other keys (Anthropic, chat-only vendors, Azure) get it translated; what
/// only OpenAI stores or runs (`previous_response_id`, `conversation`, hosted tools, `file_id`
/// …) is a 400 for them, and their answers are never stored (`store: false`).
#[utoipa::path(
    post,
    path = "/v1/responses",
    tag = "openai",
    security(("client_key" = []), ()),
    request_body = OpenAiResponsesRequest,
    responses(
        (status = 200, response = ResponsesAnswer),
        ProxyErrors,
    )
)]
pub async fn post_responses(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    auth: ClientAuth,
) -> Result<HttpResponse, ApiError> {
    proxy(req, payload, state, client, auth, None, &RESPONSES).await
}
