//! `GET/PUT /api/settings`.

use actix_web::{web, HttpResponse};
use shared::settings::SettingsPatch;

use super::auth::AdminAuth;
use crate::db::settings as stored;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn get_settings(state: web::Data<AppState>, _: AdminAuth) -> HttpResponse {
    HttpResponse::Ok().json(state.settings().as_ref())
}

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
