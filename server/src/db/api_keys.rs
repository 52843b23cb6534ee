//! The `api_keys` table. Rows hold the sealed secret; the key's live counters are written back by
//! its actor through the batch writer.

use diesel::prelude::*;

use super::schema::api_keys;
use super::{AnyConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: i32,
    pub uid: String,
    pub provider: String,
    pub name: String,
    pub secret_ciphertext: Vec<u8>,
    pub secret_hint: String,
    pub base_url: Option<String>,
    /// JSON array of model ids.
    pub models: String,
    pub priority: Option<i32>,
    pub enabled: bool,
    pub cost_per_request: f64,
    pub quota_total: Option<f64>,
    pub quota_remaining: Option<f64>,
    pub quota_unit: String,
    pub azure_api_version: Option<String>,
    /// JSON object model -> deployment.
    pub azure_deployments: String,
    pub auth_dead: bool,
    pub total_calls: i64,
    pub total_errors: i64,
    pub total_tokens: i64,
    pub total_cost_usd: f64,
    pub latency_ewma_ms: Option<f64>,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Share of round-robin traffic (weighted strategy).
    pub weight: i32,
    /// `daily` or `monthly`: the quota refills to `quota_total` then.
    pub quota_reset: Option<String>,
    /// Next refill (Unix ms).
    pub quota_reset_at: Option<i64>,
    /// JSON object model (or `*`) -> prices (USD per 1M tokens) replacing the provider's.
    pub price_overrides: String,
    /// The provider said the account is out of credit.
    pub quota_rejected: bool,
    pub ttfb_ewma_ms: Option<f64>,
    /// How `secret_ciphertext` is sealed (see `key_seal`).
    pub seal_version: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey {
    pub uid: String,
    pub provider: String,
    pub name: String,
    pub secret_ciphertext: Vec<u8>,
    pub secret_hint: String,
    pub base_url: Option<String>,
    pub models: String,
    pub priority: Option<i32>,
    pub enabled: bool,
    pub cost_per_request: f64,
    pub quota_total: Option<f64>,
    pub quota_remaining: Option<f64>,
    pub quota_unit: String,
    pub azure_api_version: Option<String>,
    pub azure_deployments: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub weight: i32,
    pub quota_reset: Option<String>,
    pub quota_reset_at: Option<i64>,
    pub price_overrides: String,
    pub seal_version: i32,
}

/// An admin edit; `None` leaves a column alone, `Some(None)` sets it to NULL.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyChanges {
    pub name: Option<String>,
    pub secret_ciphertext: Option<Vec<u8>>,
    pub secret_hint: Option<String>,
    pub base_url: Option<Option<String>>,
    pub models: Option<String>,
    pub priority: Option<Option<i32>>,
    pub enabled: Option<bool>,
    pub cost_per_request: Option<f64>,
    pub quota_total: Option<Option<f64>>,
    pub quota_remaining: Option<Option<f64>>,
    pub quota_unit: Option<String>,
    pub azure_api_version: Option<Option<String>>,
    pub azure_deployments: Option<String>,
    pub auth_dead: Option<bool>,
    pub quota_rejected: Option<bool>,
    pub weight: Option<i32>,
    pub quota_reset: Option<Option<String>>,
    pub quota_reset_at: Option<Option<i64>>,
    pub price_overrides: Option<String>,
    pub seal_version: Option<i32>,
    pub updated_at: i64,
}

/// What a key actor persists after calls: its counters and quota.
#[derive(Debug, Clone, PartialEq, AsChangeset)]
#[diesel(table_name = api_keys, treat_none_as_null = true)]
pub struct ApiKeyUsage {
    pub quota_remaining: Option<f64>,
    pub auth_dead: bool,
    pub total_calls: i64,
    pub total_errors: i64,
    pub total_tokens: i64,
    pub total_cost_usd: f64,
    pub latency_ewma_ms: Option<f64>,
    pub ttfb_ewma_ms: Option<f64>,
    pub last_used_at: Option<i64>,
    pub quota_rejected: bool,
    pub quota_reset_at: Option<i64>,
}

pub fn insert(conn: &mut AnyConnection, row: &NewApiKey) -> Result<ApiKeyRow, DbError> {
    let row = on_backend!(conn, |c| diesel::insert_into(api_keys::table)
        .values(row)
        .returning(ApiKeyRow::as_returning())
        .get_result(c))?;
    super::fleet::announce(conn)?;
    Ok(row)
}

pub fn list(conn: &mut AnyConnection) -> Result<Vec<ApiKeyRow>, DbError> {
    Ok(on_backend!(conn, |c| api_keys::table
        .order(api_keys::id.asc())
        .select(ApiKeyRow::as_select())
        .load(c))?)
}

pub fn get(conn: &mut AnyConnection, id: i32) -> Result<Option<ApiKeyRow>, DbError> {
    Ok(on_backend!(conn, |c| api_keys::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .first(c)
        .optional())?)
}

pub fn update(
    conn: &mut AnyConnection,
    id: i32,
    changes: &ApiKeyChanges,
) -> Result<Option<ApiKeyRow>, DbError> {
    let row = on_backend!(conn, |c| diesel::update(api_keys::table.find(id))
        .set(changes)
        .returning(ApiKeyRow::as_returning())
        .get_result(c)
        .optional())?;
    super::fleet::announce(conn)?;
    Ok(row)
}

pub fn save_usage(conn: &mut AnyConnection, id: i32, usage: &ApiKeyUsage) -> Result<(), DbError> {
    on_backend!(conn, |c| diesel::update(api_keys::table.find(id))
        .set(usage)
        .execute(c))?;
    Ok(())
}

/// Returns whether a row was deleted.
pub fn delete(conn: &mut AnyConnection, id: i32) -> Result<bool, DbError> {
    let deleted = on_backend!(conn, |c| diesel::delete(api_keys::table.find(id))
        .execute(c))?
        > 0;
    super::fleet::announce(conn)?;
    Ok(deleted)
}

/// Replaces a row's sealed secret (the start-up re-seal, master-key rotation).
pub fn reseal(
    conn: &mut AnyConnection,
    id: i32,
    ciphertext: &[u8],
    seal_version: i32,
) -> Result<(), DbError> {
    on_backend!(conn, |c| diesel::update(api_keys::table.find(id))
        .set((
            api_keys::secret_ciphertext.eq(ciphertext),
            api_keys::seal_version.eq(seal_version),
        ))
        .execute(c))?;
    Ok(())
}
