//! The `settings` table: runtime settings as one JSON document.

use diesel::prelude::*;
use diesel::upsert::excluded;
use shared::settings::Settings;

use super::schema::settings;
use super::{AnyConnection, DbError};

const RUNTIME: &str = "runtime";

pub fn load(conn: &mut AnyConnection) -> Result<Settings, DbError> {
    let stored: Option<String> = on_backend!(conn, |c| settings::table
        .filter(settings::name.eq(RUNTIME))
        .select(settings::value)
        .first(c)
        .optional())?;
    match stored {
        None => Ok(Settings::default()),
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| DbError::Corrupt(format!("settings: {e}")))
        }
    }
}

pub fn save(conn: &mut AnyConnection, value: &Settings) -> Result<(), DbError> {
    let text = serde_json::to_string(value).map_err(|e| DbError::Corrupt(e.to_string()))?;
    on_backend!(conn, |c| diesel::insert_into(settings::table)
        .values((settings::name.eq(RUNTIME), settings::value.eq(&text)))
        .on_conflict(settings::name)
        .do_update()
        .set(settings::value.eq(excluded(settings::value)))
        .execute(c))?;
    super::fleet::announce(conn)
}
