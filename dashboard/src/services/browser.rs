//! Small reads of the browser's environment. Only callable in the browser: the pure modules
//! (`format`, `state`, `backoff`…) take what these return as parameters, so the host tests never
//! reach them.

/// The current time, Unix milliseconds.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// The viewer's time zone offset in minutes east of UTC (UTC+8: 480).
pub fn tz_offset_minutes() -> i32 {
    -(js_sys::Date::new_0().get_timezone_offset() as i32)
}

/// A random number in `0.0..1.0`.
pub fn random() -> f64 {
    js_sys::Math::random()
}

pub fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// `navigator.language`, e.g. `zh-CN`.
pub fn navigator_language() -> String {
    window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_default()
}

/// `ws://host/path` or `wss://host/path` on the page's own host.
pub fn websocket_url(path: &str) -> Option<String> {
    let location = window()?.location();
    let scheme = if location.protocol().ok()? == "https:" {
        "wss"
    } else {
        "ws"
    };
    Some(format!("{scheme}://{}{path}", location.host().ok()?))
}

pub fn session_storage() -> Option<web_sys::Storage> {
    window()?.session_storage().ok().flatten()
}

pub fn local_storage() -> Option<web_sys::Storage> {
    window()?.local_storage().ok().flatten()
}

/// Sets `<html lang>` so that fonts and screen readers pick the right language.
pub fn set_document_lang(code: &str) {
    if let Some(root) = window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", code);
    }
}
