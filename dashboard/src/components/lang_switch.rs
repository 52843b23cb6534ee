//! One button that switches between English and Chinese.

use yew::prelude::*;

use crate::hooks::use_i18n;
use crate::i18n::Text;

#[component]
pub fn LangSwitch() -> Html {
    let i18n = use_i18n();
    let onclick = {
        let i18n = i18n.clone();
        Callback::from(move |_| i18n.set_lang.emit(i18n.lang.other()))
    };
    html! {
        <button class="button ghost small" id="lang-switch" title={i18n.t(Text::SwitchLanguage)} {onclick}>
            { i18n.t(Text::OtherLanguage) }
        </button>
    }
}
