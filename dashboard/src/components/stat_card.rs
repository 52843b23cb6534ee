//! One number of the Overview with its label.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct StatCardProps {
    pub label: AttrValue,
    pub value: AttrValue,
    #[prop_or_default]
    pub hint: Option<AttrValue>,
    /// `data-stat` for tests and styling.
    pub stat: AttrValue,
}

#[component]
pub fn StatCard(props: &StatCardProps) -> Html {
    html! {
        <div class="card stat" data-stat={props.stat.clone()}>
            <div class="stat-label">{ props.label.clone() }</div>
            <div class="stat-value">{ props.value.clone() }</div>
            if let Some(hint) = props.hint.clone() {
                <div class="stat-hint">{ hint }</div>
            }
        </div>
    }
}
