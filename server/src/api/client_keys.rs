//! `/api/client_keys`: access keys for `/v1`, shown once and stored as hashes.

use actix_web::{web, HttpResponse};
use shared::client_keys::{ClientKeyCreated, ClientKeyList, ClientKeyView, NewClientKey};

use super::auth::AdminAuth;
use super::openapi::responses::{
    BadRequest, InternalError, NotFound, PayloadTooLarge, StorageUnavailable, Unauthorized,
    UnsupportedMediaType,
};
use crate::crypto::{random_token, sha256_hex};
use crate::db::client_keys::{self, NewClientKeyRow};
use crate::db::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

const PREFIX_LEN: usize = 10;

/// Creates a client key for `/v1`.
///
/// The key is in this answer only: just its hash is stored.
#[utoipa::path(
    post,
    path = "/api/client_keys",
    tag = "config",
    responses(
        (status = 201, description = "The new key", body = ClientKeyCreated),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = InternalError),
        (status = 503, response = StorageUnavailable),
    )
)]
pub async fn create_client_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    body: web::Json<NewClientKey>,
) -> Result<HttpResponse, ApiError> {
    let name = body.into_inner().name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest {
            message: "name must be 1 to 100 characters".into(),
            param: Some("name".into()),
        });
    }
    let key = random_token("apx-");
    let hash = sha256_hex(&key);
    let prefix: String = key.chars().take(PREFIX_LEN).collect();
    let created_at = now_ms();
    let (n, h, p) = (name.clone(), hash.clone(), prefix);
    let row = state
        .db
        .run(move |conn| {
            client_keys::insert(
                conn,
                &NewClientKeyRow {
                    name: &n,
                    key_hash: &h,
                    prefix: &p,
                    created_at,
                },
            )
        })
        .await?;
    state.client_keys.insert(hash, row.id);
    Ok(HttpResponse::Created().json(ClientKeyCreated {
        id: i64::from(row.id),
        name,
        key,
        created_at,
    }))
}

/// Lists the client keys, each shown by its first characters.
#[utoipa::path(
    get,
    path = "/api/client_keys",
    tag = "config",
    responses(
        (status = 200, description = "The client keys", body = ClientKeyList),
        (status = 401, response = Unauthorized),
        (status = 500, response = InternalError),
    )
)]
pub async fn list_client_keys(
    state: web::Data<AppState>,
    _: AdminAuth,
) -> Result<HttpResponse, ApiError> {
    let rows = state.db.run(client_keys::list).await?;
    let data = rows
        .into_iter()
        .map(|r| ClientKeyView {
            id: i64::from(r.id),
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ClientKeyList { data }))
}

/// Revokes a client key at once.
#[utoipa::path(
    delete,
    path = "/api/client_keys/{id}",
    tag = "config",
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
        (status = 503, response = StorageUnavailable),
    )
)]
pub async fn delete_client_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !state
        .db
        .run(move |conn| client_keys::delete(conn, id))
        .await?
    {
        return Err(ApiError::NotFound(format!("no client key with id {id}")));
    }
    state.client_keys.retain(|_, v| *v != id);
    Ok(HttpResponse::NoContent().finish())
}
