//! The process's own footprint for `GET /api/runtime`: memory, descriptors and threads from
//! `/proc/self`, and the open client connections, counted by a guard that lives in each
//! connection's extensions. (Tokio's task metrics do not see actix's tasks: they run on
//! `LocalSet`s, outside the runtime's own task list.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Open client connections.
#[derive(Default, Clone)]
pub struct ConnectionGauge(Arc<AtomicU64>);

impl ConnectionGauge {
    /// Counts one connection until the returned guard is dropped (with the connection).
    pub fn open(&self) -> ConnectionGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        ConnectionGuard(self.0.clone())
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

pub struct ConnectionGuard(Arc<AtomicU64>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resident memory in bytes.
pub fn rss_bytes() -> Option<u64> {
    status_field("VmRSS:").map(|kb| kb * 1024)
}

pub fn threads() -> Option<u64> {
    status_field("Threads:")
}

pub fn open_fds() -> Option<u64> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| dir.count() as u64)
}

/// A numeric field of `/proc/self/status` (`VmRSS:   1234 kB`).
fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_process_footprint_is_read() {
        assert!(rss_bytes().unwrap() > 1024 * 1024);
        assert!(threads().unwrap() >= 1);
        let before = open_fds().unwrap();
        let file = std::fs::File::open("/proc/self/status").unwrap();
        assert!(open_fds().unwrap() > before, "an open file is counted");
        drop(file);
    }

    #[test]
    fn connections_are_counted_while_their_guards_live() {
        let gauge = ConnectionGauge::default();
        let (a, b) = (gauge.open(), gauge.open());
        assert_eq!(gauge.get(), 2);
        drop(a);
        assert_eq!(gauge.get(), 1);
        drop(b);
        assert_eq!(gauge.get(), 0);
    }
}
