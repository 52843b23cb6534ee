//! Any other path.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::hooks::use_i18n;
use crate::i18n::Text;
use crate::route::Route;

#[component]
pub fn NotFound() -> Html {
    let i18n = use_i18n();
    html! {
        <section class="card empty">
            <p>{ i18n.t(Text::PageNotFound) }</p>
            <Link<Route> to={Route::Overview} classes="button">{ i18n.t(Text::BackToOverview) }</Link<Route>>
        </section>
    }
}
