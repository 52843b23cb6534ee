//! A key's state as a coloured label, with when it ends.

use shared::keys::KeyState;
use yew::prelude::*;

use crate::format;
use crate::hooks::use_i18n;
use crate::i18n::Text;
use crate::state::keys::state_class;

/// The state's wire name (`auth_dead`), for styling and tests.
pub fn state_id(state: KeyState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[derive(Properties, PartialEq)]
pub struct StateBadgeProps {
    pub state: KeyState,
    #[prop_or_default]
    pub until: Option<i64>,
    /// For "until" labels.
    #[prop_or_default]
    pub now: Option<i64>,
}

#[component]
pub fn StateBadge(props: &StateBadgeProps) -> Html {
    let i18n = use_i18n();
    let until = match (props.until, props.now) {
        (Some(until), Some(now)) if until > now => Some(format::relative(until, now, i18n.lang)),
        _ => None,
    };
    html! {
        <span class="state">
            <span class={classes!("badge", state_class(props.state))} data-state={state_id(props.state)}>
                { i18n.t(Text::of_key_state(props.state)) }
            </span>
            if let Some(until) = until {
                <span class="muted small">{ format!(" {} ", i18n.t(Text::Until)) }{ until }</span>
            }
        </span>
    }
}
