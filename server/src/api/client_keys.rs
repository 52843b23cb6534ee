//! `/api/client_keys`: access keys for `/v1` with their limits. A key is shown once, on
//! creation, and stored as a hash; revoking keeps the row (so the key gets a clear 401 and its
//! history keeps its name).

use actix_web::{web, HttpResponse};
use shared::client_keys::{
    BudgetPeriod, ClientKeyChanges, ClientKeyCreated, ClientKeyList, ClientKeyView, NewClientKey,
};

use super::auth::AdminAuth;
use super::openapi::responses::{
    BadRequest, InternalError, NotFound, PayloadTooLarge, StorageUnavailable, Unauthorized,
    UnsupportedMediaType,
};
use crate::client_limits::ClientKeys;
use crate::crypto::{random_token, sha256_hex};
use crate::db::client_keys::{self, ClientKeyLimitsRow, ClientKeyRow, NewClientKeyRow};
use crate::db::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

const PREFIX_LEN: usize = 10;
const MAX_MODELS: usize = 200;
const MAX_NOTE_CHARS: usize = 2000;

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        message: message.into(),
        param: Some(param.to_owned()),
    }
}

fn count(param: &str, value: Option<u32>) -> Result<Option<i32>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if v >= 1 && v <= i32::MAX as u32 => Ok(Some(v as i32)),
        Some(_) => Err(invalid(
            param,
            format!("{param} must be at least 1 (or null for no limit)"),
        )),
    }
}

/// Checks and normalises every limit of a key, as it will be stored.
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per limit, named at the call"
)]
fn limits_row(
    name: &str,
    budget_usd: Option<f64>,
    budget_period: BudgetPeriod,
    rpm: Option<u32>,
    tpm: Option<u32>,
    max_parallel: Option<u32>,
    models: Option<Vec<String>>,
    expires_at: Option<i64>,
    enabled: bool,
    note: Option<String>,
) -> Result<ClientKeyLimitsRow, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid("name", "name must be 1 to 100 characters"));
    }
    if budget_usd.is_some_and(|b| !b.is_finite() || b < 0.0) {
        return Err(invalid(
            "budget_usd",
            "budget_usd must be a number of USD, 0 or more",
        ));
    }
    let models = match models {
        None => None,
        Some(list) => {
            let list: Vec<String> = list.iter().map(|m| m.trim().to_owned()).collect();
            if list.len() > MAX_MODELS || list.iter().any(|m| m.is_empty() || m.len() > 200) {
                return Err(invalid(
                    "models",
                    format!("models must be at most {MAX_MODELS} non-empty model ids or globs"),
                ));
            }
            Some(serde_json::to_string(&list).expect("strings serialise"))
        }
    };
    if expires_at.is_some_and(|at| at < 0) {
        return Err(invalid(
            "expires_at",
            "expires_at must be Unix milliseconds",
        ));
    }
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(invalid(
            "note",
            format!("note must be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(ClientKeyLimitsRow {
        name: name.to_owned(),
        budget_usd,
        budget_period: budget_period.as_str().to_owned(),
        rpm: count("rpm", rpm)?,
        tpm: count("tpm", tpm)?,
        max_parallel: count("max_parallel", max_parallel)?,
        models,
        expires_at,
        enabled,
        note,
    })
}

fn unsigned(v: Option<i32>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

fn view(row: ClientKeyRow, keys: &ClientKeys, now: i64) -> ClientKeyView {
    let usage = keys.get(row.id).map(|k| k.usage(now)).unwrap_or_default();
    ClientKeyView {
        id: i64::from(row.id),
        models: row
            .models
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok()),
        name: row.name,
        prefix: row.prefix,
        created_at: row.created_at,
        budget_usd: row.budget_usd,
        budget_period: BudgetPeriod::parse(&row.budget_period),
        rpm: unsigned(row.rpm),
        tpm: unsigned(row.tpm),
        max_parallel: unsigned(row.max_parallel),
        expires_at: row.expires_at,
        enabled: row.enabled,
        note: row.note,
        revoked_at: row.revoked_at,
        usage,
    }
}

/// Creates a client key for `/v1`, with its limits.
///
/// The key is in this answer only: just its hash is stored.
#[utoipa::path(
    post,
    path = "/api/client_keys",
    tag = "config",
    request_body = NewClientKey,
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
    let b = body.into_inner();
    let limits = limits_row(
        &b.name,
        b.budget_usd,
        b.budget_period,
        b.rpm,
        b.tpm,
        b.max_parallel,
        b.models,
        b.expires_at,
        b.enabled,
        b.note,
    )?;
    let key = random_token("apx-");
    let hash = sha256_hex(&key);
    let prefix: String = key.chars().take(PREFIX_LEN).collect();
    let created_at = now_ms();
    let row = state
        .db
        .run(move |conn| {
            client_keys::insert(
                conn,
                &NewClientKeyRow {
                    name: &limits.name,
                    key_hash: &hash,
                    prefix: &prefix,
                    created_at,
                    budget_usd: limits.budget_usd,
                    budget_period: &limits.budget_period,
                    rpm: limits.rpm,
                    tpm: limits.tpm,
                    max_parallel: limits.max_parallel,
                    models: limits.models.clone(),
                    expires_at: limits.expires_at,
                    enabled: limits.enabled,
                    note: limits.note.as_deref(),
                },
            )
        })
        .await?;
    state.client_keys.insert(&row);
    Ok(HttpResponse::Created().json(ClientKeyCreated {
        id: i64::from(row.id),
        name: row.name,
        key,
        created_at,
    }))
}

/// Lists the client keys, each shown by its first characters, with its limits and usage.
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
    let now = state.clock.now_ms();
    let data = rows
        .into_iter()
        .map(|r| view(r, &state.client_keys, now))
        .collect();
    Ok(HttpResponse::Ok().json(ClientKeyList { data }))
}

async fn find(state: &AppState, id: i32) -> Result<ClientKeyRow, ApiError> {
    state
        .db
        .run(client_keys::list)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("no client key with id {id}")))
}

/// One client key: its limits, what it used and what is left of each limit.
#[utoipa::path(
    get,
    path = "/api/client_keys/{id}",
    tag = "config",
    responses(
        (status = 200, description = "The client key", body = ClientKeyView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError),
    )
)]
pub async fn get_client_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    id: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view(row, &state.client_keys, state.clock.now_ms())))
}

/// Changes a client key's name, limits, expiry or note, or disables it.
///
/// Only the members sent change; `null` removes a limit. Calls in flight keep what they hold;
/// the next call meets the new limits. Spend so far is kept.
#[utoipa::path(
    patch,
    path = "/api/client_keys/{id}",
    tag = "config",
    request_body = ClientKeyChanges,
    responses(
        (status = 200, description = "The client key after the change", body = ClientKeyView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 500, response = InternalError),
        (status = 503, response = StorageUnavailable),
    )
)]
pub async fn update_client_key(
    state: web::Data<AppState>,
    _: AdminAuth,
    id: web::Path<i32>,
    body: web::Json<ClientKeyChanges>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = find(&state, id).await?;
    let c = body.into_inner();
    let limits = limits_row(
        c.name.as_deref().unwrap_or(&row.name),
        c.budget_usd.unwrap_or(row.budget_usd),
        c.budget_period
            .unwrap_or_else(|| BudgetPeriod::parse(&row.budget_period)),
        c.rpm.unwrap_or(unsigned(row.rpm)),
        c.tpm.unwrap_or(unsigned(row.tpm)),
        c.max_parallel.unwrap_or(unsigned(row.max_parallel)),
        match c.models {
            Some(models) => models,
            None => row
                .models
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
        },
        c.expires_at.unwrap_or(row.expires_at),
        c.enabled.unwrap_or(row.enabled),
        c.note.unwrap_or(row.note),
    )?;
    let row = state
        .db
        .run(move |conn| client_keys::update_limits(conn, id, &limits))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no client key with id {id}")))?;
    state.client_keys.update(&row);
    Ok(HttpResponse::Ok().json(view(row, &state.client_keys, state.clock.now_ms())))
}

/// Revokes a client key at once: its next call gets 401. The key stays listed as revoked.
#[utoipa::path(
    delete,
    path = "/api/client_keys/{id}",
    tag = "config",
    responses(
        (status = 204, description = "Revoked"),
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
    let at = now_ms();
    if !state
        .db
        .run(move |conn| client_keys::revoke(conn, id, at))
        .await?
    {
        return Err(ApiError::NotFound(format!("no client key with id {id}")));
    }
    let row = find(&state, id).await?;
    state.client_keys.update(&row);
    Ok(HttpResponse::NoContent().finish())
}
