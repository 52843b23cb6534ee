//! What instances sharing one PostgreSQL database agree on through it: a change counter every
//! edit raises (the others poll it and reload), request quotas and client-key spend changed by
//! atomic SQL, and key verdicts. On SQLite (one process) the counter is left alone and none of
//! the rest is called.

use diesel::prelude::*;

use super::api_keys::ApiKeyUsage;
use super::schema::{api_keys, client_keys, fleet_changes, key_cooling};
use super::{AnyConnection, DbError};

const ROW: i32 = 1;

/// Tells the other instances that keys, settings or client keys changed (call after the change,
/// in the same transaction where there is one). Nothing to tell on SQLite.
pub fn announce(conn: &mut AnyConnection) -> Result<(), DbError> {
    if let AnyConnection::Pg(c) = conn {
        diesel::update(fleet_changes::table.find(ROW))
            .set(fleet_changes::version.eq(fleet_changes::version + 1))
            .execute(c)?;
    }
    Ok(())
}

/// The change counter now.
pub fn version(conn: &mut AnyConnection) -> Result<i64, DbError> {
    Ok(on_backend!(conn, |c| fleet_changes::table
        .find(ROW)
        .select(fleet_changes::version)
        .get_result(c))?)
}

/// Takes up to `n` requests from a key's request quota at once (a lease), atomically: how many
/// it took and the quota left after; `None` when none is left. Whole requests only: a quota of
/// 2.5 leases 2. PostgreSQL only (SQLite serves one process, which keeps its quota in memory).
pub fn lease_requests(
    conn: &mut AnyConnection,
    key_id: i32,
    n: i64,
) -> Result<Option<(i64, f64)>, DbError> {
    #[derive(QueryableByName)]
    struct Leased {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        taken: i64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        remaining: f64,
    }
    let AnyConnection::Pg(c) = conn else {
        return Err(DbError::Corrupt("a lease needs the shared database".into()));
    };
    // The row is locked by the UPDATE itself; `old` reads the value it replaces.
    let leased = diesel::sql_query(
        "WITH old AS (SELECT id, quota_remaining FROM api_keys WHERE id = $1 FOR UPDATE) \
         UPDATE api_keys AS k \
         SET quota_remaining = k.quota_remaining - LEAST($2, FLOOR(old.quota_remaining)) \
         FROM old WHERE k.id = old.id AND old.quota_remaining >= 1 \
         RETURNING LEAST($2, FLOOR(old.quota_remaining))::BIGINT AS taken, \
                   k.quota_remaining AS remaining",
    )
    .bind::<diesel::sql_types::Integer, _>(key_id)
    .bind::<diesel::sql_types::BigInt, _>(n)
    .get_result::<Leased>(c)
    .optional()?;
    Ok(leased.map(|l| (l.taken, l.remaining)))
}

/// Gives `n` requests back to a key's request quota (a lease not used up).
pub fn return_requests(conn: &mut AnyConnection, key_id: i32, n: i64) -> Result<(), DbError> {
    let n = n as f64;
    on_backend!(conn, |c| diesel::update(
        api_keys::table
            .find(key_id)
            .filter(api_keys::quota_remaining.is_not_null())
    )
    .set(api_keys::quota_remaining.eq(api_keys::quota_remaining + n))
    .execute(c))?;
    Ok(())
}

/// A key's quota left as stored now (`Some(None)`: no quota; `None`: no such key).
pub fn quota_left(conn: &mut AnyConnection, key_id: i32) -> Result<Option<Option<f64>>, DbError> {
    Ok(on_backend!(conn, |c| api_keys::table
        .find(key_id)
        .select(api_keys::quota_remaining)
        .get_result(c)
        .optional())?)
}

/// Subtracts `amount` (tokens or USD spent) from a key's quota; returns what is left. The
/// instance that empties it tells the others, which would otherwise learn it with their next
/// spend.
pub fn spend_quota(
    conn: &mut AnyConnection,
    key_id: i32,
    amount: f64,
) -> Result<Option<f64>, DbError> {
    let left: Option<Option<f64>> = on_backend!(&mut *conn, |c| diesel::update(
        api_keys::table
            .find(key_id)
            .filter(api_keys::quota_remaining.is_not_null())
    )
    .set(api_keys::quota_remaining.eq(api_keys::quota_remaining - amount))
    .returning(api_keys::quota_remaining)
    .get_result(c)
    .optional())?;
    let left = left.flatten();
    if left.is_some_and(|l| l <= 0.0 && l + amount > 0.0) {
        announce(conn)?;
    }
    Ok(left)
}

/// Records a verdict every instance must heed (the provider refused the key, or said it is out
/// of credit); announces it when it is new. Cleared only by an edit (a new secret, re-enabling).
pub fn record_verdict(
    conn: &mut AnyConnection,
    key_id: i32,
    auth_dead: bool,
    quota_rejected: bool,
) -> Result<bool, DbError> {
    let mut changed = 0;
    if auth_dead {
        changed += on_backend!(&mut *conn, |c| diesel::update(
            api_keys::table
                .find(key_id)
                .filter(api_keys::auth_dead.eq(false))
        )
        .set(api_keys::auth_dead.eq(true))
        .execute(c))?;
    }
    if quota_rejected {
        changed += on_backend!(&mut *conn, |c| diesel::update(
            api_keys::table
                .find(key_id)
                .filter(api_keys::quota_rejected.eq(false))
        )
        .set(api_keys::quota_rejected.eq(true))
        .execute(c))?;
    }
    if changed > 0 {
        announce(conn)?;
    }
    Ok(changed > 0)
}

/// Records that a key is throttled or cooling down until `until` (Unix ms), unless as late a
/// deadline is already recorded; announces it when it is new.
pub fn record_cooling(conn: &mut AnyConnection, key_id: i32, until: i64) -> Result<bool, DbError> {
    let inserted = on_backend!(&mut *conn, |c| diesel::insert_into(key_cooling::table)
        .values((
            key_cooling::key_id.eq(key_id),
            key_cooling::until_ms.eq(until)
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    let changed = inserted
        + on_backend!(&mut *conn, |c| diesel::update(
            key_cooling::table
                .find(key_id)
                .filter(key_cooling::until_ms.lt(until))
        )
        .set(key_cooling::until_ms.eq(until))
        .execute(c))?;
    if changed > 0 {
        announce(conn)?;
    }
    Ok(changed > 0)
}

/// Every key's recorded cool-down deadline (Unix ms), past ones included.
pub fn cooling(conn: &mut AnyConnection) -> Result<Vec<(i32, i64)>, DbError> {
    Ok(on_backend!(conn, |c| key_cooling::table
        .select((key_cooling::key_id, key_cooling::until_ms))
        .load(c))?)
}

/// The counters a key's actor keeps that are not shared: latency averages and last use. (On a
/// shared database the quota, verdicts and totals are changed by their own statements.)
pub fn save_local_usage(
    conn: &mut AnyConnection,
    key_id: i32,
    latency_ewma_ms: Option<f64>,
    ttfb_ewma_ms: Option<f64>,
    last_used_at: Option<i64>,
) -> Result<(), DbError> {
    on_backend!(conn, |c| diesel::update(api_keys::table.find(key_id))
        .set((
            api_keys::latency_ewma_ms.eq(latency_ewma_ms),
            api_keys::ttfb_ewma_ms.eq(ttfb_ewma_ms),
            api_keys::last_used_at.eq(last_used_at),
        ))
        .execute(c))?;
    Ok(())
}

/// Adds one instance's calls since its last save to a key's totals.
pub fn add_key_totals(
    conn: &mut AnyConnection,
    key_id: i32,
    calls: i64,
    errors: i64,
    tokens: i64,
    cost_usd: f64,
) -> Result<(), DbError> {
    on_backend!(conn, |c| diesel::update(api_keys::table.find(key_id))
        .set((
            api_keys::total_calls.eq(api_keys::total_calls + calls),
            api_keys::total_errors.eq(api_keys::total_errors + errors),
            api_keys::total_tokens.eq(api_keys::total_tokens + tokens),
            api_keys::total_cost_usd.eq(api_keys::total_cost_usd + cost_usd),
        ))
        .execute(c))?;
    Ok(())
}

/// A client key's spend in its current period, as every instance has charged it.
pub fn client_spend(conn: &mut AnyConnection, id: i32) -> Result<Option<(f64, i64)>, DbError> {
    Ok(on_backend!(conn, |c| client_keys::table
        .find(id)
        .select((client_keys::spent_usd, client_keys::spent_period_start))
        .get_result(c)
        .optional())?)
}

/// Charges `usd` to a client key's spend in the period starting at `period_start` (a new period
/// starts from zero); returns the spend after it.
pub fn charge_client(
    conn: &mut AnyConnection,
    id: i32,
    usd: f64,
    period_start: i64,
) -> Result<f64, DbError> {
    let same = on_backend!(&mut *conn, |c| diesel::update(
        client_keys::table
            .find(id)
            .filter(client_keys::spent_period_start.eq(period_start))
    )
    .set(client_keys::spent_usd.eq(client_keys::spent_usd + usd))
    .returning(client_keys::spent_usd)
    .get_result::<f64>(c)
    .optional())?;
    if let Some(spent) = same {
        return Ok(spent);
    }
    // The period turned: the first charge of the new one replaces the old spend.
    let fresh = on_backend!(&mut *conn, |c| diesel::update(
        client_keys::table
            .find(id)
            .filter(client_keys::spent_period_start.lt(period_start))
    )
    .set((
        client_keys::spent_usd.eq(usd),
        client_keys::spent_period_start.eq(period_start),
    ))
    .returning(client_keys::spent_usd)
    .get_result::<f64>(c)
    .optional())?;
    match fresh {
        Some(spent) => Ok(spent),
        // Another instance started the period between the two statements: add to it.
        None => Ok(
            on_backend!(conn, |c| diesel::update(client_keys::table.find(id))
                .set(client_keys::spent_usd.eq(client_keys::spent_usd + usd))
                .returning(client_keys::spent_usd)
                .get_result::<f64>(c)
                .optional())?
            .unwrap_or(0.0),
        ),
    }
}

/// Writes a key's counters on a shared database, as the difference from `since` (what this
/// instance last wrote or loaded): totals are added to, verdicts only ever set (an edit clears
/// them), and a refill for a new period is written once, by whichever instance turns it first.
/// The quota itself is changed by [`lease_requests`] and [`spend_quota`], not here.
pub fn save_usage_since(
    conn: &mut AnyConnection,
    key_id: i32,
    usage: &ApiKeyUsage,
    since: Option<&ApiKeyUsage>,
) -> Result<(), DbError> {
    // Without a baseline nothing is known to be new: only the averages are written.
    let base = since.unwrap_or(usage);
    let calls = usage.total_calls - base.total_calls;
    let errors = usage.total_errors - base.total_errors;
    let tokens = usage.total_tokens - base.total_tokens;
    let cost = usage.total_cost_usd - base.total_cost_usd;
    if calls != 0 || errors != 0 || tokens != 0 || cost != 0.0 {
        add_key_totals(conn, key_id, calls, errors, tokens, cost)?;
    }
    save_local_usage(
        conn,
        key_id,
        usage.latency_ewma_ms,
        usage.ttfb_ewma_ms,
        usage.last_used_at,
    )?;
    let new_auth_dead = usage.auth_dead && !base.auth_dead;
    let new_rejected = usage.quota_rejected && !base.quota_rejected;
    if new_auth_dead || new_rejected {
        record_verdict(conn, key_id, new_auth_dead, new_rejected)?;
    }
    if let (Some(next), Some(total)) = (usage.quota_reset_at, usage.quota_remaining) {
        if base.quota_reset_at.is_some_and(|before| next > before) {
            refill(conn, key_id, total, next)?;
        }
    }
    Ok(())
}

/// Refills a key's quota to `total` for the period ending at `next_reset_at`, unless an instance
/// already did.
pub fn refill(
    conn: &mut AnyConnection,
    key_id: i32,
    total: f64,
    next_reset_at: i64,
) -> Result<(), DbError> {
    let changed = on_backend!(&mut *conn, |c| diesel::update(
        api_keys::table.find(key_id).filter(
            api_keys::quota_reset_at
                .is_null()
                .or(api_keys::quota_reset_at.lt(next_reset_at))
        )
    )
    .set((
        api_keys::quota_remaining.eq(total),
        api_keys::quota_reset_at.eq(next_reset_at),
        api_keys::quota_rejected.eq(false),
    ))
    .execute(c))?;
    if changed > 0 {
        announce(conn)?;
    }
    Ok(())
}
