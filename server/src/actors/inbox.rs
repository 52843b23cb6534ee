//! Outcomes on their way to a key actor. The request path queues each call's outcome here and
//! wakes the actor only when no wake-up is already pending, so under load one mailbox message
//! (one cross-thread wake-up) carries many outcomes instead of one each, and the actor publishes
//! its bid and persists its counters once per batch.
//!
//! Nothing is lost between a push and a drain: `drain` re-arms the wake-up *before* taking the
//! queue, so an outcome queued after the take always sends a new wake-up.
//!
//! The inbox also numbers the outcomes (under the same lock as the queue), which is what the bid
//! board's rule rests on: a drain takes exactly the outcomes numbered up to the [`Drained::seq`]
//! it reports, so a bid built from them reflects everything up to that number and nothing after.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::routing::Outcome;

#[derive(Default)]
pub struct OutcomeInbox {
    queue: Mutex<Queue>,
    wake_pending: AtomicBool,
}

#[derive(Default)]
struct Queue {
    outcomes: Vec<Outcome>,
    /// The number of the newest outcome pushed.
    seq: u64,
}

/// What [`OutcomeInbox::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// The outcome's number.
    pub seq: u64,
    /// The caller must wake the actor.
    pub wake: bool,
}

/// What a drain took: the outcomes, oldest first, and the number of the newest one pushed so far
/// (every outcome up to it has now been taken).
#[derive(Debug, Default)]
pub struct Drained {
    pub outcomes: Vec<Outcome>,
    pub seq: u64,
}

impl OutcomeInbox {
    /// Queues an outcome and numbers it.
    pub fn push(&self, outcome: Outcome) -> Pushed {
        let seq = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.seq += 1;
            queue.outcomes.push(outcome);
            queue.seq
        };
        Pushed {
            seq,
            wake: !self.wake_pending.swap(true, Ordering::AcqRel),
        }
    }

    /// Everything queued, oldest first; the next push wakes the actor again.
    pub fn drain(&self) -> Drained {
        self.wake_pending.store(false, Ordering::Release);
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        Drained {
            outcomes: std::mem::take(&mut queue.outcomes),
            seq: queue.seq,
        }
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
        assert!(
            inbox.push(outcome(1)).wake,
            "the first outcome wakes the actor"
        );
        assert!(
            !inbox.push(outcome(2)).wake,
            "a wake-up is already on its way"
        );
        let drained = inbox.drain();
        let batch: Vec<i64> = drained.outcomes.iter().map(|o| o.at_ms).collect();
        assert_eq!(batch, [1, 2]);
        assert_eq!(drained.seq, 2);
        let third = inbox.push(outcome(3));
        assert!(third.wake, "after a drain, the next outcome wakes again");
        assert_eq!(third.seq, 3, "numbers go on across drains");
        assert_eq!(inbox.drain().outcomes.len(), 1);
        let empty = inbox.drain();
        assert!(empty.outcomes.is_empty());
        assert_eq!(empty.seq, 3);
    }

    #[test]
    fn concurrent_pushes_are_all_drained() {
        let inbox = std::sync::Arc::new(OutcomeInbox::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let inbox = inbox.clone();
                std::thread::spawn(move || {
                    (0..1000)
                        .map(|i| usize::from(inbox.push(outcome(t * 1000 + i)).wake))
                        .sum::<usize>()
                })
            })
            .collect();
        let mut drained = 0;
        let mut wakes = 0;
        for t in threads {
            wakes += t.join().unwrap();
        }
        let last = inbox.drain();
        drained += last.outcomes.len();
        assert_eq!(drained, 4000);
        assert_eq!(last.seq, 4000, "every outcome got its own number");
        assert!((1..=4000).contains(&wakes));
    }
}
