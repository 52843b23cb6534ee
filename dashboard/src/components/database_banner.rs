//! A warning across every page while the database does not take writes (the live feed's
//! snapshot says why): calls still go through, but nothing the user changes is kept.

use yew::prelude::*;

use crate::hooks::{use_i18n, use_live};
use crate::i18n::Text;

/// The text for a fault the server reports (`read_only`, `busy`, `full`); `None` for a fault this
/// dashboard does not know, which is then not shown rather than shown wrong.
pub fn fault_text(fault: &str) -> Option<Text> {
    match fault {
        "read_only" => Some(Text::DatabaseReadOnly),
        "busy" => Some(Text::DatabaseBusy),
        "full" => Some(Text::DatabaseFull),
        _ => None,
    }
}

#[component]
pub fn DatabaseBanner() -> Html {
    let i18n = use_i18n();
    let live = use_live();
    let fault = live
        .0
        .snapshot
        .as_ref()
        .and_then(|s| s.database_fault.as_deref());
    match fault.and_then(|f| fault_text(f).map(|text| (f, text))) {
        Some((fault, text)) => html! {
            <div class="banner warn database-banner" id="database-banner" role="alert" data-fault={fault.to_owned()}>
                <span>{ i18n.t(text) }</span>
            </div>
        },
        None => html! {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_the_server_reports_has_its_own_text() {
        let texts: Vec<Text> = ["read_only", "busy", "full"]
            .iter()
            .map(|f| fault_text(f).expect("known"))
            .collect();
        assert_eq!(
            texts,
            [
                Text::DatabaseReadOnly,
                Text::DatabaseBusy,
                Text::DatabaseFull
            ]
        );
        assert_eq!(fault_text("ok"), None);
        assert_eq!(fault_text("something_new"), None);
    }
}
