//! `GET/PUT /api/settings`.

use actix_web::{web, HttpResponse};
use shared::settings::{Settings, SettingsPatch};

use super::auth::AdminAuth;
use super::openapi::responses::{
    BadRequest, InternalError, PayloadTooLarge, StorageUnavailable, Unauthorized,
    UnsupportedMediaType,
};
use crate::db::settings as stored;
use crate::error::ApiError;
use crate::state::AppState;

/// Gets the runtime settings.
#[utoipa::path(
    get,
    path = "/api/settings",
    tag = "config",
    responses(
        (status = 200, description = "The settings in force", body = Settings),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn get_settings(state: web::Data<AppState>, _: AdminAuth) -> HttpResponse {
    HttpResponse::Ok().json(state.settings().as_ref())
}

/// Changes the runtime settings: the fields sent replace the stored ones.
#[utoipa::path(
    put,
    path = "/api/settings",
    tag = "config",
    responses(
        (status = 200, description = "The settings now in force", body = Settings),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = InternalError),
        (status = 503, response = StorageUnavailable),
    )
)]
pub async fn update_settings(
    state: web::Data<AppState>,
    _: AdminAuth,
    body: web::Json<SettingsPatch>,
) -> Result<HttpResponse, ApiError> {
    let next = state
        .settings()
        .patched(body.into_inner())
        .map_err(ApiError::bad_request)?;
    let to_store = next.clone();
    state
        .db
        .run(move |conn| stored::save(conn, &to_store))
        .await?;
    state.replace_settings(next.clone());
    Ok(HttpResponse::Ok().json(next))
}
