//! The `client_keys` table: access keys for `/v1`, stored as SHA-256 hashes only, with their
//! limits and the spend of their current budget period.

use diesel::prelude::*;

use super::schema::client_keys;
use super::{AnyConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = client_keys)]
pub struct ClientKeyRow {
    pub id: i32,
    pub name: String,
    pub key_hash: String,
    pub prefix: String,
    pub created_at: i64,
    pub budget_usd: Option<f64>,
    pub budget_period: String,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
    pub max_parallel: Option<i32>,
    /// A JSON list of model ids or globs.
    pub models: Option<String>,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub note: Option<String>,
    pub revoked_at: Option<i64>,
    pub spent_usd: f64,
    pub spent_period_start: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = client_keys)]
pub struct NewClientKeyRow<'a> {
    pub name: &'a str,
    pub key_hash: &'a str,
    pub prefix: &'a str,
    pub created_at: i64,
    pub budget_usd: Option<f64>,
    pub budget_period: &'a str,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
    pub max_parallel: Option<i32>,
    pub models: Option<String>,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub note: Option<&'a str>,
}

/// The limits of a key, all written at once by `PATCH`.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = client_keys, treat_none_as_null = true)]
pub struct ClientKeyLimitsRow {
    pub name: String,
    pub budget_usd: Option<f64>,
    pub budget_period: String,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
    pub max_parallel: Option<i32>,
    pub models: Option<String>,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub note: Option<String>,
}

pub fn insert(
    conn: &mut AnyConnection,
    row: &NewClientKeyRow<'_>,
) -> Result<ClientKeyRow, DbError> {
    let row = on_backend!(conn, |c| diesel::insert_into(client_keys::table)
        .values(row)
        .returning(ClientKeyRow::as_returning())
        .get_result(c))?;
    super::fleet::announce(conn)?;
    Ok(row)
}

pub fn list(conn: &mut AnyConnection) -> Result<Vec<ClientKeyRow>, DbError> {
    Ok(on_backend!(conn, |c| client_keys::table
        .order(client_keys::id.asc())
        .select(ClientKeyRow::as_select())
        .load(c))?)
}

/// The row after the change, or `None` when there is no such key.
pub fn update_limits(
    conn: &mut AnyConnection,
    id: i32,
    limits: &ClientKeyLimitsRow,
) -> Result<Option<ClientKeyRow>, DbError> {
    let row = on_backend!(conn, |c| diesel::update(
        client_keys::table.filter(client_keys::id.eq(id))
    )
    .set(limits)
    .returning(ClientKeyRow::as_returning())
    .get_result(c)
    .optional())?;
    super::fleet::announce(conn)?;
    Ok(row)
}

/// Saves the spend of each key's current period: `(id, spent_usd, period_start)`.
pub fn save_spend(conn: &mut AnyConnection, spend: &[(i32, f64, i64)]) -> Result<(), DbError> {
    conn.transaction(|conn| {
        for (id, spent, start) in spend {
            on_backend!(&mut *conn, |c| diesel::update(
                client_keys::table.filter(client_keys::id.eq(id))
            )
            .set((
                client_keys::spent_usd.eq(spent),
                client_keys::spent_period_start.eq(start),
            ))
            .execute(c))?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

/// Marks a key revoked (the first time only); returns whether there is such a key.
pub fn revoke(conn: &mut AnyConnection, id: i32, at: i64) -> Result<bool, DbError> {
    let found = on_backend!(&mut *conn, |c| client_keys::table
        .filter(client_keys::id.eq(id))
        .count()
        .get_result::<i64>(c))?
        > 0;
    on_backend!(&mut *conn, |c| diesel::update(
        client_keys::table
            .filter(client_keys::id.eq(id))
            .filter(client_keys::revoked_at.is_null()),
    )
    .set(client_keys::revoked_at.eq(at))
    .execute(c))?;
    super::fleet::announce(conn)?;
    Ok(found)
}
