//! The batch writer: one thread that owns database writes coming from the hot path (call logs and
//! key counters). Senders never block; the thread groups what has arrived into one transaction
//! per batch (whatever arrived within `flush_interval` of the first op), coalescing
//! counter updates per key. A [`WriterHandle::flush`] barrier waits until everything sent before it
//! is on disk, which gives read-after-write consistency to `/api/logs` and `/api/stats`.
//!
//! Bounded under pressure. Call logs travel in a channel of [`CHANNEL_CAPACITY`] entries; the
//! writer empties it every batch, even while the database refuses writes (it then keeps up to
//! [`MAX_PENDING_LOGS`] rows for a retry). The channel fills only when one write takes longer than
//! that many calls (a database locked by another process for seconds under heavy load): a call
//! whose log row finds it full does not wait; the row is dropped, counted, and the count is
//! logged (at most once a minute). Key counters do not travel in the channel: each key's latest
//! counters wait in a map the writer takes with every batch (state, not events: the newest
//! replaces the older, so they are bounded by the number of keys and never dropped).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::Connection;
use tokio::sync::oneshot;

use crate::db::api_keys::{self, ApiKeyUsage};
use crate::db::call_logs::{self, NewCallLog};
use crate::db::{fleet, rollups};
use crate::db::{Backend, Db, DbError};

/// Row capacity a batch keeps between writes: a 100 ms batch at 20,000 calls/s.
const RETAINED_ROWS: usize = 2_048;

/// Rows kept for a retry when the database refuses a batch; beyond this the oldest are dropped.
pub const MAX_PENDING_LOGS: usize = 100_000;

/// Entries the channel to the writer holds: about three seconds of calls at 20,000 a second.
pub const CHANNEL_CAPACITY: usize = 65_536;

/// While writes keep failing (a read-only or full disk), the failure is logged this often, not
/// once per batch.
const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// While writes keep failing, what is kept is tried again this often even if nothing new comes.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

enum WriteOp {
    /// A finished call: always counted in the rollups; its row kept if `keep_row`.
    Log {
        row: Box<NewCallLog>,
        keep_row: bool,
    },
    /// Key counters are waiting in [`Shared::usages`].
    Wake,
    Barrier(oneshot::Sender<()>),
    Shutdown,
}

/// What the handles and the writer thread share besides the channel.
#[derive(Default)]
struct Shared {
    /// Each key's latest counters, not yet written.
    usages: Mutex<HashMap<i32, ApiKeyUsage>>,
    /// Counters a key's actor started from (loaded from its row): on a shared database the
    /// totals are written as what was added since.
    baselines: Mutex<HashMap<i32, ApiKeyUsage>>,
    /// Call-log rows dropped because the channel was full.
    dropped_logs: AtomicU64,
    /// Call-log rows in the channel, not yet taken by the writer (for `/metrics`).
    queued: AtomicI64,
}

/// Cheap to clone; sending never blocks the caller.
#[derive(Clone)]
pub struct WriterHandle {
    tx: SyncSender<WriteOp>,
    shared: Arc<Shared>,
}

impl WriterHandle {
    /// Queues a finished call's row; dropped (and counted) when the writer is that far behind.
    pub fn log(&self, row: NewCallLog, keep_row: bool) {
        let op = WriteOp::Log {
            row: Box::new(row),
            keep_row,
        };
        // Counted before the send: the writer may take the row before `try_send` returns.
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        // Disconnected only after shutdown, when nothing can be written any more.
        if let Err(e) = self.tx.try_send(op) {
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
            if let TrySendError::Full(_) = e {
                self.shared.dropped_logs.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A key's counters now; they replace any of its counters not yet written.
    pub fn key_usage(&self, id: i32, usage: ApiKeyUsage) {
        let first = {
            let mut usages = self.shared.usages.lock().unwrap_or_else(|p| p.into_inner());
            usages.insert(id, usage).is_none() && usages.len() == 1
        };
        if first {
            // A full channel means the writer is busy and will take the map with its batch.
            let _ = self.tx.try_send(WriteOp::Wake);
        }
    }

    /// The counters a key's actor (re)started from, as loaded from its row. Only a shared
    /// database needs them: there each instance adds its own calls to the stored totals.
    pub fn key_baseline(&self, id: i32, usage: ApiKeyUsage) {
        self.shared
            .baselines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, usage);
    }

    /// Call-log rows sent and not yet taken by the writer.
    pub fn queue_depth(&self) -> i64 {
        self.shared.queued.load(Ordering::Relaxed).max(0)
    }

    /// Call-log rows dropped so far because the writer was too far behind.
    pub fn dropped_logs(&self) -> u64 {
        self.shared.dropped_logs.load(Ordering::Relaxed)
    }

    /// Resolves once everything sent before this call has been written (or failed to be).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        let barrier = WriteOp::Barrier(tx);
        let sent = match self.tx.try_send(barrier) {
            Ok(()) => true,
            Err(TrySendError::Disconnected(_)) => false,
            // Behind a full channel: wait for room off the async executor.
            Err(TrySendError::Full(barrier)) => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || tx.send(barrier).is_ok())
                    .await
                    .unwrap_or(false)
            }
        };
        if sent {
            let _ = rx.await;
        }
    }
}

/// The writer thread; [`BatchWriter::shutdown`] writes what is left and joins it.
pub struct BatchWriter {
    handle: WriterHandle,
    thread: Option<JoinHandle<()>>,
}

impl BatchWriter {
    pub fn spawn(db: Db, flush_interval: Duration) -> std::io::Result<Self> {
        Self::spawn_with_capacity(db, flush_interval, CHANNEL_CAPACITY)
    }

    /// [`BatchWriter::spawn`] with a chosen channel capacity (tests fill a small one).
    pub fn spawn_with_capacity(
        db: Db,
        flush_interval: Duration,
        capacity: usize,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel(capacity);
        let shared = Arc::new(Shared::default());
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("api-proxy-writer".into())
            .spawn(move || run(db, rx, flush_interval, &thread_shared))?;
        Ok(Self {
            handle: WriterHandle { tx, shared },
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Writes the last batch and stops the thread (blocking; call from a blocking context). Key
    /// counters handed over before this call are in that batch.
    pub fn shutdown(mut self) {
        let _ = self.handle.tx.send(WriteOp::Shutdown);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Default)]
struct Batch {
    logs: Vec<NewCallLog>,
    /// Rows of `logs` that are only counted in the rollups, not stored.
    rollup_only: Vec<NewCallLog>,
    usages: HashMap<i32, ApiKeyUsage>,
    /// On a shared database: each key's counters as last written (or loaded), to write the
    /// difference.
    written: HashMap<i32, ApiKeyUsage>,
    barriers: Vec<oneshot::Sender<()>>,
    failing: Option<Failing>,
    /// Dropped rows already reported, and when they last were.
    reported_drops: u64,
    drops_logged: Option<Instant>,
}

/// Writes have been failing since `since`; last logged at `logged`; `dropped` rows given up.
struct Failing {
    since: Instant,
    logged: Instant,
    dropped: usize,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.logs.is_empty()
            && self.rollup_only.is_empty()
            && self.usages.is_empty()
            && self.barriers.is_empty()
    }
}

fn run(db: Db, rx: Receiver<WriteOp>, flush_interval: Duration, shared: &Shared) {
    let mut batch = Batch::default();
    let mut stopping = false;
    while !stopping {
        // Block for the first op: an idle server costs nothing. While writes fail, wake up
        // every RETRY_INTERVAL anyway, so what is kept is written (and the fault cleared) soon
        // after the database takes writes again, not only when the next call comes.
        let first = if batch.failing.is_some() {
            match rx.recv_timeout(RETRY_INTERVAL) {
                Err(RecvTimeoutError::Timeout) => None,
                other => Some(other.map_err(|_| ())),
            }
        } else {
            Some(rx.recv().map_err(|_| ()))
        };
        match first {
            Some(Ok(op)) => stopping |= add(&mut batch, op, shared),
            Some(Err(())) => stopping = true,
            None => {}
        }
        // Then let the batch fill while this thread sleeps, instead of being woken by every call
        // (a wake-up per request was a measurable share of the proxy's CPU). A barrier or
        // shutdown that arrives first is served at once.
        if !stopping && batch.barriers.is_empty() {
            std::thread::sleep(flush_interval);
        }
        while let Ok(op) = rx.try_recv() {
            stopping |= add(&mut batch, op, shared);
        }
        // Taken after the channel: counters handed over before a barrier or the shutdown are in
        // this batch.
        let usages = std::mem::take(&mut *shared.usages.lock().unwrap_or_else(|p| p.into_inner()));
        // Newer than any kept from a failed batch.
        batch.usages.extend(usages);
        let baselines =
            std::mem::take(&mut *shared.baselines.lock().unwrap_or_else(|p| p.into_inner()));
        batch.written.extend(baselines);
        report_drops(&mut batch, shared);
        write(&db, &mut batch);
    }
}

/// Logs the call-log rows dropped at the channel since the last report, at most once a minute.
fn report_drops(batch: &mut Batch, shared: &Shared) {
    let dropped = shared.dropped_logs.load(Ordering::Relaxed);
    if dropped == batch.reported_drops
        || batch
            .drops_logged
            .is_some_and(|at| at.elapsed() < FAILURE_LOG_INTERVAL)
    {
        return;
    }
    tracing::error!(
        dropped_logs = dropped - batch.reported_drops,
        dropped_total = dropped,
        "the call-log writer fell behind the calls by {CHANNEL_CAPACITY} entries; rows were dropped rather than delay calls"
    );
    batch.reported_drops = dropped;
    batch.drops_logged = Some(Instant::now());
}

/// Returns true on shutdown.
fn add(batch: &mut Batch, op: WriteOp, shared: &Shared) -> bool {
    if let WriteOp::Log { .. } = op {
        shared.queued.fetch_sub(1, Ordering::Relaxed);
    }
    match op {
        WriteOp::Log {
            row,
            keep_row: true,
        } => batch.logs.push(*row),
        WriteOp::Log {
            row,
            keep_row: false,
        } => batch.rollup_only.push(*row),
        WriteOp::Wake => {}
        WriteOp::Barrier(tx) => batch.barriers.push(tx),
        WriteOp::Shutdown => return true,
    }
    false
}

fn write(db: &Db, batch: &mut Batch) {
    if batch.is_empty() {
        return;
    }
    let result = db.conn().and_then(|mut conn| {
        conn.transaction::<_, DbError, _>(|conn| {
            call_logs::insert_batch(conn, &batch.logs)?;
            rollups::add_batch(conn, &batch.logs)?;
            rollups::add_batch(conn, &batch.rollup_only)?;
            for (id, usage) in &batch.usages {
                match db.backend() {
                    Backend::Sqlite => api_keys::save_usage(conn, *id, usage)?,
                    Backend::Postgres => {
                        fleet::save_usage_since(conn, *id, usage, batch.written.get(id))?;
                    }
                }
            }
            Ok(())
        })
    });
    match result {
        Ok(()) => {
            db.storage().set(None);
            if let Some(failing) = batch.failing.take() {
                tracing::warn!(
                    failing_for_secs = failing.since.elapsed().as_secs(),
                    written_logs = batch.logs.len(),
                    dropped_logs = failing.dropped,
                    "the database takes writes again; the call logs kept meanwhile are written"
                );
            }
            batch.logs.clear();
            batch.rollup_only.clear();
            if db.backend() == Backend::Postgres {
                batch.written.extend(batch.usages.drain());
            }
            batch.usages.clear();
            // A burst (a slow commit, a backlog) leaves big buffers behind; keep a normal
            // batch's worth, not the largest ever seen.
            batch.logs.shrink_to(RETAINED_ROWS);
            batch.rollup_only.shrink_to(RETAINED_ROWS);
        }
        Err(e) => {
            let fault = db.storage().note(&e);
            let now = Instant::now();
            let failing = batch.failing.get_or_insert(Failing {
                since: now,
                logged: now,
                dropped: 0,
            });
            // Bounded while the database refuses: the oldest rows go first.
            for rows in [&mut batch.logs, &mut batch.rollup_only] {
                let excess = rows.len().saturating_sub(MAX_PENDING_LOGS);
                rows.drain(..excess);
                failing.dropped += excess;
            }
            if failing.since == now || now.duration_since(failing.logged) >= FAILURE_LOG_INTERVAL {
                failing.logged = now;
                tracing::error!(
                    error = %e,
                    fault = fault.map(|f| f.label()),
                    failing_for_secs = now.duration_since(failing.since).as_secs(),
                    pending_logs = batch.logs.len(),
                    dropped_logs = failing.dropped,
                    "could not write call logs; they are kept (the oldest dropped beyond {MAX_PENDING_LOGS}) and retried with the next batch"
                );
            }
        }
    }
    for tx in batch.barriers.drain(..) {
        let _ = tx.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::api_keys::NewApiKey;

    fn key_row() -> NewApiKey {
        NewApiKey {
            uid: "u1".into(),
            provider: "openai".into(),
            name: "k".into(),
            secret_ciphertext: vec![0; 16],
            secret_hint: "…".into(),
            base_url: None,
            models: "[]".into(),
            priority: None,
            enabled: true,
            cost_per_request: 0.0,
            quota_total: None,
            quota_remaining: Some(10.0),
            quota_unit: "requests".into(),
            azure_api_version: None,
            azure_deployments: "{}".into(),
            created_at: 0,
            updated_at: 0,
            weight: 1,
            quota_reset: None,
            quota_reset_at: None,
            price_overrides: "{}".into(),
            seal_version: 2,
        }
    }

    fn log_row(n: i64) -> NewCallLog {
        NewCallLog {
            created_at: n,
            request_id: format!("req_{n}"),
            key_id: None,
            key_name: None,
            provider: None,
            model: "gpt-4o".into(),
            endpoint: "chat/completions".into(),
            stream: false,
            status: 200,
            error: None,
            latency_ms: 1,
            ttfb_ms: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cached_tokens: 0,
            total_tokens: 0,
            cost_usd: 0.0,
            attempts: 1,
            client_key_id: None,
            attempt_trail: None,
            price_input: None,
            price_output: None,
            price_cached_input: None,
            price_cache_write: None,
            price_per_call: None,
        }
    }

    #[tokio::test]
    async fn a_full_channel_drops_call_logs_but_never_key_counters() {
        let dir = tempfile::TempDir::new().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let id = db
            .run(|conn| api_keys::insert(conn, &key_row()))
            .await
            .unwrap()
            .id;
        // Two entries of room; the writer sleeps a long batch window after its first entry, so
        // the channel stays full meanwhile.
        let writer =
            BatchWriter::spawn_with_capacity(db.clone(), Duration::from_millis(300), 2).unwrap();
        let handle = writer.handle();
        for n in 0..5 {
            handle.log(log_row(n), true);
        }
        let dropped = handle.dropped_logs();
        assert!(
            dropped >= 2,
            "{dropped}: the channel holds 2, the writer took at most 1"
        );
        // Counters do not travel in the channel: the latest per key is kept and written.
        for remaining in [9.0, 8.0, 7.0] {
            handle.key_usage(
                id,
                ApiKeyUsage {
                    quota_remaining: Some(remaining),
                    auth_dead: false,
                    total_calls: 10 - remaining as i64,
                    total_errors: 0,
                    total_tokens: 0,
                    total_cost_usd: 0.0,
                    latency_ewma_ms: None,
                    ttfb_ewma_ms: None,
                    last_used_at: None,
                    quota_rejected: false,
                    quota_reset_at: None,
                },
            );
        }
        // A barrier behind a full channel still goes through.
        handle.flush().await;
        let (rows, key) = db
            .run(move |conn| {
                let rows = call_logs::page(conn, &Default::default(), 10)?.len() as u64;
                Ok((rows, api_keys::get(conn, id)?.unwrap()))
            })
            .await
            .unwrap();
        assert_eq!(
            rows + dropped,
            5,
            "every row is written or counted as dropped"
        );
        assert_eq!(key.quota_remaining, Some(7.0), "the newest counters");
        assert_eq!(key.total_calls, 3);
        tokio::task::spawn_blocking(move || writer.shutdown())
            .await
            .unwrap();
    }
}
