//! The chosen language, remembered in local storage; the browser's language until one is chosen.

use super::browser::{local_storage, navigator_language};
use crate::i18n::Lang;

const LANG_KEY: &str = "api-proxy.lang";

pub fn load_lang() -> Lang {
    local_storage()
        .and_then(|s| s.get_item(LANG_KEY).ok().flatten())
        .and_then(|code| Lang::from_code(&code))
        .unwrap_or_else(|| Lang::from_browser(&navigator_language()))
}

pub fn store_lang(lang: Lang) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(LANG_KEY, lang.code());
    }
}
