//! Everything that talks to the outside: the admin REST API, the live websocket, and the
//! browser's storage, clock and location.

pub mod api;
pub mod browser;
pub mod live;
pub mod prefs;
pub mod session;
