//! Failed admin authentications are throttled per peer: after [`MAX_FAILURES`] within
//! [`WINDOW_MS`] of a peer's first failure, its admin requests (the websocket included) get 429
//! with `Retry-After` until the window ends, whatever token they carry, so the admin token cannot
//! be guessed at network speed.
//!
//! Touched only where it matters: a request that authenticates reads one atomic (the time before
//! which no peer is blocked) and never the map, unless a peer is blocked right now. The map is
//! written only on a failed authentication and holds at most [`MAX_PEERS`] peers (expired
//! windows go first, then the oldest that is not blocked). IPv6 peers count per /64, the block an
//! attacker usually has.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

/// Failed authentications a peer may make within a window.
pub const MAX_FAILURES: u32 = 10;
/// A window starts at a peer's first failure.
pub const WINDOW_MS: i64 = 60_000;
/// Peers remembered at once.
pub const MAX_PEERS: usize = 4_096;

/// Who is throttled: an IPv4 address, or an IPv6 /64 (IPv4-mapped IPv6 counts as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerId(u128);

impl PeerId {
    pub fn of(ip: Option<IpAddr>) -> Self {
        match ip {
            None => Self(0),
            Some(IpAddr::V4(v4)) => Self(u128::from(u32::from(v4))),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(u128::from(u32::from(v4))),
                None => Self(u128::from(v6) & !u128::from(u64::MAX)),
            },
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: i64,
    failures: u32,
}

impl Window {
    fn end(self) -> i64 {
        self.start_ms + WINDOW_MS
    }

    fn blocks(self, now_ms: i64) -> bool {
        self.failures >= MAX_FAILURES && now_ms < self.end()
    }
}

#[derive(Debug, Default)]
pub struct AuthThrottle {
    peers: Mutex<HashMap<PeerId, Window>>,
    /// No peer is blocked at or after this time (Unix ms).
    blocked_until: AtomicI64,
}

/// Seconds until `until`, at least 1.
fn secs_until(until_ms: i64, now_ms: i64) -> u64 {
    ((until_ms - now_ms).max(0) as u64).div_ceil(1000).max(1)
}

impl AuthThrottle {
    /// `Err(seconds to wait)` while `peer` is blocked.
    pub fn check(&self, peer: PeerId, now_ms: i64) -> Result<(), u64> {
        if now_ms >= self.blocked_until.load(Ordering::Acquire) {
            return Ok(());
        }
        let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        match peers.get(&peer) {
            Some(w) if w.blocks(now_ms) => Err(secs_until(w.end(), now_ms)),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication by `peer`.
    pub fn record_failure(&self, peer: PeerId, now_ms: i64) {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if peers.len() >= MAX_PEERS && !peers.contains_key(&peer) {
            make_room(&mut peers, now_ms);
        }
        let window = peers.entry(peer).or_insert(Window {
            start_ms: now_ms,
            failures: 0,
        });
        if now_ms >= window.end() {
            *window = Window {
                start_ms: now_ms,
                failures: 0,
            };
        }
        window.failures += 1;
        if window.failures >= MAX_FAILURES {
            self.blocked_until.fetch_max(window.end(), Ordering::AcqRel);
        }
    }

    /// Peers remembered now.
    pub fn len(&self) -> usize {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Frees one place at least: expired windows first, then the oldest window that blocks nobody,
/// and only if every peer is blocked, the oldest of all.
fn make_room(peers: &mut HashMap<PeerId, Window>, now_ms: i64) {
    peers.retain(|_, w| now_ms < w.end());
    if peers.len() < MAX_PEERS {
        return;
    }
    let oldest = |blocking: bool| {
        peers
            .iter()
            .filter(|(_, w)| w.blocks(now_ms) == blocking)
            .min_by_key(|(_, w)| w.start_ms)
            .map(|(id, _)| *id)
    };
    if let Some(id) = oldest(false).or_else(|| oldest(true)) {
        peers.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(text: &str) -> PeerId {
        PeerId::of(Some(text.parse().unwrap()))
    }

    #[test]
    fn ten_failures_a_minute_then_blocked_until_the_window_ends() {
        let t = AuthThrottle::default();
        let p = peer("203.0.113.9");
        for i in 0..MAX_FAILURES {
            assert_eq!(
                t.check(p, i64::from(i)),
                Ok(()),
                "failure {i} is still answered"
            );
            t.record_failure(p, i64::from(i));
        }
        assert_eq!(
            t.check(p, 10),
            Err(60),
            "blocked for the rest of the minute"
        );
        assert_eq!(t.check(p, 59_500), Err(1));
        assert_eq!(t.check(peer("203.0.113.10"), 10), Ok(()), "others are not");
        assert_eq!(t.check(p, WINDOW_MS), Ok(()), "a new window");
        t.record_failure(p, WINDOW_MS);
        assert_eq!(t.check(p, WINDOW_MS + 1), Ok(()), "counting starts over");
    }

    #[test]
    fn failures_spread_over_windows_never_block() {
        let t = AuthThrottle::default();
        let p = peer("198.51.100.1");
        for i in 0..100 {
            t.record_failure(p, i * (WINDOW_MS / 5));
            assert_eq!(t.check(p, i * (WINDOW_MS / 5)), Ok(()));
        }
    }

    #[test]
    fn ipv6_peers_count_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(peer("2001:db8:1:2::1"), peer("2001:db8:1:2:ffff::9"));
        assert_ne!(peer("2001:db8:1:2::1"), peer("2001:db8:1:3::1"));
        assert_eq!(peer("::ffff:192.0.2.7"), peer("192.0.2.7"));
    }

    #[test]
    fn memory_is_bounded_and_blocked_peers_are_kept() {
        let t = AuthThrottle::default();
        let blocked = peer("192.0.2.1");
        for _ in 0..MAX_FAILURES {
            t.record_failure(blocked, 0);
        }
        // Ten times the bound of distinct peers, each failing once.
        for i in 0..(10 * MAX_PEERS as u32) {
            t.record_failure(PeerId::of(Some(IpAddr::V4((0x0a00_0000 + i).into()))), 1);
        }
        assert_eq!(t.len(), MAX_PEERS);
        assert_eq!(
            t.check(blocked, 2),
            Err(60),
            "the blocked peer was not evicted"
        );
        // Expired windows make room first.
        t.record_failure(peer("192.0.2.200"), WINDOW_MS + 2);
        assert_eq!(t.len(), 1);
    }
}
