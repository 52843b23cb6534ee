//! Contexts the app provides (session, language, live feed) and the hooks pages use to reach them
//! and to load data.

pub mod use_fetch;
pub mod use_i18n;
pub mod use_live;
pub mod use_live_reload;
pub mod use_now;
pub mod use_session;

pub use use_fetch::use_fetch;
pub use use_i18n::{use_i18n, I18n};
pub use use_live::{use_live, LiveContext};
pub use use_live_reload::{use_live_reload, LiveReload};
pub use use_now::use_now;
pub use use_session::{use_api, use_session, Session};
