//! A key's *bid*: what it can serve and how fit it is now. Key actors publish bids to the shared
//! [`BidBoard`]; request handlers read the board directly, so picking a key never waits on a
//! mailbox.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use dashmap::DashMap;
use shared::keys::{KeyState, QuotaUnit};
use shared::providers::{ModelPricing, ProviderFormat};

use crate::config::ProviderEntry;

/// Which models a key serves.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSet {
    /// The key's own list (`"*"` in it means any model).
    Listed { models: HashSet<String>, any: bool },
    /// No list on the key: the provider's catalogue.
    Provider,
}

impl ModelSet {
    pub fn from_list(models: &[String]) -> Self {
        if models.is_empty() {
            return Self::Provider;
        }
        Self::Listed {
            any: models.iter().any(|m| m == "*"),
            models: models.iter().filter(|m| *m != "*").cloned().collect(),
        }
    }
}

/// The settled part of a key: rebuilt only when the key is edited.
#[derive(Debug)]
pub struct KeyProfile {
    pub id: i32,
    /// Bound into the secret's ciphertext as associated data.
    pub uid: String,
    pub name: String,
    pub provider: Arc<ProviderEntry>,
    pub base_url: String,
    pub sealed_secret: Vec<u8>,
    pub models: ModelSet,
    pub priority: Option<i32>,
    pub cost_per_request: f64,
    pub quota_unit: QuotaUnit,
    pub azure_api_version: Option<String>,
    pub azure_deployments: HashMap<String, String>,
}

impl KeyProfile {
    pub fn provider_id(&self) -> &str {
        &self.provider.spec.id
    }

    pub fn format(&self) -> ProviderFormat {
        self.provider.format()
    }

    pub fn serves(&self, model: &str) -> bool {
        match &self.models {
            ModelSet::Listed { models, any } => *any || models.contains(model),
            ModelSet::Provider => self.provider.model(model).is_some(),
        }
    }

    /// Model ids this key lists explicitly, or its provider's.
    pub fn model_ids(&self) -> Vec<String> {
        match &self.models {
            ModelSet::Listed { models, .. } => {
                let mut v: Vec<String> = models.iter().cloned().collect();
                v.sort();
                v
            }
            ModelSet::Provider => self
                .provider
                .spec
                .models
                .iter()
                .map(|m| m.id.clone())
                .collect(),
        }
    }

    pub fn pricing(&self, model: &str) -> Option<&ModelPricing> {
        self.provider.model(model).map(|m| &m.pricing)
    }
}

/// One key's current offer.
#[derive(Debug, Clone)]
pub struct Bid {
    pub profile: Arc<KeyProfile>,
    pub state: KeyState,
    /// `None`: no quota set (unlimited).
    pub quota_remaining: Option<f64>,
    pub latency_ewma_ms: Option<f64>,
    /// Bumped each time the key's actor restarts.
    pub generation: u64,
}

impl Bid {
    pub fn usable(&self) -> bool {
        self.state == KeyState::Active
    }

    pub fn key_id(&self) -> i32 {
        self.profile.id
    }
}

/// Every key's latest bid, by key id.
#[derive(Debug, Clone, Default)]
pub struct BidBoard {
    bids: Arc<DashMap<i32, Bid>>,
}

impl BidBoard {
    pub fn publish(&self, bid: Bid) {
        self.bids.insert(bid.key_id(), bid);
    }

    pub fn withdraw(&self, key_id: i32) {
        self.bids.remove(&key_id);
    }

    pub fn get(&self, key_id: i32) -> Option<Bid> {
        self.bids.get(&key_id).map(|b| b.clone())
    }

    pub fn len(&self) -> usize {
        self.bids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bids.is_empty()
    }

    /// Calls `f` with each bid; no bid is cloned.
    pub fn for_each(&self, mut f: impl FnMut(&Bid)) {
        for entry in self.bids.iter() {
            f(entry.value());
        }
    }

    pub fn snapshot(&self) -> Vec<Bid> {
        let mut all: Vec<Bid> = self.bids.iter().map(|e| e.value().clone()).collect();
        all.sort_by_key(|b| b.key_id());
        all
    }
}
