//! A counter for `use_fetch`'s `reload` that moves when the live feed says the page's data
//! changed: at once on a resync or reconnection, and after calls or key state changes at most
//! once per `min_interval_ms` (a burst of calls reloads once).

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use yew::prelude::*;

use super::use_live;
use crate::services::browser::now_ms;
use crate::state::throttle::wait_before_reload;

/// Which live events count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveReload {
    pub on_calls: bool,
    pub on_key_states: bool,
    pub min_interval_ms: i64,
}

struct Reloads {
    count: u64,
    /// The last load (the page's own first load counts).
    last_ms: Option<i64>,
    /// A reload is scheduled.
    pending: bool,
    /// The feed's counters already acted on (those at mount need no reload: the page just
    /// loaded).
    seen_resync: u64,
    seen_events: (u64, u64),
}

#[hook]
pub fn use_live_reload(options: LiveReload) -> u64 {
    let live = use_live();
    let calls = if options.on_calls {
        live.0.calls_seq
    } else {
        0
    };
    let keys = if options.on_key_states {
        live.0.key_seq
    } else {
        0
    };
    let resync = live.0.resync_seq;
    let reloads = use_mut_ref(|| Reloads {
        count: 0,
        last_ms: Some(now_ms()),
        pending: false,
        seen_resync: resync,
        seen_events: (calls, keys),
    });
    let update = use_force_update();
    let bump = {
        let reloads = reloads.clone();
        Rc::new(move || {
            let mut r = reloads.borrow_mut();
            r.count += 1;
            r.last_ms = Some(now_ms());
            r.pending = false;
            drop(r);
            update.force_update();
        })
    };

    {
        let bump = bump.clone();
        let reloads = reloads.clone();
        use_effect_with(resync, move |resync| {
            let new = reloads.borrow().seen_resync != *resync;
            if new {
                reloads.borrow_mut().seen_resync = *resync;
                bump();
            }
        });
    }
    {
        let reloads: Rc<RefCell<Reloads>> = reloads.clone();
        use_effect_with((calls, keys), move |events| {
            let (new, idle, last_ms) = {
                let r = reloads.borrow();
                (r.seen_events != *events, !r.pending, r.last_ms)
            };
            if !new {
                return;
            }
            reloads.borrow_mut().seen_events = *events;
            if idle {
                let wait = wait_before_reload(last_ms, now_ms(), options.min_interval_ms);
                if wait == 0 {
                    bump();
                } else {
                    reloads.borrow_mut().pending = true;
                    // Not cancelled on unmount: a late bump of a gone component does nothing.
                    Timeout::new(wait as u32, move || bump()).forget();
                }
            }
        });
    }
    let count = reloads.borrow().count;
    count
}
