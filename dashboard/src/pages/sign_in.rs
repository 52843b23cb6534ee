//! Sign-in: the admin token is checked against the API before it is kept (session storage).

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::components::form::on_input;
use crate::components::lang_switch::LangSwitch;
use crate::hooks::use_session::SignedOut;
use crate::hooks::{use_i18n, use_session};
use crate::i18n::Text;
use crate::services::api::Api;

#[component]
pub fn SignIn() -> Html {
    let i18n = use_i18n();
    let session = use_session();
    let token = use_state(String::new);
    let error = use_state(|| None::<String>);
    let checking = use_state(|| false);

    let oninput = {
        let token = token.clone();
        on_input(move |value| token.set(value))
    };
    let onsubmit = {
        let token = token.clone();
        let error = error.clone();
        let checking = checking.clone();
        let sign_in = session.sign_in.clone();
        let lang = i18n.lang;
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let value = token.trim().to_owned();
            if value.is_empty() || *checking {
                return;
            }
            checking.set(true);
            error.set(None);
            let error = error.clone();
            let checking = checking.clone();
            let sign_in = sign_in.clone();
            spawn_local(async move {
                match Api::check_token(&value).await {
                    Ok(()) => sign_in.emit(value),
                    Err(e) => error.set(Some(e.describe(lang))),
                }
                checking.set(false);
            });
        })
    };

    html! {
        <div class="signin-page">
            <div class="signin-lang"><LangSwitch /></div>
            <form class="card signin" id="sign-in-form" {onsubmit}>
                <div class="brand big">
                    <span class="logo" aria-hidden="true">{ "⇄" }</span>
                    <span class="brand-name">{ i18n.t(Text::Brand) }</span>
                </div>
                <h1>{ i18n.t(Text::SignInTitle) }</h1>
                <p class="muted">{ i18n.t(Text::SignInHint) }</p>
                if session.signed_out == SignedOut::Expired && error.is_none() {
                    <div class="banner warn" id="session-ended">{ i18n.t(Text::SessionEnded) }</div>
                }
                <label class="field" for="token">
                    <span class="field-label">{ i18n.t(Text::AdminToken) }</span>
                    <input id="token" type="password" autocomplete="current-password" autofocus=true
                        value={(*token).clone()} {oninput} />
                </label>
                if let Some(message) = (*error).clone() {
                    <div class="banner error" role="alert" id="sign-in-error">{ message }</div>
                }
                <button type="submit" class="button primary wide" id="sign-in-button" disabled={*checking}>
                    { i18n.t(if *checking { Text::Checking } else { Text::SignInButton }) }
                </button>
            </form>
        </div>
    }
}
