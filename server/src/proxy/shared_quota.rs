//! Request quotas and client-key budgets on a database shared by several instances
//! (PostgreSQL). Before a request goes up, one request is taken from its key's quota there by
//! one atomic `UPDATE … WHERE quota_remaining >= 1`, so however many instances serve, no more
//! requests reach the provider than the quota holds; a request that ends without using it (a
//! failure, a client gone) gives it back. A token or USD quota is read before the call and
//! charged by the key's actor after it: overdrawn by no more than the calls in flight. A client key's spend is charged there by an atomic
//! `spent_usd = spent_usd + cost` when each call ends, and read before each call is admitted:
//! a budget is overdrawn by no more than the calls in flight when it ran out (those on other
//! instances, whose reservations this one cannot see, included). On SQLite (one process) the
//! in-memory budgets do all this without SQL.

use shared::keys::QuotaUnit;

use std::sync::Arc;

use crate::client_limits::ClientKey;
use crate::db::{fleet, Db};
use crate::error::ApiError;
use crate::routing::Picked;
use crate::state::AppState;

/// Whether `picked` may go up: `false` when its quota is used up across the fleet. A request
/// quota is taken here; a token or USD quota is only checked (what a call spends is known when
/// it ends, and subtracted then by the key's actor).
pub async fn take(state: &AppState, picked: &mut Picked) -> Result<bool, ApiError> {
    if !state.keys.shared_quota() || picked.bid.quota_remaining.is_none() {
        return Ok(true);
    }
    let id = picked.bid.key_id();
    if picked.bid.profile.quota_unit != QuotaUnit::Requests {
        let left = state
            .db
            .run(move |conn| fleet::quota_left(conn, id))
            .await?
            .flatten();
        if left.is_some_and(|l| l <= 0.0) {
            state.keys.sync_quota(id, left);
            return Ok(false);
        }
        return Ok(true);
    }
    let taken = state
        .db
        .run(move |conn| fleet::take_request(conn, id))
        .await?;
    let Some(left) = taken else {
        state.keys.sync_quota(id, Some(0.0));
        return Ok(false);
    };
    state.keys.sync_quota(id, left);
    if left.is_some() {
        let db = state.db.clone();
        picked.lease.refund_shared_with(move || {
            // Not waited for: the request is over either way.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = db.run(move |conn| fleet::refund_request(conn, id)).await {
                        tracing::warn!(key_id = id, error = %e, "could not give back a shared quota request");
                    }
                });
            }
        });
    }
    Ok(true)
}

/// Adopts what the other instances charged to `key`'s budget, before a call is admitted. A
/// database that does not answer leaves the count as it was (the call is not refused for it).
pub async fn refresh_client_budget(state: &AppState, key: Arc<ClientKey>) {
    if !state.keys.shared_quota() || !key.has_budget() {
        return;
    }
    let id = key.id;
    // Into the current period first: a spend of an older one is not adopted.
    key.budget_period(state.clock.now_ms());
    match state
        .db
        .run(move |conn| fleet::client_spend(conn, id))
        .await
    {
        Ok(Some((spent, start))) => key.observe_shared_spend(spent, start),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(client_key_id = id, error = %e, "could not read the shared client-key spend")
        }
    }
}

/// Charges a finished call's cost to `key`'s spend in the shared database (not waited for).
pub fn charge_client(db: &Db, key: Arc<ClientKey>, cost_usd: f64, now_ms: i64) {
    if cost_usd <= 0.0 {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let db = db.clone();
    let period = key.budget_period(now_ms);
    runtime.spawn(async move {
        let id = key.id;
        match db
            .run(move |conn| fleet::charge_client(conn, id, cost_usd, period))
            .await
        {
            Ok(spent) => key.observe_shared_spend(spent, period),
            Err(e) => tracing::warn!(client_key_id = id, error = %e, "could not charge the shared client-key spend"),
        }
    });
}
