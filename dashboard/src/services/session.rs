//! The admin token for this browser tab, kept in session storage: it survives a reload, not the
//! closing of the tab.

use super::browser::session_storage;

const TOKEN_KEY: &str = "api-proxy.admin-token";

pub fn load_token() -> Option<String> {
    session_storage()?
        .get_item(TOKEN_KEY)
        .ok()
        .flatten()
        .filter(|t| !t.is_empty())
}

pub fn store_token(token: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.set_item(TOKEN_KEY, token);
    }
}

pub fn clear_token() {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(TOKEN_KEY);
    }
}
