//! `GET /v1/models`: OpenAI's list, or Anthropic's when the request carries `anthropic-version`
//! (as Anthropic's SDKs and Claude Code send it).

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::ClientAuth;
use super::openapi::responses::Unauthorized;
use crate::proxy::models::{anthropic_list, list_models as models_of, ModelListAnswer};
use crate::state::AppState;

/// Lists the models.
///
/// The models reachable with an enabled key, plus the aliases that lead to one (`owned_by` is the
/// provider of a key that serves it). With an `anthropic-version` header, in Anthropic's shape
/// (`data` of `{type: model, id, display_name, created_at}`, `has_more`, `first_id`, `last_id`).
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "openai",
    security(("client_key" = []), ("client_api_key" = []), ()),
    params(("anthropic-version" = Option<String>, Header, description = "Answer in Anthropic's list shape")),
    responses(
        (status = 200, description = "The models", body = ModelListAnswer),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn list_models(
    req: HttpRequest,
    state: web::Data<AppState>,
    _auth: ClientAuth,
) -> HttpResponse {
    let models = models_of(&state);
    if req.headers().contains_key("anthropic-version") {
        return HttpResponse::Ok().json(anthropic_list(models));
    }
    HttpResponse::Ok().json(models)
}
