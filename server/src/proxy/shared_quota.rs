//! Request quotas and client-key budgets on a database shared by several instances
//! (PostgreSQL). Before a request goes up, it takes one request from its key's quota: from the
//! lease its instance holds, or else from the database by one atomic `UPDATE … WHERE
//! quota_remaining >= 1` that takes a small lease for the requests after it ([`lease_size`]: one
//! at a time near the end); the requests that find the lease empty meanwhile wait for it. However many instances serve, no more requests reach the provider
//! than the quota holds; a request that ends without using it (a failure, a client gone) puts
//! it back into the lease, and an idle lease goes back to the database. A token or USD quota is read before the call and
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
use crate::routing::{KeyCounters, Picked};
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
    let Some(counters) = state.keys.key_counters(id) else {
        return Ok(true);
    };
    let now = state.clock.now_ms();
    let give_back = |picked: &mut Picked, counters: Arc<KeyCounters>| {
        // Back into this instance's lease: the next request takes it without a query.
        picked
            .lease
            .refund_shared_with(move || counters.add_leased(1, now));
    };
    if counters.draw_leased(now) {
        lease_ahead(
            state,
            id,
            &counters,
            picked.bid.quota_remaining.unwrap_or(0.0),
        );
        give_back(picked, counters);
        return Ok(true);
    }
    // One request at a time takes a lease; those that find it empty meanwhile wait for it.
    let taking = counters.lock_leasing().await;
    if counters.draw_leased(now) {
        drop(taking);
        give_back(picked, counters);
        return Ok(true);
    }
    let n = lease_size(picked.bid.quota_remaining.unwrap_or(0.0));
    let leased = state
        .db
        .run(move |conn| fleet::lease_requests(conn, id, n))
        .await;
    drop(taking);
    match leased? {
        Some((taken, left)) => {
            counters.add_leased(taken - 1, now);
            state.keys.sync_quota(id, Some(left));
            give_back(picked, counters);
            Ok(true)
        }
        None => {
            // Used up, unless the quota was removed meanwhile.
            let left = state
                .db
                .run(move |conn| fleet::quota_left(conn, id))
                .await?;
            match left {
                Some(None) => Ok(true),
                _ => {
                    state.keys.sync_quota(id, Some(0.0));
                    Ok(false)
                }
            }
        }
    }
}

/// Takes the next lease in the background when half of this one is used, so that requests do
/// not wait for it; only while plenty is left (near the end requests go one by one, and none
/// is held ahead of need).
fn lease_ahead(state: &AppState, id: i32, counters: &Arc<KeyCounters>, known_left: f64) {
    let n = lease_size(known_left);
    if n == 1 || counters.leased() * 2 >= n {
        return;
    }
    let Some(taking) = counters.try_lock_leasing() else {
        return;
    };
    let (db, keys, counters) = (state.db.clone(), state.keys.clone(), counters.clone());
    let now = state.clock.now_ms();
    actix::spawn(async move {
        match db.run(move |conn| fleet::lease_requests(conn, id, n)).await {
            Ok(Some((taken, left))) => {
                counters.add_leased(taken, now);
                drop(taking);
                keys.sync_quota(id, Some(left));
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(key_id = id, error = %e, "could not lease from the shared quota")
            }
        }
    });
}

/// How many requests of a shared request quota an instance takes at once, from the quota left
/// as it last saw it: one at a time near the end (so the last requests go to whichever instance
/// asks, and none is held back), up to [`MAX_LEASE`] while plenty is left.
pub fn lease_size(known_left: f64) -> i64 {
    ((known_left / LEASE_DIVISOR).floor() as i64).clamp(1, MAX_LEASE)
}

/// The most requests one lease takes. An instance holds at most two (the next one is taken when
/// half of this one is used); what it holds unused goes back after a second without calls, or
/// when it stops (a `kill -9` loses it: the quota is then under-used by at most twice this,
/// never overdrawn).
pub const MAX_LEASE: i64 = 128;
/// A lease is at most this share of the quota left.
const LEASE_DIVISOR: f64 = 64.0;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_shrink_to_single_requests_near_the_end() {
        assert_eq!(lease_size(0.0), 1);
        assert_eq!(lease_size(100.0), 1);
        assert_eq!(lease_size(127.0), 1);
        assert_eq!(lease_size(640.0), 10);
        assert_eq!(lease_size(1e9), MAX_LEASE);
    }
}
