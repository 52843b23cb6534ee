//! The `meta` table: facts about this database (KDF salt, master-key check value).

use diesel::prelude::*;
use diesel::upsert::excluded;

use super::schema::meta;
use super::{AnyConnection, DbError};

pub const KDF_SALT: &str = "kdf_salt";
pub const KEY_CHECK: &str = "key_check";

pub fn get(conn: &mut AnyConnection, name: &str) -> Result<Option<Vec<u8>>, DbError> {
    Ok(on_backend!(conn, |c| meta::table
        .filter(meta::name.eq(name))
        .select(meta::value)
        .first::<Vec<u8>>(c)
        .optional())?)
}

pub fn put(conn: &mut AnyConnection, name: &str, value: &[u8]) -> Result<(), DbError> {
    on_backend!(conn, |c| diesel::insert_into(meta::table)
        .values((meta::name.eq(name), meta::value.eq(value)))
        .on_conflict(meta::name)
        .do_update()
        .set(meta::value.eq(excluded(meta::value)))
        .execute(c))?;
    Ok(())
}

/// Stores `value` under `name` unless a value is there already; returns the value stored now.
/// Instances starting together on one new database agree on the first one written.
pub fn put_first(conn: &mut AnyConnection, name: &str, value: &[u8]) -> Result<Vec<u8>, DbError> {
    on_backend!(conn, |c| diesel::insert_into(meta::table)
        .values((meta::name.eq(name), meta::value.eq(value)))
        .on_conflict_do_nothing()
        .execute(c))?;
    get(conn, name)?.ok_or_else(|| DbError::Corrupt(format!("meta {name} vanished")))
}
