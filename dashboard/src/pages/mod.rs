//! One component per route, plus the sign-in page shown before any of them.

pub mod client_keys;
pub mod keys;
pub mod logs;
pub mod not_found;
pub mod overview;
pub mod providers;
pub mod routing;
pub mod settings;
pub mod sign_in;
