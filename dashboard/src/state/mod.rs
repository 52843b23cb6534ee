//! View state and the pure rules that change it: what the pages hold between renders, and how
//! live events and REST answers merge into it. No browser calls here: everything is unit-tested
//! on the host.

pub mod client_key_form;
pub mod key_form;
pub mod keys;
pub mod live;
pub mod logs;
pub mod settings_form;
pub mod throttle;
