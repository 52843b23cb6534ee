//! Outcomes on their way to a key actor. The request path queues each call's outcome here and
//! wakes the actor only when no wake-up is already pending, so under load one mailbox message
//! (one cross-thread wake-up) carries many outcomes instead of one each, and the actor publishes
//! its bid and persists its counters once per batch.
//!
//! Nothing is lost between a push and a drain: `drain` re-arms the wake-up *before* taking the
//! queue, so an outcome queued after the take always sends a new wake-up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::routing::Outcome;

#[derive(Default)]
pub struct OutcomeInbox {
    queue: Mutex<Vec<Outcome>>,
    wake_pending: AtomicBool,
}

impl OutcomeInbox {
    /// Queues an outcome; `true` when the caller must wake the actor.
    pub fn push(&self, outcome: Outcome) -> bool {
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(outcome);
        !self.wake_pending.swap(true, Ordering::AcqRel)
    }

    /// Everything queued, oldest first; the next push wakes the actor again.
    pub fn drain(&self) -> Vec<Outcome> {
        self.wake_pending.store(false, Ordering::Release);
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{Signal, TokenUsage};

    fn outcome(at_ms: i64) -> Outcome {
        Outcome {
            signal: Signal::Success,
            ttfb_ms: None,
            total_ms: None,
            tokens: TokenUsage::default(),
            cost_usd: 0.0,
            rate_limit: None,
            at_ms,
        }
    }

    #[test]
    fn one_wake_up_per_batch_and_none_lost() {
        let inbox = OutcomeInbox::default();
        assert!(inbox.push(outcome(1)), "the first outcome wakes the actor");
        assert!(!inbox.push(outcome(2)), "a wake-up is already on its way");
        let batch: Vec<i64> = inbox.drain().iter().map(|o| o.at_ms).collect();
        assert_eq!(batch, [1, 2]);
        assert!(
            inbox.push(outcome(3)),
            "after a drain, the next outcome wakes again"
        );
        assert_eq!(inbox.drain().len(), 1);
        assert!(inbox.drain().is_empty());
    }

    #[test]
    fn concurrent_pushes_are_all_drained() {
        let inbox = std::sync::Arc::new(OutcomeInbox::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let inbox = inbox.clone();
                std::thread::spawn(move || {
                    (0..1000)
                        .map(|i| usize::from(inbox.push(outcome(t * 1000 + i))))
                        .sum::<usize>()
                })
            })
            .collect();
        let mut drained = 0;
        let mut wakes = 0;
        for t in threads {
            wakes += t.join().unwrap();
        }
        drained += inbox.drain().len();
        assert_eq!(drained, 4000);
        assert!((1..=4000).contains(&wakes));
    }
}
