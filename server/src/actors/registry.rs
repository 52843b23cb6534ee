//! `KeyRegistry`: starts, edits and retires the supervised key actors, and routes outcomes to them.
//! All key actors live on one dedicated arbiter so their work never competes with HTTP workers.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::inbox::OutcomeInbox;
use super::key::{
    AdoptVerdict, ApplyEdit, DrainOutcomes, GetSnapshot, KeyActor, KeyActorDeps, KeySnapshot,
    Retire, Settle, SyncQuota,
};
use crate::config::ProviderCatalog;
use crate::crypto::KeyCipher;
use crate::db::api_keys::ApiKeyRow;
use crate::key_seal;
use crate::routing::health::immediate_verdict;
use crate::routing::key_live::{parse_quota_reset, parse_quota_unit};
pub use crate::routing::EditEffects;
use crate::routing::{Health, IdMap, KeyCounters, KeyLive, KeyProfile, ModelSet, Outcome, Signal};

#[derive(Clone)]
pub struct KeyRegistry {
    inner: Arc<Inner>,
}

/// A running key actor and the queue its outcomes wait in.
struct Mailbox {
    addr: Addr<KeyActor>,
    inbox: Arc<OutcomeInbox>,
}

struct Inner {
    actors: IdMap<i32, Mailbox>,
    counters: IdMap<i32, Arc<KeyCounters>>,
    arbiter: ArbiterHandle,
    deps: KeyActorDeps,
    catalog: Arc<ProviderCatalog>,
}

impl KeyRegistry {
    pub fn new(arbiter: ArbiterHandle, deps: KeyActorDeps, catalog: Arc<ProviderCatalog>) -> Self {
        Self {
            inner: Arc::new(Inner {
                actors: IdMap::default(),
                counters: IdMap::default(),
                arbiter,
                deps,
                catalog,
            }),
        }
    }

    /// The settled part of a key, or why it cannot be served.
    pub fn profile(&self, row: &ApiKeyRow) -> Result<KeyProfile, String> {
        build_profile(&self.inner.catalog, &self.inner.deps.cipher, row)
    }

    fn counters(&self, id: i32) -> Arc<KeyCounters> {
        self.inner.counters.entry(id).or_default().clone()
    }

    /// Starts the supervised actor for a stored key. Its first bid is published before this
    /// returns, so the key is routable as soon as the admin API answers.
    pub fn spawn(&self, row: &ApiKeyRow) -> Result<(), String> {
        let profile = Arc::new(self.profile(row)?);
        let counters = self.counters(row.id);
        let deps = self.inner.deps.clone();
        let live = KeyLive::from_row(row, deps.clock.now_ms());
        if deps.shared_quota {
            counters.share_quota();
            deps.writer.key_baseline(row.id, live.to_usage_row());
        }
        counters.set_budget(profile.quota_unit, live.quota_remaining);
        // The key's first bid, before its actor exists: the only bid not published by the actor.
        deps.board
            .publish(live.bid(profile.clone(), counters.clone(), 0, 0));
        let id = row.id;
        let inbox = Arc::new(OutcomeInbox::default());
        let actor_inbox = inbox.clone();
        let addr = Supervisor::start_in_arbiter(&self.inner.arbiter, move |_ctx| {
            KeyActor::new(profile, counters, actor_inbox, live, deps)
        });
        self.inner.actors.insert(id, Mailbox { addr, inbox });
        Ok(())
    }

    /// Adopts an admin edit. The key's actor applies it (the edit rules live in
    /// [`KeyLive::apply_edit`]) and publishes the new bid before this returns, so the next request
    /// is routed with the new settings.
    pub async fn apply_edit(&self, row: &ApiKeyRow, effects: EditEffects) -> Result<(), String> {
        let profile = Arc::new(self.profile(row)?);
        let Some(addr) = self.inner.actors.get(&row.id).map(|a| a.addr.clone()) else {
            return self.spawn(row);
        };
        addr.send(ApplyEdit {
            profile,
            row: row.clone(),
            effects,
        })
        .await
        .map_err(|e| format!("key {}'s actor did not take the edit: {e}", row.id))
    }

    /// Stops serving with a deleted key: its bid leaves the board before this returns, and no
    /// publish still on its way can bring it back.
    pub fn retire(&self, id: i32) {
        if let Some((_, counters)) = self.inner.counters.remove(&id) {
            counters.retire();
        }
        if let Some((_, mailbox)) = self.inner.actors.remove(&id) {
            mailbox.addr.do_send(Retire);
        }
        self.inner.deps.board.withdraw(id);
    }

    /// Fire-and-forget accounting from the request path. A verdict that must hold for the very
    /// next request (429, 401, out of credit, rate limit used up, "overloaded, retry after") is
    /// also written to the board now, as an amendment numbered like the outcome; a failure marks
    /// the key as just failed, so the next request prefers its healthy tier-mates.
    pub fn record(&self, id: i32, outcome: Outcome) {
        let Some(mailbox) = self.inner.actors.get(&id) else {
            return;
        };
        let verdict = immediate_verdict(outcome.signal, outcome.at_ms);
        let dry = outcome.rate_limit.filter(|r| r.exhausted_until().is_some());
        let failed = matches!(outcome.signal, Signal::Failure | Signal::Overloaded { .. });
        let at_ms = outcome.at_ms;
        let pushed = mailbox.inbox.push(outcome);
        if verdict.is_some() || dry.is_some() || failed {
            self.inner.deps.board.amend(id, pushed.seq, |bid| {
                if let Some(health) = verdict {
                    if !matches!(bid.health, Health::AuthDead | Health::QuotaExhausted) {
                        bid.health = health;
                    }
                }
                if let Some(info) = dry {
                    bid.rate_limit = info;
                }
                if failed {
                    bid.last_failure_ms = Some(at_ms);
                }
            });
        }
        if pushed.wake {
            mailbox.addr.do_send(DrainOutcomes);
        }
    }

    /// Every key actor folds in the outcomes queued so far and hands its counters to the batch
    /// writer (shutdown: before the writer's last batch).
    pub async fn settle_all(&self) {
        let addrs: Vec<Addr<KeyActor>> = self
            .inner
            .actors
            .iter()
            .map(|entry| entry.value().addr.clone())
            .collect();
        for addr in addrs {
            let _ = addr.send(Settle).await;
        }
    }

    /// The quota left as the shared database says (several instances on PostgreSQL), plus what
    /// this instance holds of it in its lease.
    pub fn sync_quota(&self, id: i32, remaining: Option<f64>) {
        let leased = self.inner.counters.get(&id).map_or(0, |c| c.leased());
        if let Some(mailbox) = self.inner.actors.get(&id) {
            let remaining = remaining.map(|r| r + leased as f64);
            mailbox.addr.do_send(SyncQuota { remaining });
        }
    }

    /// A key's shared-quota counters (its lease), if the key is served.
    pub fn key_counters(&self, id: i32) -> Option<Arc<KeyCounters>> {
        self.inner.counters.get(&id).map(|c| c.clone())
    }

    /// Empties the leases nothing drew on since `idle_before` (every lease when `None`): the
    /// requests to give back to the shared quota, per key.
    pub fn take_back_leases(&self, idle_before: Option<i64>) -> Vec<(i32, i64)> {
        self.inner
            .counters
            .iter()
            .filter_map(|entry| {
                let n = entry.value().take_back_lease(idle_before);
                (n > 0).then_some((*entry.key(), n))
            })
            .collect()
    }

    /// A verdict another instance on the shared database reached on key `id`.
    pub fn adopt_verdict(&self, id: i32, health: Health) {
        if let Some(mailbox) = self.inner.actors.get(&id) {
            mailbox.addr.do_send(AdoptVerdict { health });
        }
    }

    /// Whether the quota lives in a database shared with other instances.
    pub fn shared_quota(&self) -> bool {
        self.inner.deps.shared_quota
    }

    /// The ids of the keys served now.
    pub fn ids(&self) -> Vec<i32> {
        self.inner.actors.iter().map(|entry| *entry.key()).collect()
    }

    pub async fn snapshot(&self, id: i32) -> Option<KeySnapshot> {
        let addr = self.inner.actors.get(&id).map(|a| a.addr.clone())?;
        addr.send(GetSnapshot).await.ok()
    }

    /// The actor's address (for supervision tests).
    pub fn addr(&self, id: i32) -> Option<Addr<KeyActor>> {
        self.inner.actors.get(&id).map(|a| a.addr.clone())
    }

    pub fn len(&self) -> usize {
        self.inner.actors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.actors.is_empty()
    }
}

pub fn build_profile(
    catalog: &ProviderCatalog,
    cipher: &KeyCipher,
    row: &ApiKeyRow,
) -> Result<KeyProfile, String> {
    let provider = catalog
        .get(&row.provider)
        .ok_or_else(|| format!("provider {:?} is not configured", row.provider))?
        .clone();
    let secret_aad = key_seal::binding(row, provider.spec.auth).aad();
    let seal_mismatch = cipher
        .open_secret(&row.secret_ciphertext, &secret_aad)
        .is_err();
    if seal_mismatch {
        tracing::error!(
            key_id = row.id,
            "the key's stored secret does not open for its provider and base URL: the row was \
             changed outside api-proxy, or another master key is in use; it is never sent \
             anywhere until its api_key is entered again"
        );
    }
    let models: Vec<String> = serde_json::from_str(&row.models)
        .map_err(|e| format!("stored model list is invalid: {e}"))?;
    let azure_deployments: HashMap<String, String> =
        serde_json::from_str(&row.azure_deployments)
            .map_err(|e| format!("stored Azure deployments are invalid: {e}"))?;
    let price_overrides = serde_json::from_str(&row.price_overrides)
        .map_err(|e| format!("stored price overrides are invalid: {e}"))?;
    Ok(KeyProfile {
        id: row.id,
        secret_aad,
        seal_mismatch,
        name: row.name.clone(),
        base_url: row
            .base_url
            .clone()
            .unwrap_or_else(|| provider.spec.base_url.clone())
            .trim_end_matches('/')
            .to_owned(),
        provider,
        sealed_secret: row.secret_ciphertext.clone(),
        models: ModelSet::from_list(&models),
        priority: row.priority,
        weight: u32::try_from(row.weight.max(1)).unwrap_or(1),
        enabled: row.enabled,
        cost_per_request: row.cost_per_request,
        quota_unit: parse_quota_unit(&row.quota_unit),
        quota_total: row.quota_total,
        quota_reset: parse_quota_reset(row.quota_reset.as_deref()),
        price_overrides,
        azure_api_version: row.azure_api_version.clone(),
        azure_deployments,
    })
}
