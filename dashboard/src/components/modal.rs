//! A dialog over the page; Escape or a click outside closes it.

use yew::prelude::*;

use crate::hooks::use_i18n;
use crate::i18n::Text;

#[derive(Properties, PartialEq)]
pub struct ModalProps {
    pub title: AttrValue,
    pub on_close: Callback<()>,
    pub children: Children,
    #[prop_or_default]
    pub wide: bool,
    #[prop_or_default]
    pub id: Option<AttrValue>,
}

#[component]
pub fn Modal(props: &ModalProps) -> Html {
    let i18n = use_i18n();
    let close_backdrop = {
        let on_close = props.on_close.clone();
        Callback::from(move |_| on_close.emit(()))
    };
    let keep = Callback::from(|e: MouseEvent| e.stop_propagation());
    let on_key = {
        let on_close = props.on_close.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                on_close.emit(());
            }
        })
    };
    let close = {
        let on_close = props.on_close.clone();
        Callback::from(move |_| on_close.emit(()))
    };
    html! {
        <div class="backdrop" onclick={close_backdrop} onkeydown={on_key}>
            <div class={classes!("modal", props.wide.then_some("wide"))} role="dialog" aria-modal="true"
                id={props.id.clone()} onclick={keep}>
                <div class="modal-head">
                    <h2>{ props.title.clone() }</h2>
                    <button class="button ghost small" aria-label={i18n.t(Text::Close)} onclick={close}>{ "✕" }</button>
                </div>
                <div class="modal-body">{ props.children.clone() }</div>
            </div>
        </div>
    }
}
