//! The `client_keys` table: access keys for `/v1`, stored as SHA-256 hashes only.

use diesel::prelude::*;
use diesel::SqliteConnection;

use super::schema::client_keys;
use super::DbError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = client_keys)]
pub struct ClientKeyRow {
    pub id: i32,
    pub name: String,
    pub key_hash: String,
    pub prefix: String,
    pub created_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = client_keys)]
pub struct NewClientKeyRow<'a> {
    pub name: &'a str,
    pub key_hash: &'a str,
    pub prefix: &'a str,
    pub created_at: i64,
}

pub fn insert(
    conn: &mut SqliteConnection,
    row: &NewClientKeyRow<'_>,
) -> Result<ClientKeyRow, DbError> {
    Ok(diesel::insert_into(client_keys::table)
        .values(row)
        .returning(ClientKeyRow::as_returning())
        .get_result(conn)?)
}

pub fn list(conn: &mut SqliteConnection) -> Result<Vec<ClientKeyRow>, DbError> {
    Ok(client_keys::table
        .order(client_keys::id.asc())
        .select(ClientKeyRow::as_select())
        .load(conn)?)
}

/// Returns whether a row was deleted.
pub fn delete(conn: &mut SqliteConnection, id: i32) -> Result<bool, DbError> {
    Ok(diesel::delete(client_keys::table.filter(client_keys::id.eq(id))).execute(conn)? > 0)
}
