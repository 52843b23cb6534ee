//! `KeyActor`: owns one provider key's live state (enabled, quota left, latency EWMA, error counts,
//! cost so far), publishes its bid to the board whenever that state changes, and persists its
//! counters through the batch writer.
//!
//! Supervision: every handler runs under `catch_unwind`; a panic stops the actor, its
//! `Supervisor` restarts it, and on restart it reloads its state from the database (after a writer
//! barrier, so nothing it already persisted is missed). Its last bid stays on the board meanwhile,
//! so requests keep flowing, and messages sent during the restart wait in the same mailbox.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use actix::prelude::*;
use shared::keys::{KeyState, KeyUsage};

use crate::db::api_keys::{self, ApiKeyRow};
use crate::db::Db;
use crate::routing::{BidBoard, KeyLive, KeyProfile, Outcome};
use crate::writer::WriterHandle;

/// Fold one call's outcome into the key's state (fire-and-forget from the request path).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RecordOutcome(pub Outcome);

/// The key was edited: adopt the new profile and settings from its row.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ApplyEdit {
    pub profile: Arc<KeyProfile>,
    pub row: ApiKeyRow,
}

/// The key was deleted: withdraw the bid and stop for good.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;

/// The key's current state, for the admin API.
#[derive(Message)]
#[rtype(result = "KeySnapshot")]
pub struct GetSnapshot;

#[derive(Debug, Clone, PartialEq)]
pub struct KeySnapshot {
    pub state: KeyState,
    pub quota_remaining: Option<f64>,
    pub usage: KeyUsage,
    /// How many times the actor has been restarted.
    pub generation: u64,
}

/// Fault injection for the supervision tests: the handler panics. Not reachable over HTTP.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SimulatePanic;

pub struct KeyActor {
    profile: Arc<KeyProfile>,
    live: KeyLive,
    board: BidBoard,
    db: Db,
    writer: WriterHandle,
    generation: u64,
    reload_on_start: bool,
    retired: bool,
}

impl KeyActor {
    pub fn new(
        profile: Arc<KeyProfile>,
        row: &ApiKeyRow,
        board: BidBoard,
        db: Db,
        writer: WriterHandle,
    ) -> Self {
        Self {
            profile,
            live: KeyLive::from_row(row),
            board,
            db,
            writer,
            generation: 0,
            reload_on_start: false,
            retired: false,
        }
    }

    fn publish(&self) {
        if self.retired {
            return;
        }
        self.board
            .publish(self.live.bid(self.profile.clone(), self.generation));
    }

    fn snapshot(&self) -> KeySnapshot {
        KeySnapshot {
            state: self.live.state(),
            quota_remaining: self.live.quota_remaining,
            usage: self.live.usage.clone(),
            generation: self.generation,
        }
    }

    /// Runs a handler body; a panic stops the actor so its supervisor restarts it.
    fn guarded<R: Default>(
        &mut self,
        ctx: &mut Context<Self>,
        body: impl FnOnce(&mut Self) -> R,
    ) -> R {
        match catch_unwind(AssertUnwindSafe(|| body(self))) {
            Ok(result) => result,
            Err(_) => {
                tracing::error!(
                    key_id = self.profile.id,
                    "key actor panicked; restarting it"
                );
                ctx.stop();
                R::default()
            }
        }
    }
}

impl Actor for KeyActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if !self.reload_on_start {
            self.publish();
            return;
        }
        self.reload_on_start = false;
        let (db, writer, id) = (self.db.clone(), self.writer.clone(), self.profile.id);
        // `wait` holds the mailbox until the state is back, so no outcome is applied to stale state.
        ctx.wait(
            async move {
                writer.flush().await;
                db.run(move |conn| api_keys::get(conn, id)).await
            }
            .into_actor(self)
            .map(|loaded, act, _ctx| {
                match loaded {
                    Ok(Some(row)) => act.live = KeyLive::from_row(&row),
                    Ok(None) => act.retired = true,
                    Err(e) => tracing::error!(key_id = act.profile.id, error = %e, "could not reload key state"),
                }
                act.publish();
            }),
        );
    }
}

impl Supervised for KeyActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.generation += 1;
        self.reload_on_start = true;
    }
}

impl Handler<RecordOutcome> for KeyActor {
    type Result = ();

    fn handle(&mut self, msg: RecordOutcome, ctx: &mut Self::Context) {
        self.guarded(ctx, |act| {
            act.live.apply(&msg.0);
            act.publish();
            act.writer
                .key_usage(act.profile.id, act.live.to_usage_row());
        });
    }
}

impl Handler<ApplyEdit> for KeyActor {
    type Result = ();

    fn handle(&mut self, msg: ApplyEdit, ctx: &mut Self::Context) {
        self.guarded(ctx, |act| {
            act.profile = msg.profile;
            let usage = act.live.usage.clone();
            act.live = KeyLive::from_row(&msg.row);
            // Counters are the actor's; the edit may only change settings and quota.
            act.live.usage = usage;
            act.publish();
        });
    }
}

impl Handler<Retire> for KeyActor {
    type Result = ();

    fn handle(&mut self, _msg: Retire, ctx: &mut Self::Context) {
        self.retired = true;
        self.board.withdraw(self.profile.id);
        ctx.stop();
    }
}

impl Handler<GetSnapshot> for KeyActor {
    type Result = MessageResult<GetSnapshot>;

    fn handle(&mut self, _msg: GetSnapshot, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.snapshot())
    }
}

impl Handler<SimulatePanic> for KeyActor {
    type Result = ();

    fn handle(&mut self, _msg: SimulatePanic, ctx: &mut Self::Context) {
        self.guarded::<()>(ctx, |act| {
            // Corrupt the state first, as a real bug might, to prove the restart reloads it.
            act.live.usage.calls = -1;
            panic!("simulated key actor panic (key {})", act.profile.id);
        });
    }
}
