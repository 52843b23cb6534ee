//! Several instances on one PostgreSQL database: each polls the change counter every edit and
//! verdict raises (`db::fleet::announce`) and, when it moved, reloads what may have changed:
//! keys (added, edited, deleted, and the verdicts other instances reached on them), settings and
//! client keys. An edit through any instance is so on all of them within [`POLL_INTERVAL`] plus
//! one reload. Polling one indexed row is a query per interval per instance, and it needs no
//! connection held open for `LISTEN`, so it survives a database restart without a reconnect
//! path of its own.

use std::collections::HashMap;
use std::time::Duration;

use crate::db::api_keys::{self, ApiKeyRow};
use crate::db::{client_keys, fleet, settings, DbError};
use crate::routing::{EditEffects, Health};
use crate::state::AppState;

/// How often the change counter is read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A lease of a shared request quota nothing drew on for this long goes back to the database.
const LEASE_IDLE_MS: i64 = 1_000;

/// What an instance last loaded of each key, to tell which reload is an edit.
pub struct FleetSync {
    version: i64,
    rows: HashMap<i32, ApiKeyRow>,
}

/// Everything a reload reads, in one trip to the blocking pool.
struct Snapshot {
    version: i64,
    keys: Vec<ApiKeyRow>,
    cooling: Vec<(i32, i64)>,
    settings: shared::settings::Settings,
    clients: Vec<client_keys::ClientKeyRow>,
}

impl FleetSync {
    /// Starts from the rows the instance was started with; `version` read before them, so an
    /// edit made meanwhile is reloaded once more rather than missed.
    pub fn new(version: i64, rows: &[ApiKeyRow]) -> Self {
        Self {
            version,
            rows: rows.iter().map(|r| (r.id, r.clone())).collect(),
        }
    }

    /// Polls forever.
    pub async fn run(mut self, state: AppState) {
        let mut every = tokio::time::interval(POLL_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = self.poll(&state).await {
                tracing::warn!(error = %e, "could not read the other instances' changes");
            }
            return_leases(&state, Some(state.clock.now_ms() - LEASE_IDLE_MS)).await;
        }
    }

    /// Reloads if the counter moved.
    pub async fn poll(&mut self, state: &AppState) -> Result<(), DbError> {
        let version = state.db.run(fleet::version).await?;
        if version == self.version {
            return Ok(());
        }
        let snapshot = state
            .db
            .run(|conn| {
                // The counter first: a change after it is seen by the next poll.
                let version = fleet::version(conn)?;
                Ok(Snapshot {
                    version,
                    keys: api_keys::list(conn)?,
                    cooling: fleet::cooling(conn)?,
                    settings: settings::load(conn)?,
                    clients: client_keys::list(conn)?,
                })
            })
            .await?;
        self.apply(state, snapshot).await;
        Ok(())
    }

    async fn apply(&mut self, state: &AppState, snapshot: Snapshot) {
        let now = state.clock.now_ms();
        let mut seen = HashMap::with_capacity(snapshot.keys.len());
        let served = state.keys.ids();
        for row in snapshot.keys {
            let id = row.id;
            match self.rows.get(&id) {
                None if !served.contains(&id) => {
                    if let Err(reason) = state.keys.spawn(&row) {
                        tracing::warn!(key_id = id, %reason, "key added on another instance cannot be served");
                    }
                }
                Some(before) if !same_settings(before, &row) => {
                    if let Err(reason) = state.keys.apply_edit(&row, effects(before, &row)).await {
                        tracing::warn!(key_id = id, %reason, "key edited on another instance");
                    }
                }
                _ => {}
            }
            if row.auth_dead {
                state.keys.adopt_verdict(id, Health::AuthDead);
            } else if row.quota_rejected {
                state.keys.adopt_verdict(id, Health::QuotaExhausted);
            }
            if row.quota_remaining.is_some() {
                state.keys.sync_quota(id, row.quota_remaining);
            }
            seen.insert(id, row);
        }
        for id in served {
            if !seen.contains_key(&id) {
                tracing::info!(key_id = id, "key deleted on another instance");
                state.keys.retire(id);
            }
        }
        for (id, until_ms) in snapshot.cooling {
            if until_ms > now && seen.contains_key(&id) {
                state.keys.adopt_verdict(id, Health::Throttled { until_ms });
            }
        }
        self.rows = seen;
        state.replace_settings(snapshot.settings);
        for row in &snapshot.clients {
            if state.client_keys.by_hash(&row.key_hash).is_some() {
                state.client_keys.update(row);
            } else {
                state.client_keys.insert(row);
            }
        }
        self.version = snapshot.version;
    }
}

/// Gives the requests of idle leases (every lease when `idle_before` is `None`: shutdown) back to
/// the shared quotas, so the other instances can use them.
pub async fn return_leases(state: &AppState, idle_before: Option<i64>) {
    for (id, n) in state.keys.take_back_leases(idle_before) {
        if let Err(e) = state
            .db
            .run(move |conn| fleet::return_requests(conn, id, n))
            .await
        {
            tracing::warn!(key_id = id, error = %e, "could not give a quota lease back");
        }
    }
}

/// Whether an admin edit changed `after` (the counters, quota left and verdicts change with
/// every call and are not edits).
fn same_settings(before: &ApiKeyRow, after: &ApiKeyRow) -> bool {
    before.updated_at == after.updated_at
        && before.enabled == after.enabled
        && before.secret_ciphertext == after.secret_ciphertext
}

/// What an edit made on another instance means here: the rules of `key_store::update_key`,
/// read from the rows before and after.
fn effects(before: &ApiKeyRow, after: &ApiKeyRow) -> EditEffects {
    let cleared =
        (before.auth_dead && !after.auth_dead) || (before.quota_rejected && !after.quota_rejected);
    EditEffects {
        reset_health: before.secret_ciphertext != after.secret_ciphertext
            || before.base_url != after.base_url
            || (after.enabled && !before.enabled)
            || cleared,
        quota_edited: before.quota_total != after.quota_total
            || before.quota_unit != after.quota_unit
            || before.quota_reset != after.quota_reset
            || cleared,
    }
}
