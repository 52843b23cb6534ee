//! A provider as a coloured letter.

use yew::prelude::*;

use crate::state::keys::{provider_hue, provider_letter};

#[derive(Properties, PartialEq)]
pub struct ProviderBadgeProps {
    pub provider: AttrValue,
}

#[component]
pub fn ProviderBadge(props: &ProviderBadgeProps) -> Html {
    let hue = provider_hue(&props.provider);
    html! {
        <span class="provider-badge" title={props.provider.clone()}
            style={format!("background: hsl({hue} 55% 42%)")}>
            { provider_letter(&props.provider) }
        </span>
    }
}
