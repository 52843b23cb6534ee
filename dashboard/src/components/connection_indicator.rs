//! The live feed's state as a coloured dot and a word.

use yew::prelude::*;

use crate::format;
use crate::hooks::{use_i18n, use_live, use_now};
use crate::i18n::Text;
use crate::state::live::Connection;

#[component]
pub fn ConnectionIndicator() -> Html {
    let i18n = use_i18n();
    let live = use_live();
    let now = use_now(1_000);
    let (class, label, title) = match live.0.connection {
        Connection::Open => (
            "live",
            i18n.t(Text::ConnLive).to_owned(),
            live.0
                .server_version
                .clone()
                .map(|v| format!("api-proxy {v}")),
        ),
        Connection::Connecting => ("connecting", i18n.t(Text::ConnConnecting).to_owned(), None),
        Connection::Retrying { retry_at } => (
            "offline",
            i18n.t(Text::ConnRetrying).to_owned(),
            Some(format::relative(retry_at.max(now), now, i18n.lang)),
        ),
        Connection::Idle => ("offline", i18n.t(Text::ConnIdle).to_owned(), None),
    };
    html! {
        <span class={classes!("conn", class)} id="connection" data-state={class} title={title}>
            <span class="dot" aria-hidden="true"></span>
            { label }
        </span>
    }
}
