//! A routing score component in `0..=1` as a short bar and its value.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ScoreBarProps {
    pub value: f64,
    #[prop_or_default]
    pub strong: bool,
}

#[component]
pub fn ScoreBar(props: &ScoreBarProps) -> Html {
    let value = if props.value.is_finite() {
        props.value.clamp(0.0, 1.0)
    } else {
        0.0
    };
    html! {
        <span class={classes!("score", props.strong.then_some("strong"))}>
            <span class="score-track"><span class="score-fill" style={format!("width: {:.0}%", value * 100.0)}></span></span>
            <span class="score-value">{ format!("{value:.2}") }</span>
        </span>
    }
}
