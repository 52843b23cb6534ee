//! The database failures an operator can act on (a read-only file, a lock held by another
//! process, a full disk) told apart from the rest, and the latest one the server ran into, which
//! `/api/health` reports. Proxied calls never wait on the database, so none of these stops them.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use super::DbError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// The file or its folder cannot be written (a read-only mount, another owner).
    ReadOnly,
    /// Another process holds the database's write lock beyond the busy timeout.
    Busy,
    /// The disk is full.
    Full,
}

impl StorageFault {
    /// The fault behind `error`, if it is one of these. diesel passes on SQLite's message
    /// (`sqlite3_errmsg`), not its result code, so the message is what is read.
    pub fn of(error: &DbError) -> Option<Self> {
        match error {
            DbError::Query(diesel::result::Error::DatabaseError(_, info)) => {
                Self::from_message(info.message())
            }
            DbError::Migration(message) => Self::from_message(message),
            _ => None,
        }
    }

    pub(super) fn from_message(message: &str) -> Option<Self> {
        if message.contains("readonly database") {
            Some(Self::ReadOnly)
        } else if message.contains("database is locked") || message.contains("table is locked") {
            Some(Self::Busy)
        } else if message.contains("database or disk is full") {
            Some(Self::Full)
        } else {
            None
        }
    }

    /// The value of `database` in `/api/health`.
    pub fn label(self) -> &'static str {
        match self {
            Self::ReadOnly => "read_only",
            Self::Busy => "busy",
            Self::Full => "full",
        }
    }

    /// The error `code` of an API call that could not save its change.
    pub fn code(self) -> &'static str {
        match self {
            Self::ReadOnly => "database_read_only",
            Self::Busy => "database_busy",
            Self::Full => "database_full",
        }
    }

    /// What the operator is told.
    pub fn explain(self) -> &'static str {
        match self {
            Self::ReadOnly => {
                "The database is read-only, so this change was not saved. Proxied calls are still \
                 served with the stored keys; make the data folder writable and restart api-proxy."
            }
            Self::Busy => {
                "The database is locked by another process, so this change was not saved; try \
                 again."
            }
            Self::Full => {
                "The disk holding the database is full, so this change was not saved. Proxied \
                 calls are still served; free some space and try again."
            }
        }
    }
}

/// The latest storage fault, shared by every handle of one database. A failure with a fault sets
/// it; a write that succeeds clears it.
#[derive(Debug, Default)]
pub struct StorageStatus {
    current: AtomicU8,
    /// Failures so far per fault (read-only, busy, full), for `/metrics`.
    counts: [AtomicU64; 3],
}

const FAULTS: [StorageFault; 3] = [
    StorageFault::ReadOnly,
    StorageFault::Busy,
    StorageFault::Full,
];

const NONE: u8 = 0;

impl StorageStatus {
    pub fn get(&self) -> Option<StorageFault> {
        match self.current.load(Ordering::Acquire) {
            1 => Some(StorageFault::ReadOnly),
            2 => Some(StorageFault::Busy),
            3 => Some(StorageFault::Full),
            _ => None,
        }
    }

    pub fn set(&self, fault: Option<StorageFault>) {
        let value = match fault {
            None => NONE,
            Some(StorageFault::ReadOnly) => 1,
            Some(StorageFault::Busy) => 2,
            Some(StorageFault::Full) => 3,
        };
        if value != NONE {
            self.counts[usize::from(value - 1)].fetch_add(1, Ordering::Relaxed);
        }
        self.current.store(value, Ordering::Release);
    }

    /// How many failures each fault has caused so far, by [`StorageFault::label`].
    pub fn fault_counts(&self) -> Vec<(&'static str, u64)> {
        FAULTS
            .iter()
            .zip(&self.counts)
            .map(|(fault, count)| (fault.label(), count.load(Ordering::Relaxed)))
            .collect()
    }

    /// Records the fault behind `error`, if it is one; returns it.
    pub fn note(&self, error: &DbError) -> Option<StorageFault> {
        let fault = StorageFault::of(error);
        if fault.is_some() {
            self.set(fault);
        }
        fault
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages_name_their_fault() {
        // SQLite's own texts for SQLITE_READONLY, SQLITE_BUSY, SQLITE_LOCKED and SQLITE_FULL.
        let cases = [
            (
                "attempt to write a readonly database",
                Some(StorageFault::ReadOnly),
            ),
            ("database is locked", Some(StorageFault::Busy)),
            ("database table is locked", Some(StorageFault::Busy)),
            ("database or disk is full", Some(StorageFault::Full)),
            ("UNIQUE constraint failed: api_keys.uid", None),
            ("no such table: call_logs", None),
        ];
        for (message, fault) in cases {
            assert_eq!(StorageFault::from_message(message), fault, "{message}");
        }
        let migration = DbError::Migration(
            "Failed to run 2026_x with: attempt to write a readonly database".into(),
        );
        assert_eq!(StorageFault::of(&migration), Some(StorageFault::ReadOnly));
    }

    #[test]
    fn the_status_keeps_the_latest_fault_until_cleared() {
        let status = StorageStatus::default();
        assert_eq!(status.get(), None);
        for fault in [
            StorageFault::ReadOnly,
            StorageFault::Busy,
            StorageFault::Full,
        ] {
            status.set(Some(fault));
            assert_eq!(status.get(), Some(fault));
        }
        // Another kind of failure leaves it as it was.
        assert_eq!(status.note(&DbError::Corrupt("x".into())), None);
        assert_eq!(status.get(), Some(StorageFault::Full));
        status.set(None);
        assert_eq!(status.get(), None);
    }
}
