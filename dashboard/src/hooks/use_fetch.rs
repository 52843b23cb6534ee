//! Loads one admin API resource and reloads it when its path or `reload` changes. Answers that
//! arrive after a newer request started are dropped, so a slow old answer never wins.

use std::rc::Rc;

use serde::de::DeserializeOwned;
use yew::platform::spawn_local;
use yew::prelude::*;

use super::use_api;
use crate::services::api::ApiError;

pub struct Fetch<T> {
    /// The last good answer (kept while reloading, so the page does not flash).
    pub data: Option<Rc<T>>,
    pub error: Option<ApiError>,
    pub loading: bool,
}

impl<T> Clone for Fetch<T> {
    fn clone(&self) -> Self {
        Fetch {
            data: self.data.clone(),
            error: self.error.clone(),
            loading: self.loading,
        }
    }
}

impl<T> Default for Fetch<T> {
    fn default() -> Self {
        Fetch {
            data: None,
            error: None,
            loading: false,
        }
    }
}

impl<T> PartialEq for Fetch<T> {
    fn eq(&self, other: &Self) -> bool {
        self.loading == other.loading
            && self.error == other.error
            && match (&self.data, &other.data) {
                (Some(a), Some(b)) => Rc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

/// `path` `None` loads nothing. Returns the state; bump `reload` to load again.
#[hook]
pub fn use_fetch<T: DeserializeOwned + 'static>(path: Option<String>, reload: u64) -> Fetch<T> {
    let api = use_api();
    let state = use_state(Fetch::<T>::default);
    let generation = use_mut_ref(|| 0u64);
    {
        let state = state.clone();
        use_effect_with((path, reload), move |(path, _)| {
            *generation.borrow_mut() += 1;
            let mine = *generation.borrow();
            if let Some(path) = path.clone() {
                state.set(Fetch {
                    loading: true,
                    ..(*state).clone()
                });
                spawn_local(async move {
                    let result = api.get::<T>(&path).await;
                    if *generation.borrow() != mine {
                        return;
                    }
                    state.set(match result {
                        Ok(data) => Fetch {
                            data: Some(Rc::new(data)),
                            error: None,
                            loading: false,
                        },
                        Err(error) => Fetch {
                            data: None,
                            error: Some(error),
                            loading: false,
                        },
                    });
                });
            }
        });
    }
    (*state).clone()
}
