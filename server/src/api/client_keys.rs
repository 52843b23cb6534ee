//! `/api/client_keys`: access keys for `/v1`, shown once and stored as hashes.

use actix_web::{web, HttpResponse};
use shared::client_keys::{ClientKeyCreated, ClientKeyList, ClientKeyView, NewClientKey};

use super::auth::AdminAuth;
use crate::crypto::{random_token, sha256_hex};
use crate::db::client_keys::{self, NewClientKeyRow};
use crate::db::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

const PREFIX_LEN: usize = 10;

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
