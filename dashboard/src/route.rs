//! The dashboard's URLs. The server answers every non-API path with `index.html`, so each of
//! these can be loaded directly or reloaded.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::i18n::Text;
use crate::pages;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/")]
    Overview,
    #[at("/keys")]
    Keys,
    #[at("/logs")]
    Logs,
    #[at("/providers")]
    Providers,
    #[at("/routing")]
    Routing,
    #[at("/client-keys")]
    ClientKeys,
    #[at("/settings")]
    Settings,
    #[not_found]
    #[at("/404")]
    NotFound,
}

impl Route {
    /// The pages in the navigation bar, in order.
    pub const NAV: [Route; 7] = [
        Route::Overview,
        Route::Keys,
        Route::ClientKeys,
        Route::Logs,
        Route::Providers,
        Route::Routing,
        Route::Settings,
    ];

    pub fn title(self) -> Text {
        match self {
            Route::Overview | Route::NotFound => Text::NavOverview,
            Route::Keys => Text::NavKeys,
            Route::Logs => Text::NavLogs,
            Route::Providers => Text::NavProviders,
            Route::Routing => Text::NavRouting,
            Route::ClientKeys => Text::NavClientKeys,
            Route::Settings => Text::NavSettings,
        }
    }
}

pub fn switch(route: Route) -> Html {
    match route {
        Route::Overview => html! { <pages::overview::Overview /> },
        Route::Keys => html! { <pages::keys::Keys /> },
        Route::Logs => html! { <pages::logs::Logs /> },
        Route::Providers => html! { <pages::providers::Providers /> },
        Route::Routing => html! { <pages::routing::Routing /> },
        Route::ClientKeys => html! { <pages::client_keys::ClientKeys /> },
        Route::Settings => html! { <pages::settings::Settings /> },
        Route::NotFound => html! { <pages::not_found::NotFound /> },
    }
}
