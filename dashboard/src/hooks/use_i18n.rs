//! The current language and the switch.

use yew::prelude::*;

use crate::i18n::{Lang, Text};

#[derive(Clone, PartialEq)]
pub struct I18n {
    pub lang: Lang,
    pub set_lang: Callback<Lang>,
}

impl I18n {
    pub fn t(&self, text: Text) -> &'static str {
        self.lang.t(text)
    }
}

#[hook]
pub fn use_i18n() -> I18n {
    use_context::<I18n>().expect("the app provides I18n")
}
