//! Who is signed in: the admin token (or none) and the ways to change it.

use std::rc::Rc;

use yew::prelude::*;

use crate::services::api::Api;

/// Why the sign-in page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedOut {
    /// Never signed in, or signed out on purpose.
    Fresh,
    /// The server answered 401 to a call.
    Expired,
}

#[derive(Clone, PartialEq)]
pub struct Session {
    pub token: Option<Rc<str>>,
    pub signed_out: SignedOut,
    pub sign_in: Callback<String>,
    pub sign_out: Callback<SignedOut>,
}

#[hook]
pub fn use_session() -> Session {
    use_context::<Session>().expect("the app provides a Session")
}

/// The API for the signed-in session; any 401 signs out.
#[hook]
pub fn use_api() -> Api {
    let session = use_session();
    let token = session.token.clone().unwrap_or_else(|| Rc::from(""));
    let sign_out = session.sign_out.clone();
    let on_unauthorized = use_memo(sign_out, |sign_out| {
        let sign_out = sign_out.clone();
        Callback::from(move |()| sign_out.emit(SignedOut::Expired))
    });
    Api::new(token, (*on_unauthorized).clone())
}
