//! The frame around every page: brand, navigation, live indicator, language switch, sign-out, and
//! a warning while the database does not take writes.

use yew::prelude::*;
use yew_router::prelude::*;

use super::connection_indicator::ConnectionIndicator;
use super::database_banner::DatabaseBanner;
use super::lang_switch::LangSwitch;
use crate::hooks::use_session::SignedOut;
use crate::hooks::{use_i18n, use_session};
use crate::i18n::Text;
use crate::route::Route;

#[derive(Properties, PartialEq)]
pub struct LayoutProps {
    pub children: Children,
}

#[component]
pub fn Layout(props: &LayoutProps) -> Html {
    let i18n = use_i18n();
    let session = use_session();
    let current = use_route::<Route>();
    let sign_out = {
        let sign_out = session.sign_out.clone();
        Callback::from(move |_| sign_out.emit(SignedOut::Fresh))
    };
    html! {
        <div class="shell">
            <header class="topbar">
                <div class="brand">
                    <span class="logo" aria-hidden="true">{ "⇄" }</span>
                    <span class="brand-name">{ i18n.t(Text::Brand) }</span>
                    <span class="tagline">{ i18n.t(Text::Tagline) }</span>
                </div>
                <nav class="nav" aria-label="main">
                    { for Route::NAV.iter().map(|route| {
                        let active = current == Some(*route);
                        html! {
                            <Link<Route> to={*route} classes={classes!("nav-link", active.then_some("active"))}>
                                { i18n.t(route.title()) }
                            </Link<Route>>
                        }
                    }) }
                </nav>
                <div class="topbar-tools">
                    <ConnectionIndicator />
                    <LangSwitch />
                    <button class="button ghost small" id="sign-out" onclick={sign_out}>{ i18n.t(Text::SignOut) }</button>
                </div>
            </header>
            <main class="page">
                <DatabaseBanner />
                { props.children.clone() }
            </main>
        </div>
    }
}
