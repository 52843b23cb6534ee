//! `KeyActor`: owns one provider key's live state (health, quota left, latency averages, error
//! counts, cost so far, the provider's rate-limit counters), publishes its bid to the board
//! whenever that state changes, persists its counters through the batch writer, and refills its
//! quota when its period turns.
//!
//! Supervision: every handler runs under `catch_unwind`; a panic stops the actor, its
//! `Supervisor` restarts it, and on restart it reloads its counters from the database (after a
//! writer barrier, so nothing it already persisted is missed) and its transient health from its
//! last bid. That bid stays on the board meanwhile, so requests keep flowing, and messages sent
//! during the restart wait in the same mailbox.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix::WeakAddr;
use shared::keys::{KeyState, KeyUsage, QuotaUnit};

use crate::clock::Clock;
use crate::crypto::KeyCipher;
use crate::db::api_keys::{self, ApiKeyRow};
use crate::db::Db;
use crate::live_hub::LiveHub;
use crate::routing::health::{Health, HealthMachine};
use crate::routing::ratelimit::RateLimitInfo;
use crate::routing::{Bid, BidBoard, EditEffects, KeyCounters, KeyLive, KeyProfile};

use super::inbox::OutcomeInbox;
use crate::writer::WriterHandle;

/// Fold the outcomes queued in the key's [`OutcomeInbox`] into its state (fire-and-forget from
/// the request path).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DrainOutcomes;

/// The key was edited: adopt the new profile and settings from its row. Answered once the new
/// bid is on the board.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ApplyEdit {
    pub profile: Arc<KeyProfile>,
    pub row: ApiKeyRow,
    pub effects: EditEffects,
}

/// Fold in every outcome queued so far and hand the counters to the batch writer now (shutdown:
/// answered once they are on their way to the database).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Settle;

/// The key was deleted: withdraw the bid and stop for good.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;

/// Refill the quota if its period has turned (sent by the actor's own timer).
#[derive(Message)]
#[rtype(result = "()")]
struct RefillQuota;

/// The quota left, as the shared database says after taking from it (several instances on one
/// PostgreSQL database).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SyncQuota {
    pub remaining: Option<f64>,
}

/// Another instance on the shared database reached this verdict on the key.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AdoptVerdict {
    pub health: Health,
}

/// The key's current state, for the admin API.
#[derive(Message)]
#[rtype(result = "KeySnapshot")]
pub struct GetSnapshot;

#[derive(Debug, Clone, PartialEq)]
pub struct KeySnapshot {
    pub state: KeyState,
    pub state_until: Option<i64>,
    pub quota_remaining: Option<f64>,
    pub quota_reset_at: Option<i64>,
    pub usage: KeyUsage,
    pub rate_limit: RateLimitInfo,
    pub in_flight: i64,
    pub burn_rate_per_hour: Option<f64>,
    pub quota_forecast_exhausted_at: Option<i64>,
    /// How many times the actor has been restarted.
    pub generation: u64,
}

/// Fault injection for the supervision tests: the handler panics. Not reachable over HTTP.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SimulatePanic;

pub struct KeyActor {
    profile: Arc<KeyProfile>,
    counters: Arc<KeyCounters>,
    inbox: Arc<OutcomeInbox>,
    live: KeyLive,
    board: BidBoard,
    db: Db,
    writer: WriterHandle,
    clock: Clock,
    hub: LiveHub,
    generation: u64,
    /// The newest outcome folded into `live` (numbered by the inbox).
    seq: u64,
    /// The last publish gave up behind newer verdicts; the next drain publishes.
    unpublished: bool,
    reload_on_start: bool,
    retired: bool,
    refill_timer: Option<SpawnHandle>,
    /// A drain of the inbox is already timed.
    drain_scheduled: bool,
    /// The quota lives in a shared database (see [`KeyActorDeps::shared_quota`]).
    shared_quota: bool,
    /// Tokens or USD spent and not yet subtracted from the shared quota.
    unsent_spend: f64,
    /// Its own address, for answers to its own queries (weak: it must not keep itself alive).
    own: Option<WeakAddr<KeyActor>>,
}

/// Everything a key actor needs besides its own key.
#[derive(Clone)]
pub struct KeyActorDeps {
    pub board: BidBoard,
    /// To check, when a key is started or edited, that its secret opens where it points.
    pub cipher: KeyCipher,
    pub db: Db,
    pub writer: WriterHandle,
    pub clock: Clock,
    pub live: LiveHub,
    /// Instances share the database (PostgreSQL): the quota is taken from it by atomic SQL as
    /// calls go, so the actor does not count it down itself.
    pub shared_quota: bool,
}

impl KeyActor {
    pub fn new(
        profile: Arc<KeyProfile>,
        counters: Arc<KeyCounters>,
        inbox: Arc<OutcomeInbox>,
        live: KeyLive,
        deps: KeyActorDeps,
    ) -> Self {
        Self {
            profile,
            counters,
            inbox,
            live,
            board: deps.board,
            db: deps.db,
            writer: deps.writer,
            clock: deps.clock,
            hub: deps.live,
            generation: 0,
            seq: 0,
            unpublished: false,
            reload_on_start: false,
            retired: false,
            refill_timer: None,
            drain_scheduled: false,
            shared_quota: deps.shared_quota,
            unsent_spend: 0.0,
            own: None,
        }
    }

    fn bid(&self) -> Bid {
        self.live.bid(
            self.profile.clone(),
            self.counters.clone(),
            self.generation,
            self.seq,
        )
    }

    /// Puts the current state on the board. The board drops it when the request path has
    /// meanwhile amended the bid for a newer outcome; that outcome is then already queued, so it
    /// is folded in and the publish tried again.
    fn publish(&mut self) {
        for _ in 0..PUBLISH_TRIES {
            if self.retired || self.board.publish(self.bid()) {
                self.unpublished = false;
                return;
            }
            self.absorb_queued();
        }
        // Still behind under a storm of verdicts: the drain the newest of them armed publishes.
        self.unpublished = true;
    }

    fn live_hub_state(&self, state: KeyState, until: Option<i64>) {
        self.hub
            .key_state(self.profile.id, &self.profile.name, state, until);
    }

    fn persist(&self) {
        self.writer
            .key_usage(self.profile.id, self.live.to_usage_row());
    }

    fn snapshot(&self) -> KeySnapshot {
        let now = self.clock.now_ms();
        let (state, state_until) = self.bid().state_at(now);
        KeySnapshot {
            state,
            state_until,
            quota_remaining: self.live.quota_remaining,
            quota_reset_at: self.live.quota_reset_at,
            usage: self.live.usage.clone(),
            rate_limit: self.live.rate_limit,
            in_flight: self.counters.in_flight(),
            burn_rate_per_hour: self.live.burn.per_hour(now),
            quota_forecast_exhausted_at: self
                .live
                .quota_remaining
                .and_then(|r| self.live.burn.exhausted_at(r, now)),
            generation: self.generation,
        }
    }

    /// Refills the quota if its period turned by `now_ms`; returns whether it did. The caller
    /// resets the lease budget (after folding in the outcomes at hand).
    fn refill_if_due(&mut self, now_ms: i64) -> bool {
        let refilled =
            self.live
                .refill_if_due(self.profile.quota_total, self.profile.quota_reset, now_ms);
        if refilled {
            tracing::info!(
                key_id = self.profile.id,
                "quota refilled for the new period"
            );
        }
        refilled
    }

    /// The lease budget from the quota left: after a refill or an edit of the quota, or a key
    /// whose request quota came back would still refuse every lease.
    fn reset_budget(&self) {
        self.counters
            .set_budget(self.profile.quota_unit, self.live.quota_remaining);
    }

    /// Refills now if due, and arms a timer for the next refill.
    fn schedule_refill(&mut self, ctx: &mut Context<Self>) {
        let absorbed = self.absorb_queued();
        let refilled = self.refill_if_due(self.clock.now_ms());
        if refilled {
            self.reset_budget();
        }
        if absorbed || refilled {
            self.publish();
            self.persist();
        }
        if let Some(handle) = self.refill_timer.take() {
            ctx.cancel_future(handle);
        }
        if self.retired {
            return;
        }
        let now = self.clock.now_ms();
        if let Some(at) = self.live.quota_reset_at {
            let wait = Duration::from_millis((at - now).clamp(0, i64::from(i32::MAX)) as u64);
            self.refill_timer = Some(ctx.notify_later(RefillQuota, wait));
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
        self.own = Some(ctx.address().downgrade());
        if !self.reload_on_start {
            self.publish();
            self.schedule_refill(ctx);
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
            .map(|loaded, act, ctx| {
                match loaded {
                    Ok(Some(row)) => {
                        let mut live = KeyLive::from_row(&row, act.clock.now_ms());
                        // Throttles, cool-downs and rate limits are not persisted: the last bid has them.
                        if let Some(last) = act.board.get(act.profile.id) {
                            live.health = HealthMachine::new(last.health);
                            live.rate_limit = last.rate_limit;
                            live.ttfb = last.ttfb;
                            live.total_latency = last.total_latency;
                        }
                        live.burn = std::mem::take(&mut act.live.burn);
                        act.writer.key_baseline(row.id, live.to_usage_row());
                        act.live = live;
                    }
                    Ok(None) => act.retired = true,
                    Err(e) => tracing::error!(key_id = act.profile.id, error = %e, "could not reload key state"),
                }
                // Outcomes queued meanwhile (their drain timer died with the old context).
                act.settle();
                act.schedule_refill(ctx);
            }),
        );
    }
}

impl Supervised for KeyActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.generation += 1;
        self.reload_on_start = true;
        self.refill_timer = None;
        // The stopped context dropped its timers: the next outcome must time a new drain.
        self.drain_scheduled = false;
    }
}

impl KeyActor {
    /// Folds every queued outcome into the state, without publishing; returns whether there
    /// were any.
    fn absorb_queued(&mut self) -> bool {
        let drained = self.inbox.drain();
        self.seq = self.seq.max(drained.seq);
        if drained.outcomes.is_empty() {
            return false;
        }
        let mut refilled = false;
        for outcome in &drained.outcomes {
            refilled |= self.refill_if_due(outcome.at_ms);
            let quota_before = self.live.quota_remaining;
            let health = self.live.apply(outcome, self.profile.quota_unit);
            if self.shared_quota {
                // Requests were taken from the shared quota as they went; tokens and USD are
                // subtracted from it below.
                if let (Some(before), Some(after)) = (quota_before, self.live.quota_remaining) {
                    if self.profile.quota_unit != QuotaUnit::Requests {
                        self.unsent_spend += before - after;
                    }
                }
                self.live.quota_remaining = quota_before;
            }
            if let Some(health) = health {
                if self.shared_quota {
                    self.share_verdict(health);
                }
                self.counters.rearm_probe();
                tracing::info!(key_id = self.profile.id, key = %self.profile.name, ?health, "key state changed");
                let (state, until) = self.bid().state_at(self.clock.now_ms());
                self.live_hub_state(state, until);
            }
        }
        if refilled {
            // From the quota left once the whole batch is counted.
            self.reset_budget();
        }
        true
    }

    /// Applies every queued outcome, then publishes and persists once.
    fn settle(&mut self) {
        if self.absorb_queued() || self.unpublished {
            self.publish();
            self.persist();
        }
        self.send_spend();
    }

    /// Tells the other instances on the shared database of a verdict they must heed too.
    fn share_verdict(&self, health: Health) {
        let (db, id) = (self.db.clone(), self.profile.id);
        let record = move |conn: &mut crate::db::AnyConnection| match health {
            Health::AuthDead => crate::db::fleet::record_verdict(conn, id, true, false),
            Health::QuotaExhausted => crate::db::fleet::record_verdict(conn, id, false, true),
            Health::Throttled { until_ms } | Health::Cooling { until_ms } => {
                crate::db::fleet::record_cooling(conn, id, until_ms)
            }
            Health::Active | Health::HalfOpen => Ok(false),
        };
        if matches!(health, Health::Active | Health::HalfOpen) {
            return;
        }
        actix::spawn(async move {
            if let Err(e) = db.run(record).await {
                tracing::warn!(key_id = id, error = %e, "could not share the key's verdict");
            }
        });
    }

    /// Subtracts the tokens or USD spent since the last time from the shared quota; the quota
    /// left comes back as [`SyncQuota`].
    fn send_spend(&mut self) {
        if self.unsent_spend <= 0.0 {
            return;
        }
        let (Some(own), amount) = (
            self.own.as_ref().and_then(WeakAddr::upgrade),
            std::mem::take(&mut self.unsent_spend),
        ) else {
            return;
        };
        let (db, id) = (self.db.clone(), self.profile.id);
        actix::spawn(async move {
            match db
                .run(move |conn| crate::db::fleet::spend_quota(conn, id, amount))
                .await
            {
                Ok(remaining) => own.do_send(SyncQuota { remaining }),
                Err(e) => {
                    tracing::warn!(key_id = id, error = %e, "could not spend the shared quota")
                }
            }
        });
    }
}

/// How many times a publish is retried at once after the board dropped it as stale.
const PUBLISH_TRIES: usize = 4;

/// How long a key actor lets outcomes gather before folding them in. The request path never
/// waits for this (the board's bid, quota budget and immediate verdicts are already up to date);
/// it bounds how stale the latency averages and counters may be, and turns thousands of
/// cross-thread wake-ups per second under load into at most a hundred per key.
const OUTCOME_BATCH_WINDOW: Duration = Duration::from_millis(10);

impl Handler<DrainOutcomes> for KeyActor {
    type Result = ();

    fn handle(&mut self, _msg: DrainOutcomes, ctx: &mut Self::Context) {
        if self.drain_scheduled {
            return;
        }
        self.drain_scheduled = true;
        ctx.run_later(OUTCOME_BATCH_WINDOW, |act, ctx| {
            act.drain_scheduled = false;
            act.guarded(ctx, |act| act.settle());
        });
    }
}

impl Handler<RefillQuota> for KeyActor {
    type Result = ();

    fn handle(&mut self, _msg: RefillQuota, ctx: &mut Self::Context) {
        self.refill_timer = None;
        self.schedule_refill(ctx);
    }
}

impl Handler<ApplyEdit> for KeyActor {
    type Result = ();

    fn handle(&mut self, msg: ApplyEdit, ctx: &mut Self::Context) {
        self.guarded(ctx, |act| {
            // Calls that finished before the edit count under the old settings.
            act.absorb_queued();
            act.profile = msg.profile;
            act.live.apply_edit(&msg.row, msg.effects);
            if msg.effects.quota_edited {
                act.reset_budget();
            }
            if msg.effects.reset_health {
                act.counters.rearm_probe();
            }
            act.publish();
            act.persist();
        });
        self.schedule_refill(ctx);
    }
}

impl Handler<SyncQuota> for KeyActor {
    type Result = ();

    fn handle(&mut self, msg: SyncQuota, ctx: &mut Self::Context) {
        self.guarded(ctx, |act| {
            if act.live.quota_remaining.is_some() && act.live.quota_remaining != msg.remaining {
                act.live.quota_remaining = msg.remaining;
                act.publish();
            }
        });
    }
}

impl Handler<AdoptVerdict> for KeyActor {
    type Result = ();

    fn handle(&mut self, msg: AdoptVerdict, ctx: &mut Self::Context) {
        self.guarded(ctx, |act| {
            act.absorb_queued();
            let now = act.clock.now_ms();
            if let Some(health) = act.live.health.adopt(msg.health, now) {
                tracing::info!(key_id = act.profile.id, key = %act.profile.name, ?health, "key state changed on another instance");
                let (state, until) = act.bid().state_at(now);
                act.live_hub_state(state, until);
                act.publish();
            }
        });
    }
}

impl Handler<Settle> for KeyActor {
    type Result = ();

    fn handle(&mut self, _msg: Settle, ctx: &mut Self::Context) {
        self.guarded(ctx, |act| act.settle());
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

    fn handle(&mut self, _msg: GetSnapshot, ctx: &mut Self::Context) -> Self::Result {
        // Whatever finished before the question is part of the answer.
        self.guarded(ctx, |act| act.settle());
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
