//! Pieces shared by the pages.

pub mod commit_input;
pub mod connection_indicator;
pub mod database_banner;
pub mod error_banner;
pub mod form;
pub mod key_form;
pub mod lang_switch;
pub mod layout;
pub mod log_detail;
pub mod modal;
pub mod provider_badge;
pub mod quota_bar;
pub mod score_bar;
pub mod stat_card;
pub mod state_badge;
pub mod time_chart;
