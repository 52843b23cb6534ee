//! `/api/keys`.

use actix_web::{web, HttpResponse};
use shared::keys::{KeyList, KeyPatch, NewKey};

use super::auth::AdminAuth;
use crate::error::ApiError;
use crate::key_store;
use crate::state::AppState;

pub async fn list_keys(state: web::Data<AppState>, _: AdminAuth) -> Result<HttpResponse, ApiError> {
    let data = key_store::list_keys(&state).await?;
    Ok(HttpResponse::Ok().json(KeyList { data }))
}

pub async fn create_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    body: web::Json<NewKey>,
) -> Result<HttpResponse, ApiError> {
    let key = key_store::create_key(&state, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(key))
}

pub async fn get_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(key_store::get_key(&state, id.into_inner()).await?))
}

/// `POST /api/keys/{id}/test`
pub async fn test_key(
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    _: AdminAuth,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(key_store::test_key(&state, &client, id.into_inner()).await?))
}

pub async fn update_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    id: web::Path<i32>,
    body: web::Json<KeyPatch>,
) -> Result<HttpResponse, ApiError> {
    let key = key_store::update_key(&state, id.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(key))
}

pub async fn delete_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    key_store::delete_key(&state, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
