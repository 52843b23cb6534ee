//! Pure routing logic: what a key offers (its [`Bid`]), how keys are filtered and ranked, how a
//! key's health and counters change after a call, rate-limit headers, quota periods and what a
//! call cost. Nothing here reads the clock or does I/O; time comes in as a parameter.

pub mod bid;
pub mod cost;
pub mod ewma;
pub mod health;
pub mod key_live;
pub mod pick;
pub mod quota;
pub mod ratelimit;
pub mod response_owners;
pub mod score;

pub use bid::{Bid, BidBoard, IdMap, KeyCounters, KeyProfile, Lease, ModelIds, ModelSet};
pub use cost::{call_cost, TokenUsage};
pub use health::{Health, Signal};
pub use key_live::{EditEffects, KeyLive, Outcome};
pub use pick::{pick, PickQuery, PickResult, Picked};
pub use response_owners::ResponseOwners;
