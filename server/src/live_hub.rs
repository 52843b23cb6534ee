//! The live feed's hub: finished calls, key state changes and a per-second snapshot, broadcast to
//! every dashboard connection. Publishing never blocks and costs nothing without subscribers; the
//! channel is bounded, so a slow client only loses its own backlog (it is told to resync).

use std::sync::Arc;

use shared::keys::KeyState;
use shared::live::{LiveCall, LiveEvent, LiveSnapshot};
use tokio::sync::broadcast;

use crate::db::StorageFault;
use crate::metrics::live::CallSummary;
use crate::metrics::LiveStats;

/// Events a connection may fall behind by before it must resync.
pub const BACKLOG: usize = 1024;

#[derive(Clone)]
pub struct LiveHub {
    tx: broadcast::Sender<Arc<str>>,
    stats: Arc<LiveStats>,
    /// Set at shutdown: every connection closes, so a graceful stop does not wait on them.
    closing: tokio::sync::watch::Sender<bool>,
    /// One of several instances sharing a database: the feed is this instance's alone.
    instance_only: bool,
}

impl LiveHub {
    pub fn new(stats: LiveStats) -> Self {
        let (tx, _) = broadcast::channel(BACKLOG);
        Self {
            tx,
            stats: Arc::new(stats),
            closing: tokio::sync::watch::channel(false).0,
            instance_only: false,
        }
    }

    /// The hub of one instance among several sharing a database: its snapshots say so.
    pub fn one_of_several(mut self) -> Self {
        self.instance_only = true;
        self
    }

    /// Tells every live connection to close (server shutdown).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves when [`Self::close_all`] has been called.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }

    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    fn publish(&self, event: &LiveEvent) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        if let Ok(json) = serde_json::to_string(event) {
            let _ = self.tx.send(json.into());
        }
    }

    /// Counts the call; builds its event (`describe`) only when someone is listening.
    pub fn call_finished(
        &self,
        summary: CallSummary,
        now_ms: i64,
        describe: impl FnOnce() -> LiveCall,
    ) {
        self.stats.record(&summary, now_ms);
        if self.tx.receiver_count() > 0 {
            self.publish(&LiveEvent::Call(describe()));
        }
    }

    pub fn key_state(&self, key_id: i32, name: &str, state: KeyState, until: Option<i64>) {
        self.publish(&LiveEvent::KeyState {
            key_id: i64::from(key_id),
            name: name.to_owned(),
            state,
            until,
        });
    }

    pub fn snapshot(&self, now_ms: i64, in_flight: i64) -> LiveSnapshot {
        LiveSnapshot {
            instance_only: self.instance_only,
            ..self.stats.snapshot(now_ms, in_flight)
        }
    }

    /// Broadcasts the snapshot (called every second), with the database's latest fault.
    pub fn tick(&self, now_ms: i64, in_flight: i64, database_fault: Option<StorageFault>) {
        if self.tx.receiver_count() > 0 {
            let snapshot = LiveSnapshot {
                database_fault: database_fault.map(|f| f.label().to_owned()),
                ..self.snapshot(now_ms, in_flight)
            };
            self.publish(&LiveEvent::Snapshot(snapshot));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::live::Totals;
    use tokio::sync::broadcast::error::RecvError;

    fn call() -> LiveCall {
        LiveCall {
            request_id: "r".into(),
            created_at: 0,
            key_id: None,
            key_name: None,
            provider: None,
            model: "m".into(),
            endpoint: "chat/completions".into(),
            stream: false,
            status: 200,
            error: None,
            latency_ms: 1,
            ttfb_ms: None,
            prompt_tokens: 1,
            completion_tokens: 1,
            cost_usd: 0.0,
            attempts: 1,
            client_key: None,
        }
    }

    fn summary() -> CallSummary {
        CallSummary {
            status: 200,
            latency_ms: 1,
            tokens: 2,
            cost_usd: 0.0,
        }
    }

    #[tokio::test]
    async fn a_stuck_listener_costs_a_bounded_backlog_then_resyncs() {
        let hub = LiveHub::new(LiveStats::new(Totals::default(), 0));
        let mut stuck = hub.subscribe();
        for _ in 0..BACKLOG + 10 {
            hub.call_finished(summary(), 0, call);
        }
        // The channel kept only BACKLOG events; the stuck listener learns it missed some.
        assert!(matches!(stuck.recv().await, Err(RecvError::Lagged(10))));
        assert!(
            stuck.recv().await.is_ok(),
            "and then goes on with the newest events"
        );
        // Counting never depends on listeners.
        assert_eq!(hub.snapshot(0, 0).calls_total, (BACKLOG + 10) as i64);
    }

    #[test]
    fn an_instance_among_several_says_its_figures_are_its_own() {
        let alone = LiveHub::new(LiveStats::new(Totals::default(), 0));
        assert!(!alone.snapshot(0, 0).instance_only);
        let one = LiveHub::new(LiveStats::new(Totals::default(), 0)).one_of_several();
        assert!(one.snapshot(0, 0).instance_only);
    }

    #[test]
    fn without_listeners_no_event_is_built() {
        let hub = LiveHub::new(LiveStats::new(Totals::default(), 0));
        hub.call_finished(summary(), 0, || unreachable!("nobody listens"));
        assert_eq!(hub.snapshot(0, 0).calls_total, 1);
    }
}
