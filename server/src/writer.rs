//! The batch writer: one thread that owns database writes coming from the hot path (call logs and
//! key counters). Senders never block; the thread groups what has arrived into one transaction
//! per batch (whatever arrived within `flush_interval` of the first op), coalescing
//! counter updates per key. A [`WriterHandle::flush`] barrier waits until everything sent before it
//! is on disk, which gives read-after-write consistency to `/api/logs` and `/api/stats`.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::Connection;
use tokio::sync::oneshot;

use crate::db::api_keys::{self, ApiKeyUsage};
use crate::db::call_logs::{self, NewCallLog};
use crate::db::rollups;
use crate::db::{Db, DbError};

/// Row capacity a batch keeps between writes: a 100 ms batch at 20,000 calls/s.
const RETAINED_ROWS: usize = 2_048;

/// Rows kept for a retry when the database refuses a batch; beyond this the oldest are dropped.
const MAX_PENDING_LOGS: usize = 100_000;

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
    KeyUsage {
        id: i32,
        usage: ApiKeyUsage,
    },
    Barrier(oneshot::Sender<()>),
    Shutdown,
}

/// Cheap to clone; sending never blocks.
#[derive(Clone)]
pub struct WriterHandle {
    tx: Sender<WriteOp>,
}

impl WriterHandle {
    pub fn log(&self, row: NewCallLog, keep_row: bool) {
        // A send fails only after shutdown, when nothing can be written any more.
        let _ = self.tx.send(WriteOp::Log {
            row: Box::new(row),
            keep_row,
        });
    }

    pub fn key_usage(&self, id: i32, usage: ApiKeyUsage) {
        let _ = self.tx.send(WriteOp::KeyUsage { id, usage });
    }

    /// Resolves once everything sent before this call has been written (or failed to be).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(WriteOp::Barrier(tx)).is_ok() {
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
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("api-proxy-writer".into())
            .spawn(move || run(db, rx, flush_interval))?;
        Ok(Self {
            handle: WriterHandle { tx },
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Writes the last batch and stops the thread (blocking; call from a blocking context).
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
    barriers: Vec<oneshot::Sender<()>>,
    failing: Option<Failing>,
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

fn run(db: Db, rx: Receiver<WriteOp>, flush_interval: Duration) {
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
            Some(Ok(op)) => stopping |= add(&mut batch, op),
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
            stopping |= add(&mut batch, op);
        }
        write(&db, &mut batch);
    }
}

/// Returns true on shutdown.
fn add(batch: &mut Batch, op: WriteOp) -> bool {
    match op {
        WriteOp::Log {
            row,
            keep_row: true,
        } => batch.logs.push(*row),
        WriteOp::Log {
            row,
            keep_row: false,
        } => batch.rollup_only.push(*row),
        WriteOp::KeyUsage { id, usage } => {
            batch.usages.insert(id, usage);
        }
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
                api_keys::save_usage(conn, *id, usage)?;
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
