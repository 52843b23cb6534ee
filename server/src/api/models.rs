//! `GET /v1/models`.

use actix_web::{web, HttpResponse};

use super::auth::ClientAuth;
use super::openapi::responses::Unauthorized;
use crate::proxy::models::{list_models as models_of, ModelList};
use crate::state::AppState;

/// Lists the models.
///
/// The models reachable with an enabled key, plus the aliases that lead to one (`owned_by` is the
/// provider of a key that serves it).
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "openai",
    security(("client_key" = []), ()),
    responses(
        (status = 200, description = "The models", body = ModelList),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn list_models(state: web::Data<AppState>, _auth: ClientAuth) -> HttpResponse {
    HttpResponse::Ok().json(models_of(&state))
}
