//! Pure routing logic: what a key offers (its [`Bid`]), how bids are ranked, how a key's live
//! state changes after a call, and what a call cost. Nothing here reads the clock or does I/O;
//! time comes in as a parameter.

pub mod bid;
pub mod cost;
pub mod ewma;
pub mod key_live;
pub mod pick;

pub use bid::{Bid, BidBoard, KeyProfile, ModelSet};
pub use cost::{call_cost, TokenUsage};
pub use key_live::{KeyLive, Outcome};
pub use pick::{pick_best, PickQuery};
