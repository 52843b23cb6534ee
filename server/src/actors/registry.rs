//! `KeyRegistry`: starts, edits and retires the supervised key actors, and routes outcomes to them.
//! All key actors live on one dedicated arbiter so their work never competes with HTTP workers.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use dashmap::DashMap;

use super::key::{ApplyEdit, GetSnapshot, KeyActor, KeySnapshot, RecordOutcome, Retire};
use crate::config::ProviderCatalog;
use crate::db::api_keys::ApiKeyRow;
use crate::db::Db;
use crate::routing::{BidBoard, KeyLive, KeyProfile, ModelSet, Outcome};
use crate::writer::WriterHandle;

#[derive(Clone)]
pub struct KeyRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    actors: DashMap<i32, Addr<KeyActor>>,
    arbiter: ArbiterHandle,
    board: BidBoard,
    db: Db,
    writer: WriterHandle,
    catalog: Arc<ProviderCatalog>,
}

impl KeyRegistry {
    pub fn new(
        arbiter: ArbiterHandle,
        board: BidBoard,
        db: Db,
        writer: WriterHandle,
        catalog: Arc<ProviderCatalog>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                actors: DashMap::new(),
                arbiter,
                board,
                db,
                writer,
                catalog,
            }),
        }
    }

    /// The settled part of a key, or why it cannot be served.
    pub fn profile(&self, row: &ApiKeyRow) -> Result<KeyProfile, String> {
        build_profile(&self.inner.catalog, row)
    }

    /// Starts the supervised actor for a stored key. Its first bid is published before this
    /// returns, so the key is routable as soon as the admin API answers.
    pub fn spawn(&self, row: &ApiKeyRow) -> Result<(), String> {
        let profile = Arc::new(self.profile(row)?);
        let inner = &self.inner;
        inner
            .board
            .publish(KeyLive::from_row(row).bid(profile.clone(), 0));
        let (board, db, writer, row) = (
            inner.board.clone(),
            inner.db.clone(),
            inner.writer.clone(),
            row.clone(),
        );
        let id = row.id;
        let addr = Supervisor::start_in_arbiter(&inner.arbiter, move |_ctx| {
            KeyActor::new(profile, &row, board, db, writer)
        });
        inner.actors.insert(id, addr);
        Ok(())
    }

    /// Adopts an admin edit; the new bid is visible before this returns.
    pub fn apply_edit(&self, row: &ApiKeyRow) -> Result<(), String> {
        let profile = Arc::new(self.profile(row)?);
        let Some(addr) = self.inner.actors.get(&row.id).map(|a| a.clone()) else {
            return self.spawn(row);
        };
        let generation = self.inner.board.get(row.id).map_or(0, |b| b.generation);
        let mut live = KeyLive::from_row(row);
        if let Some(current) = self.inner.board.get(row.id) {
            live.usage.latency_ewma_ms = current.latency_ewma_ms;
        }
        self.inner
            .board
            .publish(live.bid(profile.clone(), generation));
        addr.do_send(ApplyEdit {
            profile,
            row: row.clone(),
        });
        Ok(())
    }

    pub fn retire(&self, id: i32) {
        if let Some((_, addr)) = self.inner.actors.remove(&id) {
            addr.do_send(Retire);
        }
        self.inner.board.withdraw(id);
    }

    /// Fire-and-forget accounting from the request path.
    pub fn record(&self, id: i32, outcome: Outcome) {
        if let Some(addr) = self.inner.actors.get(&id) {
            addr.do_send(RecordOutcome(outcome));
        }
    }

    pub async fn snapshot(&self, id: i32) -> Option<KeySnapshot> {
        let addr = self.inner.actors.get(&id).map(|a| a.clone())?;
        addr.send(GetSnapshot).await.ok()
    }

    /// The actor's address (for supervision tests).
    pub fn addr(&self, id: i32) -> Option<Addr<KeyActor>> {
        self.inner.actors.get(&id).map(|a| a.clone())
    }

    pub fn board(&self) -> &BidBoard {
        &self.inner.board
    }

    pub fn len(&self) -> usize {
        self.inner.actors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.actors.is_empty()
    }
}

pub fn build_profile(catalog: &ProviderCatalog, row: &ApiKeyRow) -> Result<KeyProfile, String> {
    let provider = catalog
        .get(&row.provider)
        .ok_or_else(|| format!("provider {:?} is not configured", row.provider))?
        .clone();
    let models: Vec<String> = serde_json::from_str(&row.models)
        .map_err(|e| format!("stored model list is invalid: {e}"))?;
    let azure_deployments: HashMap<String, String> =
        serde_json::from_str(&row.azure_deployments)
            .map_err(|e| format!("stored Azure deployments are invalid: {e}"))?;
    Ok(KeyProfile {
        id: row.id,
        uid: row.uid.clone(),
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
        cost_per_request: row.cost_per_request,
        quota_unit: crate::routing::key_live::parse_quota_unit(&row.quota_unit),
        azure_api_version: row.azure_api_version.clone(),
        azure_deployments,
    })
}
