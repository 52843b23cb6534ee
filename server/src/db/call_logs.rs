//! The `call_logs` table: written in batches by the log writer, read newest-first with keyset
//! pagination, and aggregated for `/api/stats`.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::SqliteConnection;

use super::schema::call_logs;
use super::DbError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = call_logs)]
pub struct CallLogRow {
    pub id: i32,
    pub created_at: i64,
    pub request_id: String,
    pub key_id: Option<i32>,
    pub key_name: Option<String>,
    pub provider: Option<String>,
    pub model: String,
    pub endpoint: String,
    pub stream: bool,
    pub status: i32,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub ttfb_ms: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub total_tokens: i64,
    pub cost_usd: f64,
    pub attempts: i32,
    pub client_key_id: Option<i32>,
    /// JSON array of the attempts: key, status, error.
    pub attempt_trail: Option<String>,
    pub price_input: Option<f64>,
    pub price_output: Option<f64>,
    pub price_cached_input: Option<f64>,
    pub price_cache_write: Option<f64>,
    pub price_per_call: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = call_logs)]
pub struct NewCallLog {
    pub created_at: i64,
    pub request_id: String,
    pub key_id: Option<i32>,
    pub key_name: Option<String>,
    pub provider: Option<String>,
    pub model: String,
    pub endpoint: String,
    pub stream: bool,
    pub status: i32,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub ttfb_ms: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub total_tokens: i64,
    pub cost_usd: f64,
    pub attempts: i32,
    pub client_key_id: Option<i32>,
    /// JSON array of the attempts: key, status, error.
    pub attempt_trail: Option<String>,
    pub price_input: Option<f64>,
    pub price_output: Option<f64>,
    pub price_cached_input: Option<f64>,
    pub price_cache_write: Option<f64>,
    pub price_per_call: Option<f64>,
}

pub fn insert_batch(conn: &mut SqliteConnection, rows: &[NewCallLog]) -> Result<(), DbError> {
    diesel::insert_into(call_logs::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

/// Which rows `page` returns.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub before: Option<i32>,
    pub key_id: Option<i32>,
    pub model: Option<String>,
    pub status: Option<StatusFilter>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatusFilter {
    Exact(i32),
    Success,
    Error,
}

/// Newest first, at most `limit` rows with `id < before`.
pub fn page(
    conn: &mut SqliteConnection,
    filter: &LogFilter,
    limit: i64,
) -> Result<Vec<CallLogRow>, DbError> {
    let mut query = call_logs::table
        .select(CallLogRow::as_select())
        .order(call_logs::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = filter.before {
        query = query.filter(call_logs::id.lt(before));
    }
    if let Some(key_id) = filter.key_id {
        query = query.filter(call_logs::key_id.eq(key_id));
    }
    if let Some(model) = &filter.model {
        query = query.filter(call_logs::model.eq(model.clone()));
    }
    query = match filter.status {
        None => query,
        Some(StatusFilter::Exact(code)) => query.filter(call_logs::status.eq(code)),
        Some(StatusFilter::Success) => query.filter(call_logs::status.lt(400)),
        Some(StatusFilter::Error) => query.filter(call_logs::status.ge(400)),
    };
    Ok(query.load(conn)?)
}

/// Deletes rows older than `cutoff_ms`; returns how many.
pub fn delete_older_than(conn: &mut SqliteConnection, cutoff_ms: i64) -> Result<usize, DbError> {
    Ok(
        diesel::delete(call_logs::table.filter(call_logs::created_at.lt(cutoff_ms)))
            .execute(conn)?,
    )
}

/// The dimension `/api/stats` groups by. Each maps to a fixed SQL expression (never user input).
#[derive(Debug, Clone, Copy)]
pub enum StatsGroup {
    Total,
    Key,
    Provider,
    Model,
}

impl StatsGroup {
    fn expr(self) -> &'static str {
        match self {
            Self::Total => "'total'",
            Self::Key => "CAST(key_id AS TEXT)",
            Self::Provider => "provider",
            Self::Model => "model",
        }
    }
}

#[derive(Debug, Clone, QueryableByName)]
pub struct StatsAggregate {
    #[diesel(sql_type = Nullable<Text>)]
    pub grp: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub label: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub calls: i64,
    #[diesel(sql_type = BigInt)]
    pub errors: i64,
    #[diesel(sql_type = BigInt)]
    pub prompt_tokens: i64,
    #[diesel(sql_type = BigInt)]
    pub completion_tokens: i64,
    #[diesel(sql_type = BigInt)]
    pub total_tokens: i64,
    #[diesel(sql_type = Double)]
    pub cost_usd: f64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub p50: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub p95: Option<i64>,
}

/// Counts, sums and nearest-rank latency percentiles (over successful calls) per group.
/// Calls since `since_ms` (Unix ms; 0 for all time).
pub fn aggregate(
    conn: &mut SqliteConnection,
    group: StatsGroup,
    since_ms: i64,
) -> Result<Vec<StatsAggregate>, DbError> {
    let g = group.expr();
    let sql = format!(
        "WITH sums AS (
            SELECT {g} AS grp, MAX(key_name) AS label, COUNT(*) AS calls,
                   COALESCE(SUM(status >= 400), 0) AS errors,
                   COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
                   COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
                   COALESCE(SUM(total_tokens), 0) AS total_tokens,
                   COALESCE(SUM(cost_usd), 0.0) AS cost_usd
            FROM call_logs WHERE created_at >= {since_ms} GROUP BY 1
        ), ranked AS (
            SELECT {g} AS grp, latency_ms,
                   ROW_NUMBER() OVER (PARTITION BY {g} ORDER BY latency_ms) AS rn,
                   COUNT(*) OVER (PARTITION BY {g}) AS cnt
            FROM call_logs WHERE status < 400 AND created_at >= {since_ms}
        ), pct AS (
            SELECT grp, MIN(CASE WHEN rn >= cnt * 0.50 THEN latency_ms END) AS p50,
                        MIN(CASE WHEN rn >= cnt * 0.95 THEN latency_ms END) AS p95
            FROM ranked GROUP BY grp
        )
        SELECT sums.grp AS grp, sums.label AS label, calls, errors, prompt_tokens, completion_tokens,
               total_tokens, cost_usd, pct.p50 AS p50, pct.p95 AS p95
        FROM sums LEFT JOIN pct ON sums.grp IS pct.grp
        ORDER BY cost_usd DESC, calls DESC"
    );
    Ok(diesel::sql_query(sql).load(conn)?)
}
