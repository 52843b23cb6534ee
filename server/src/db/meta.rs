//! The `meta` table: facts about this database (KDF salt, master-key check value).

use diesel::prelude::*;
use diesel::SqliteConnection;

use super::schema::meta;
use super::DbError;

pub const KDF_SALT: &str = "kdf_salt";
pub const KEY_CHECK: &str = "key_check";

pub fn get(conn: &mut SqliteConnection, name: &str) -> Result<Option<Vec<u8>>, DbError> {
    Ok(meta::table
        .filter(meta::name.eq(name))
        .select(meta::value)
        .first::<Vec<u8>>(conn)
        .optional()?)
}

pub fn put(conn: &mut SqliteConnection, name: &str, value: &[u8]) -> Result<(), DbError> {
    diesel::replace_into(meta::table)
        .values((meta::name.eq(name), meta::value.eq(value)))
        .execute(conn)?;
    Ok(())
}
