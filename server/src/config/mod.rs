//! Configuration in two phases: raw inputs (environment, `.env`, provider JSON files) are parsed and
//! validated into typed values once at start-up, then passed through `AppState`.

pub mod aliases;
pub mod base_url;
pub mod env;
pub mod providers;

pub use base_url::base_url_problem;
pub use env::{LogFormat, ServerConfig};
pub use providers::{ProviderCatalog, ProviderEntry};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name}: {message}")]
    Env { name: &'static str, message: String },
    #[error("provider file {}: field `{field}`: {message}", file.display())]
    ProviderField {
        file: PathBuf,
        field: String,
        message: String,
    },
    #[error("provider directory {}: {source}", dir.display())]
    ProviderDir {
        dir: PathBuf,
        source: std::io::Error,
    },
}
