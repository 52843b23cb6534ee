//! The live feed's state, shared by every page through a context.

use std::rc::Rc;

use yew::prelude::*;

use crate::state::live::{LiveAction, LiveState};

/// [`LiveState`] as a Yew reducer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveStore(pub LiveState);

impl Reducible for LiveStore {
    type Action = LiveAction;

    fn reduce(self: Rc<Self>, action: LiveAction) -> Rc<Self> {
        let mut next = (*self).clone();
        next.0.apply(action);
        Rc::new(next)
    }
}

pub type LiveContext = UseReducerHandle<LiveStore>;

#[hook]
pub fn use_live() -> LiveContext {
    use_context::<LiveContext>().expect("the app provides the live feed")
}
