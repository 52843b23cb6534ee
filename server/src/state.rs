//! `AppState`: what every handler can reach. Cheap to clone (all `Arc`s and handles).

use std::sync::{Arc, RwLock};
use std::time::Instant;

use dashmap::DashMap;
use shared::settings::Settings;

use crate::actors::KeyRegistry;
use crate::config::{ProviderCatalog, ServerConfig};
use crate::crypto::{KeyCipher, Secret};
use crate::db::Db;
use crate::routing::BidBoard;
use crate::writer::WriterHandle;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServerConfig>,
    pub catalog: Arc<ProviderCatalog>,
    pub db: Db,
    pub cipher: KeyCipher,
    pub keys: KeyRegistry,
    pub board: BidBoard,
    pub writer: WriterHandle,
    pub settings: Arc<RwLock<Arc<Settings>>>,
    pub admin_token: Arc<Secret>,
    /// SHA-256 of each client key -> its id.
    pub client_keys: Arc<DashMap<String, i32>>,
    pub started_at: Instant,
}

impl AppState {
    /// The current runtime settings (a cheap `Arc` clone).
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn replace_settings(&self, next: Settings) {
        *self
            .settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(next);
    }
}
