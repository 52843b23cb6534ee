//! What the live feed has told us: the connection's state, the latest snapshot, the most recent
//! calls (numbered, so each page can take the ones it has not seen), and counters that pages
//! watch to reload through REST (a `resync`, a reconnection that may have missed events, a key's
//! state change).

use std::collections::VecDeque;

use shared::keys::KeyState;
use shared::live::{LiveCall, LiveEvent, LiveSnapshot};

/// Recent calls kept for the pages; older ones are only in the database.
pub const RECENT_CALLS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// Not signed in, or not started yet.
    #[default]
    Idle,
    Connecting,
    Open,
    /// Closed; the next attempt starts at `retry_at` (Unix ms).
    Retrying {
        retry_at: i64,
    },
}

/// A key's state change as pushed.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyStateChange {
    pub key_id: i64,
    pub name: String,
    pub state: KeyState,
    pub until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveState {
    pub connection: Connection,
    pub server_version: Option<String>,
    /// Server clock minus ours at the last `hello` (ms), for "in 3 s" labels.
    pub clock_skew_ms: i64,
    pub snapshot: Option<LiveSnapshot>,
    /// The last [`RECENT_CALLS`] calls, oldest first, each with its sequence number.
    pub calls: VecDeque<(u64, LiveCall)>,
    /// Sequence number of the newest call (0: none yet).
    pub calls_seq: u64,
    pub key_changes: VecDeque<(u64, KeyStateChange)>,
    pub key_seq: u64,
    /// Bumped whenever what the pages show may be stale: on `resync` and on every reconnection
    /// after the first (events sent while we were away are lost).
    pub resync_seq: u64,
    /// Whether a connection was open before (so the next `hello` is a reconnection).
    was_open: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiveAction {
    Connecting,
    /// The socket closed; we retry at this Unix ms.
    Closed {
        retry_at: i64,
    },
    /// A message arrived at our Unix ms `now`.
    Event {
        event: Box<LiveEvent>,
        now: i64,
    },
    /// Signed out: forget everything.
    Reset,
}

impl LiveState {
    pub fn apply(&mut self, action: LiveAction) {
        match action {
            LiveAction::Connecting => self.connection = Connection::Connecting,
            LiveAction::Closed { retry_at } => self.connection = Connection::Retrying { retry_at },
            LiveAction::Reset => *self = LiveState::default(),
            LiveAction::Event { event, now } => self.event(*event, now),
        }
    }

    fn event(&mut self, event: LiveEvent, now: i64) {
        match event {
            LiveEvent::Hello {
                version,
                server_time,
            } => {
                self.connection = Connection::Open;
                self.server_version = Some(version);
                self.clock_skew_ms = server_time - now;
                if self.was_open {
                    self.resync_seq += 1;
                }
                self.was_open = true;
            }
            LiveEvent::Call(call) => {
                self.connection = Connection::Open;
                self.calls_seq += 1;
                self.calls.push_back((self.calls_seq, call));
                while self.calls.len() > RECENT_CALLS {
                    self.calls.pop_front();
                }
            }
            LiveEvent::Snapshot(snapshot) => {
                self.connection = Connection::Open;
                self.snapshot = Some(snapshot);
            }
            LiveEvent::KeyState {
                key_id,
                name,
                state,
                until,
            } => {
                self.key_seq += 1;
                self.key_changes.push_back((
                    self.key_seq,
                    KeyStateChange {
                        key_id,
                        name,
                        state,
                        until,
                    },
                ));
                while self.key_changes.len() > RECENT_CALLS {
                    self.key_changes.pop_front();
                }
            }
            LiveEvent::Resync { .. } => self.resync_seq += 1,
        }
    }

    /// Calls numbered after `seen`, oldest first. `None` when some were already dropped from
    /// the window (the reader should reload instead).
    pub fn calls_after(&self, seen: u64) -> Option<impl Iterator<Item = &LiveCall>> {
        let oldest = self
            .calls
            .front()
            .map_or(self.calls_seq + 1, |(seq, _)| *seq);
        if seen + 1 < oldest && seen < self.calls_seq {
            return None;
        }
        Some(
            self.calls
                .iter()
                .filter(move |(seq, _)| *seq > seen)
                .map(|(_, c)| c),
        )
    }

    /// Key state changes numbered after `seen`, oldest first (`None`: some were dropped).
    pub fn key_changes_after(&self, seen: u64) -> Option<impl Iterator<Item = &KeyStateChange>> {
        let oldest = self
            .key_changes
            .front()
            .map_or(self.key_seq + 1, |(seq, _)| *seq);
        if seen + 1 < oldest && seen < self.key_seq {
            return None;
        }
        Some(
            self.key_changes
                .iter()
                .filter(move |(seq, _)| *seq > seen)
                .map(|(_, c)| c),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str) -> LiveCall {
        LiveCall {
            request_id: id.into(),
            created_at: 0,
            key_id: None,
            key_name: None,
            provider: None,
            model: "m".into(),
            endpoint: "/v1/chat/completions".into(),
            stream: false,
            status: 200,
            error: None,
            latency_ms: 1,
            ttfb_ms: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            attempts: 1,
            client_key: None,
        }
    }

    fn event(state: &mut LiveState, event: LiveEvent) {
        state.apply(LiveAction::Event {
            event: Box::new(event),
            now: 1_000,
        });
    }

    fn hello() -> LiveEvent {
        LiveEvent::Hello {
            version: "0.1.0".into(),
            server_time: 1_250,
        }
    }

    #[test]
    fn hello_opens_and_a_reconnection_asks_for_a_reload() {
        let mut s = LiveState::default();
        s.apply(LiveAction::Connecting);
        assert_eq!(s.connection, Connection::Connecting);
        event(&mut s, hello());
        assert_eq!(s.connection, Connection::Open);
        assert_eq!(s.clock_skew_ms, 250);
        assert_eq!(s.resync_seq, 0, "the first connection needs no reload");
        s.apply(LiveAction::Closed { retry_at: 5_000 });
        assert_eq!(s.connection, Connection::Retrying { retry_at: 5_000 });
        event(&mut s, hello());
        assert_eq!(s.resync_seq, 1);
        event(
            &mut s,
            LiveEvent::Resync {
                reason: "lagged".into(),
            },
        );
        assert_eq!(s.resync_seq, 2);
        s.apply(LiveAction::Reset);
        assert_eq!(s, LiveState::default());
    }

    #[test]
    fn snapshots_replace_each_other() {
        let mut s = LiveState::default();
        event(
            &mut s,
            LiveEvent::Snapshot(LiveSnapshot {
                calls_total: 1,
                ..Default::default()
            }),
        );
        event(
            &mut s,
            LiveEvent::Snapshot(LiveSnapshot {
                calls_total: 2,
                ..Default::default()
            }),
        );
        assert_eq!(s.snapshot.as_ref().unwrap().calls_total, 2);
    }

    #[test]
    fn readers_take_the_calls_they_have_not_seen() {
        let mut s = LiveState::default();
        assert_eq!(s.calls_after(0).unwrap().count(), 0);
        event(&mut s, LiveEvent::Call(call("a")));
        event(&mut s, LiveEvent::Call(call("b")));
        let ids: Vec<&str> = s
            .calls_after(1)
            .unwrap()
            .map(|c| c.request_id.as_str())
            .collect();
        assert_eq!(ids, ["b"]);
        assert_eq!(s.calls_after(0).unwrap().count(), 2);
        assert_eq!(s.calls_after(2).unwrap().count(), 0);
    }

    #[test]
    fn a_reader_that_fell_out_of_the_window_must_reload() {
        let mut s = LiveState::default();
        for i in 0..RECENT_CALLS + 10 {
            event(&mut s, LiveEvent::Call(call(&i.to_string())));
        }
        assert_eq!(s.calls.len(), RECENT_CALLS);
        assert!(s.calls_after(5).is_none());
        assert_eq!(s.calls_after(10).unwrap().count(), RECENT_CALLS);
        assert_eq!(s.calls_after(s.calls_seq).unwrap().count(), 0);
    }

    #[test]
    fn key_state_changes_are_numbered() {
        let mut s = LiveState::default();
        event(
            &mut s,
            LiveEvent::KeyState {
                key_id: 4,
                name: "k".into(),
                state: KeyState::Throttled,
                until: Some(9),
            },
        );
        assert_eq!(s.key_seq, 1);
        let changes: Vec<&KeyStateChange> = s.key_changes_after(0).unwrap().collect();
        assert_eq!(changes[0].key_id, 4);
        assert_eq!(changes[0].state, KeyState::Throttled);
        assert_eq!(s.key_changes_after(1).unwrap().count(), 0);
    }
}
