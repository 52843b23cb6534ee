//! `/api/keys`.

use actix_web::{web, HttpResponse};
use shared::keys::{KeyList, KeyPatch, KeyTestResult, KeyView, NewKey};

use super::auth::AdminAuth;
use super::openapi::responses::{
    BadRequest, InternalError, NotFound, PayloadTooLarge, StorageUnavailable, Unauthorized,
    UnsupportedMediaType,
};
use crate::error::ApiError;
use crate::key_store;
use crate::state::AppState;

/// Lists the provider keys, with their live state and usage; secrets masked.
#[utoipa::path(
    get,
    path = "/api/keys",
    tag = "keys",
    responses(
        (status = 200, description = "The keys", body = KeyList),
        (status = 401, response = Unauthorized),
        (status = 500, response = InternalError),
    )
)]
pub async fn list_keys(state: web::Data<AppState>, _: AdminAuth) -> Result<HttpResponse, ApiError> {
    let data = key_store::list_keys(&state).await?;
    Ok(HttpResponse::Ok().json(KeyList { data }))
}

/// Adds a provider key, sealed under the master key, and starts serving with it.
#[utoipa::path(
    post,
    path = "/api/keys",
    tag = "keys",
    responses(
        (status = 201, description = "The key as stored, secret masked", body = KeyView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = InternalError),
        (status = 503, response = StorageUnavailable),
    )
)]
pub async fn create_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    body: web::Json<NewKey>,
) -> Result<HttpResponse, ApiError> {
    let key = key_store::create_key(&state, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(key))
}

/// Gets one key, with its live state and usage.
#[utoipa::path(
    get,
    path = "/api/keys/{id}",
    tag = "keys",
    responses(
        (status = 200, description = "The key", body = KeyView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
    )
)]
pub async fn get_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(key_store::get_key(&state, id.into_inner()).await?))
}

/// Tests a key with a minimal real call.
///
/// The call goes through this key whatever its state; a success clears its verdict (auth dead,
/// out of credit, cooling). The upstream's failure is reported in the body, not as this request's
/// status.
#[utoipa::path(
    post,
    path = "/api/keys/{id}/test",
    tag = "keys",
    responses(
        (status = 200, description = "What the call returned", body = KeyTestResult),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
    )
)]
pub async fn test_key(
    state: web::Data<AppState>,
    client: web::Data<awc::Client>,
    _: AdminAuth,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(key_store::test_key(&state, &client, id.into_inner()).await?))
}

/// Changes a key.
///
/// Only the fields sent change; `null` clears `base_url`, `priority`, the quotas and
/// `azure_api_version`.
#[utoipa::path(
    patch,
    path = "/api/keys/{id}",
    tag = "keys",
    responses(
        (status = 200, description = "The key as changed", body = KeyView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = InternalError),
        (status = 503, response = StorageUnavailable),
    )
)]
pub async fn update_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    id: web::Path<i32>,
    body: web::Json<KeyPatch>,
) -> Result<HttpResponse, ApiError> {
    let key = key_store::update_key(&state, id.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(key))
}

/// Deletes a key and stops serving with it.
#[utoipa::path(
    delete,
    path = "/api/keys/{id}",
    tag = "keys",
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
        (status = 503, response = StorageUnavailable),
    )
)]
pub async fn delete_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    key_store::delete_key(&state, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
