//! The current time, refreshed every `period_ms`, for "in 3 s" labels.

use gloo_timers::callback::Interval;
use yew::prelude::*;

use crate::services::browser::now_ms;

#[hook]
pub fn use_now(period_ms: u32) -> i64 {
    let now = use_state(now_ms);
    {
        let now = now.clone();
        use_effect_with(period_ms, move |period| {
            let interval = Interval::new(*period, move || now.set(now_ms()));
            move || drop(interval)
        });
    }
    *now
}
