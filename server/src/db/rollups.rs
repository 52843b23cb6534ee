//! `usage_minute` and `usage_hour`: call counts, tokens, cost and a latency histogram per
//! (bucket, key, model). The batch writer adds each batch of call logs to both in the same
//! transaction, so statistics and charts read a few thousand rollup rows instead of millions of logs.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::upsert::excluded;
use shared::stats::{StatsRow, TimePoint};

use super::call_logs::NewCallLog;
use super::schema::{usage_hour, usage_minute};
use super::{AnyConnection, DbError};
use crate::metrics::live::Totals;
use crate::metrics::LatencyHistogram;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
/// The advisory lock (a number of our own) the writers of a shared database take in turn.
const ROLLUP_LOCK: i64 = 0x726f_6c6c_7570_7321; // "rollups!"
/// Minute rollups are kept this long (the charts need one hour of them).
pub const MINUTE_RETENTION_MS: i64 = 2 * DAY_MS;

#[derive(Debug, Clone)]
pub struct RollupRow {
    pub bucket: i64,
    pub key_id: i32,
    pub key_name: String,
    pub provider: String,
    pub model: String,
    pub calls: i64,
    pub errors: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    pub latency_hist: Vec<u8>,
}

type RollupTuple = (
    i64,
    i32,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    f64,
    Vec<u8>,
);

/// Every column of a rollup table, in [`RollupTuple`] order (both tables share them).
macro_rules! columns {
    ($t:ident) => {
        (
            $t::bucket,
            $t::key_id,
            $t::key_name,
            $t::provider,
            $t::model,
            $t::calls,
            $t::errors,
            $t::prompt_tokens,
            $t::completion_tokens,
            $t::cost_usd,
            $t::latency_hist,
        )
    };
}

impl From<RollupTuple> for RollupRow {
    fn from(t: RollupTuple) -> Self {
        Self {
            bucket: t.0,
            key_id: t.1,
            key_name: t.2,
            provider: t.3,
            model: t.4,
            calls: t.5,
            errors: t.6,
            prompt_tokens: t.7,
            completion_tokens: t.8,
            cost_usd: t.9,
            latency_hist: t.10,
        }
    }
}

/// A rollup row being built in memory.
#[derive(Debug, Clone, Default)]
struct Acc {
    key_name: String,
    provider: String,
    calls: i64,
    errors: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_usd: f64,
    latency: LatencyHistogram,
}

impl Acc {
    fn add_row(&mut self, r: &RollupRow) {
        self.calls += r.calls;
        self.errors += r.errors;
        self.prompt_tokens = self.prompt_tokens.saturating_add(r.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(r.completion_tokens);
        self.cost_usd += r.cost_usd;
        self.latency
            .merge(&LatencyHistogram::from_bytes(&r.latency_hist));
    }
}

type GroupKey = (i64, i32, String);

/// The batch's totals per group. A batch holds few groups (bucket, key, model) and many rows, so
/// the groups are found by a scan that borrows the row's model, not by hashing an owned copy of
/// it for every row.
fn accumulate(logs: &[NewCallLog], width: i64) -> Vec<(GroupKey, Acc)> {
    let mut groups: Vec<(GroupKey, Acc)> = Vec::new();
    for log in logs {
        let bucket = log.created_at.div_euclid(width) * width;
        let key_id = log.key_id.unwrap_or(0);
        let found = groups
            .iter()
            .position(|((b, k, m), _)| *b == bucket && *k == key_id && *m == log.model);
        let index = found.unwrap_or_else(|| {
            groups.push(((bucket, key_id, log.model.clone()), Acc::default()));
            groups.len() - 1
        });
        let acc = &mut groups[index].1;
        if let Some(name) = &log.key_name {
            acc.key_name.clone_from(name);
        }
        if let Some(provider) = &log.provider {
            acc.provider.clone_from(provider);
        }
        acc.calls += 1;
        if log.status >= 400 {
            acc.errors += 1;
        } else {
            acc.latency.record(log.latency_ms);
        }
        acc.prompt_tokens = acc.prompt_tokens.saturating_add(log.prompt_tokens);
        acc.completion_tokens = acc.completion_tokens.saturating_add(log.completion_tokens);
        acc.cost_usd += log.cost_usd;
    }
    groups
}

macro_rules! upsert_into {
    ($table:ident, $conn:expr, $groups:expr) => {{
        for ((bucket, key_id, model), mut acc) in $groups {
            let existing: Option<RollupRow> = on_backend!(&mut *$conn, |c| $table::table
                .find((bucket, key_id, model.clone()))
                .select(columns!($table))
                // Not `first`: its bound `LIMIT ?` makes SQLite re-prepare the statement on every
                // run (a bound limit may change the plan); the primary key gives one row anyway.
                .get_result::<RollupTuple>(c)
                .optional())?
            .map(RollupRow::from);
            if let Some(row) = existing {
                if acc.key_name.is_empty() {
                    acc.key_name = row.key_name.clone();
                }
                if acc.provider.is_empty() {
                    acc.provider = row.provider.clone();
                }
                acc.add_row(&row);
            }
            let values = (
                $table::bucket.eq(bucket),
                $table::key_id.eq(key_id),
                $table::key_name.eq(acc.key_name),
                $table::provider.eq(acc.provider),
                $table::model.eq(model),
                $table::calls.eq(acc.calls),
                $table::errors.eq(acc.errors),
                $table::prompt_tokens.eq(acc.prompt_tokens),
                $table::completion_tokens.eq(acc.completion_tokens),
                $table::cost_usd.eq(acc.cost_usd),
                $table::latency_hist.eq(acc.latency.to_bytes()),
            );
            on_backend!(&mut *$conn, |c| diesel::insert_into($table::table)
                .values(values)
                .on_conflict(($table::bucket, $table::key_id, $table::model))
                .do_update()
                .set((
                    $table::key_name.eq(excluded($table::key_name)),
                    $table::provider.eq(excluded($table::provider)),
                    $table::calls.eq(excluded($table::calls)),
                    $table::errors.eq(excluded($table::errors)),
                    $table::prompt_tokens.eq(excluded($table::prompt_tokens)),
                    $table::completion_tokens.eq(excluded($table::completion_tokens)),
                    $table::cost_usd.eq(excluded($table::cost_usd)),
                    $table::latency_hist.eq(excluded($table::latency_hist)),
                ))
                .execute(c))?;
        }
    }};
}

/// Adds a batch of logs to both rollups (call inside the batch's transaction).
pub fn add_batch(conn: &mut AnyConnection, logs: &[NewCallLog]) -> Result<(), DbError> {
    if logs.is_empty() {
        return Ok(());
    }
    // Each row is read, merged and written back: on a shared PostgreSQL database the instances'
    // writers take turns (the lock is released when the batch's transaction ends).
    if let AnyConnection::Pg(c) = &mut *conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(ROLLUP_LOCK)
            .execute(c)?;
    }
    upsert_into!(usage_minute, conn, accumulate(logs, MINUTE_MS));
    upsert_into!(usage_hour, conn, accumulate(logs, HOUR_MS));
    Ok(())
}

pub fn prune_minutes(conn: &mut AnyConnection, now_ms: i64) -> Result<usize, DbError> {
    Ok(on_backend!(conn, |c| diesel::delete(
        usage_minute::table.filter(usage_minute::bucket.lt(now_ms - MINUTE_RETENTION_MS)),
    )
    .execute(c))?)
}

/// How `/api/stats` groups the hourly rollups.
#[derive(Debug, Clone, Copy)]
pub enum Grouping {
    Total,
    Key,
    Provider,
    Model,
}

fn stats_row(group: String, key_id: Option<i64>, acc: &Acc) -> StatsRow {
    StatsRow {
        group,
        key_id,
        calls: acc.calls,
        errors: acc.errors,
        prompt_tokens: acc.prompt_tokens,
        completion_tokens: acc.completion_tokens,
        total_tokens: acc.prompt_tokens.saturating_add(acc.completion_tokens),
        cost_usd: acc.cost_usd,
        latency_p50_ms: acc.latency.percentile(0.5),
        latency_p95_ms: acc.latency.percentile(0.95),
    }
}

fn hour_rows(conn: &mut AnyConnection, since_ms: i64) -> Result<Vec<RollupRow>, DbError> {
    Ok(on_backend!(conn, |c| usage_hour::table
        .filter(usage_hour::bucket.ge(since_ms.div_euclid(HOUR_MS) * HOUR_MS))
        .select(columns!(usage_hour))
        .load::<RollupTuple>(c))?
    .into_iter()
    .map(RollupRow::from)
    .collect())
}

/// Rows per group since `since_ms`, most expensive first.
pub fn stats(
    conn: &mut AnyConnection,
    grouping: Grouping,
    since_ms: i64,
) -> Result<Vec<StatsRow>, DbError> {
    let rows = hour_rows(conn, since_ms)?;
    let mut groups: BTreeMap<(String, Option<i64>), Acc> = BTreeMap::new();
    for r in &rows {
        let key = match grouping {
            Grouping::Total => ("total".to_owned(), None),
            Grouping::Key => (
                if r.key_name.is_empty() {
                    "(no key)".to_owned()
                } else {
                    r.key_name.clone()
                },
                (r.key_id != 0).then_some(i64::from(r.key_id)),
            ),
            Grouping::Provider => (
                if r.provider.is_empty() {
                    "(none)".to_owned()
                } else {
                    r.provider.clone()
                },
                None,
            ),
            Grouping::Model => (r.model.clone(), None),
        };
        groups.entry(key).or_default().add_row(r);
    }
    let mut out: Vec<StatsRow> = groups
        .iter()
        .map(|((g, id), acc)| stats_row(g.clone(), *id, acc))
        .collect();
    out.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(b.calls.cmp(&a.calls))
    });
    Ok(out)
}

/// Buckets of `bucket_ms` from `since_ms` to `now_ms`, empty ones included.
pub fn timeseries(
    conn: &mut AnyConnection,
    minutes: bool,
    since_ms: i64,
    now_ms: i64,
    bucket_ms: i64,
) -> Result<Vec<TimePoint>, DbError> {
    let rows: Vec<RollupRow> = if minutes {
        on_backend!(conn, |c| usage_minute::table
            .filter(usage_minute::bucket.ge(since_ms))
            .select(columns!(usage_minute))
            .load::<RollupTuple>(c))?
        .into_iter()
        .map(RollupRow::from)
        .collect()
    } else {
        hour_rows(conn, since_ms)?
    };
    let first = since_ms.div_euclid(bucket_ms) * bucket_ms;
    let mut buckets: BTreeMap<i64, Acc> = (0..)
        .map(|i| first + i * bucket_ms)
        .take_while(|t| *t <= now_ms)
        .map(|t| (t, Acc::default()))
        .collect();
    for r in &rows {
        let t = r.bucket.div_euclid(bucket_ms) * bucket_ms;
        if let Some(acc) = buckets.get_mut(&t) {
            acc.add_row(r);
        }
    }
    Ok(buckets
        .into_iter()
        .map(|(t, acc)| TimePoint {
            t,
            calls: acc.calls,
            errors: acc.errors,
            tokens: acc.prompt_tokens.saturating_add(acc.completion_tokens),
            cost_usd: acc.cost_usd,
            latency_p50_ms: acc.latency.percentile(0.5),
            latency_p95_ms: acc.latency.percentile(0.95),
        })
        .collect())
}

/// Totals for the live statistics at start-up.
pub fn totals(conn: &mut AnyConnection, now_ms: i64) -> Result<Totals, DbError> {
    let midnight = now_ms.div_euclid(DAY_MS) * DAY_MS;
    let mut t = Totals::default();
    for r in hour_rows(conn, 0)? {
        let tokens = r.prompt_tokens.saturating_add(r.completion_tokens);
        t.calls_total += r.calls;
        t.tokens_total = t.tokens_total.saturating_add(tokens);
        t.cost_total += r.cost_usd;
        if r.bucket >= midnight {
            t.calls_today += r.calls;
            t.tokens_today = t.tokens_today.saturating_add(tokens);
            t.cost_today += r.cost_usd;
        }
    }
    Ok(t)
}
