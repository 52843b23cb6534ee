//! The `settings` table: runtime settings as one JSON document.

use diesel::prelude::*;
use diesel::SqliteConnection;
use shared::settings::Settings;

use super::schema::settings;
use super::DbError;

const RUNTIME: &str = "runtime";

pub fn load(conn: &mut SqliteConnection) -> Result<Settings, DbError> {
    let stored: Option<String> = settings::table
        .filter(settings::name.eq(RUNTIME))
        .select(settings::value)
        .first(conn)
        .optional()?;
    match stored {
        None => Ok(Settings::default()),
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| DbError::Corrupt(format!("settings: {e}")))
        }
    }
}

pub fn save(conn: &mut SqliteConnection, value: &Settings) -> Result<(), DbError> {
    let text = serde_json::to_string(value).map_err(|e| DbError::Corrupt(e.to_string()))?;
    diesel::replace_into(settings::table)
        .values((settings::name.eq(RUNTIME), settings::value.eq(text)))
        .execute(conn)?;
    Ok(())
}
