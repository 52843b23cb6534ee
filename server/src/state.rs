//! `AppState`: what every handler can reach. Cheap to clone (all `Arc`s and handles).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use shared::settings::Settings;

use crate::actors::KeyRegistry;
use crate::api::auth_throttle::AuthThrottle;
use crate::api::live_tickets::LiveTickets;
use crate::client_limits::ClientKeys;
use crate::clock::Clock;
use crate::config::{ProviderCatalog, ServerConfig};
use crate::crypto::{KeyCipher, Secret};
use crate::db::Db;
use crate::live_hub::LiveHub;
use crate::metrics::{ConnectionGauge, Metrics};
use crate::otel::Traces;
use crate::proxy::record::Accounting;
use crate::routing::{BidBoard, ResponseOwners};
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
    /// Model equivalents from `configs/model_aliases.json` (settings' aliases win over these).
    pub config_aliases: Arc<BTreeMap<String, String>>,
    pub admin_token: Arc<Secret>,
    /// Client keys by the SHA-256 of their secret, with their limits' live state.
    pub client_keys: ClientKeys,
    pub started_at: Instant,
    pub clock: Clock,
    pub live: LiveHub,
    /// Open client connections, for `GET /api/runtime`.
    pub connections: ConnectionGauge,
    /// Failed admin authentications per peer.
    pub auth_throttle: Arc<AuthThrottle>,
    /// Tickets for the live feed's websocket.
    pub live_tickets: Arc<LiveTickets>,
    /// The key that made each stored Responses API answer (for `previous_response_id`).
    pub response_owners: ResponseOwners,
    /// The Prometheus metrics (`GET /metrics`); empty when `METRICS_ENABLED=false`.
    pub metrics: Metrics,
    /// OTLP trace export; empty unless configured.
    pub traces: Traces,
}

impl AppState {
    /// What a proxied call needs to account for itself.
    pub fn accounting(&self) -> Accounting {
        Accounting {
            keys: self.keys.clone(),
            writer: self.writer.clone(),
            live: self.live.clone(),
            clock: self.clock.clone(),
            response_owners: self.response_owners.clone(),
            metrics: self.metrics.clone(),
            shared_db: (self.db.backend() == crate::db::Backend::Postgres).then(|| self.db.clone()),
        }
    }

    /// The current runtime settings (a cheap `Arc` clone).
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The equivalent of `model`, from the settings or else the config file.
    pub fn model_alias(&self, settings: &Settings, model: &str) -> Option<String> {
        settings
            .model_aliases
            .get(model)
            .or_else(|| self.config_aliases.get(model))
            .cloned()
    }

    /// Every alias in force: the config file's, overridden by the settings'.
    pub fn all_aliases(&self) -> BTreeMap<String, String> {
        let mut all = (*self.config_aliases).clone();
        all.extend(self.settings().model_aliases.clone());
        all
    }

    /// Upstream calls in flight, over every key.
    pub fn in_flight(&self) -> i64 {
        let mut in_flight = 0;
        self.board
            .for_each(|bid| in_flight += bid.counters.in_flight());
        in_flight
    }

    pub fn replace_settings(&self, next: Settings) {
        *self
            .settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(next);
    }
}
