//! `GET /v1/models`.

use actix_web::{web, HttpResponse};

use super::auth::ClientAuth;
use crate::proxy::models::list_models as models_of;
use crate::state::AppState;

pub async fn list_models(state: web::Data<AppState>, _auth: ClientAuth) -> HttpResponse {
    HttpResponse::Ok().json(models_of(&state))
}
