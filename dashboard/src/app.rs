//! The root component: provides the language, the session and the live feed to every page, and
//! shows the sign-in page until there is a token.

use std::rc::Rc;

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::layout::Layout;
use crate::hooks::use_live::LiveStore;
use crate::hooks::use_session::SignedOut;
use crate::hooks::{I18n, LiveContext, Session};
use crate::i18n::Lang;
use crate::pages::sign_in::SignIn;
use crate::route::{switch, Route};
use crate::services::{browser, live, prefs, session};
use crate::state::live::LiveAction;

#[component]
pub fn App() -> Html {
    let lang = use_state(prefs::load_lang);
    let token = use_state(|| session::load_token().map(Rc::<str>::from));
    let signed_out = use_state(|| SignedOut::Fresh);
    let live_store = use_reducer(LiveStore::default);

    use_effect_with(*lang, |lang| browser::set_document_lang(lang.code()));

    let set_lang = {
        let lang = lang.clone();
        use_callback((), move |next: Lang, ()| {
            prefs::store_lang(next);
            lang.set(next);
        })
    };
    let sign_in = {
        let token = token.clone();
        use_callback((), move |value: String, ()| {
            session::store_token(&value);
            token.set(Some(Rc::from(value)));
        })
    };
    let sign_out = {
        let token = token.clone();
        let signed_out = signed_out.clone();
        use_callback((), move |why: SignedOut, ()| {
            session::clear_token();
            signed_out.set(why);
            token.set(None);
        })
    };

    // One live feed per signed-in session: started on sign-in, closed on sign-out.
    {
        let dispatcher = live_store.dispatcher();
        use_effect_with((*token).clone(), move |token| {
            let feed = token.as_ref().map(|token| {
                let dispatcher = dispatcher.clone();
                live::start(
                    token,
                    Callback::from(move |action| dispatcher.dispatch(action)),
                )
            });
            move || {
                drop(feed);
                dispatcher.dispatch(LiveAction::Reset);
            }
        });
    }

    let i18n = I18n {
        lang: *lang,
        set_lang,
    };
    let session = Session {
        token: (*token).clone(),
        signed_out: *signed_out,
        sign_in,
        sign_out,
    };
    let live: LiveContext = live_store;
    let signed_in = session.token.is_some();

    html! {
        <ContextProvider<I18n> context={i18n}>
            <ContextProvider<Session> context={session}>
                <ContextProvider<LiveContext> context={live}>
                    <BrowserRouter>
                        if signed_in {
                            <Layout>
                                <Switch<Route> render={switch} />
                            </Layout>
                        } else {
                            <SignIn />
                        }
                    </BrowserRouter>
                </ContextProvider<LiveContext>>
            </ContextProvider<Session>>
        </ContextProvider<I18n>>
    }
}
