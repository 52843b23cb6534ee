//! An API error, in words, with an optional retry.

use yew::prelude::*;

use crate::hooks::use_i18n;
use crate::i18n::Text;
use crate::services::api::ApiError;

#[derive(Properties, PartialEq)]
pub struct ErrorBannerProps {
    pub error: ApiError,
    #[prop_or_default]
    pub on_retry: Option<Callback<()>>,
}

#[component]
pub fn ErrorBanner(props: &ErrorBannerProps) -> Html {
    let i18n = use_i18n();
    html! {
        <div class="banner error" role="alert">
            <span>{ props.error.describe(i18n.lang) }</span>
            if let Some(retry) = props.on_retry.clone() {
                <button class="button small" onclick={move |_| retry.emit(())}>{ i18n.t(Text::Retry) }</button>
            }
        </div>
    }
}
