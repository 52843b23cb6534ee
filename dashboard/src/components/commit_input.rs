//! A text box whose value is committed on `change` (Enter or leaving the box), for filters that
//! fetch on each change. It keeps what is typed in its own state: a box bound straight to the
//! committed value is reset by every re-render before the commit (Yew writes the bound value
//! back into the DOM), and pages fed by the live feed re-render every second.

use yew::prelude::*;

use super::form::{on_input, on_value};

#[derive(Properties, PartialEq)]
pub struct CommitInputProps {
    pub id: AttrValue,
    /// The committed value; when it changes (a reset, a commit), the text follows it.
    pub value: AttrValue,
    pub on_commit: Callback<String>,
    #[prop_or_default]
    pub input_type: Option<AttrValue>,
    #[prop_or_default]
    pub placeholder: Option<AttrValue>,
    /// The id of a `<datalist>` of suggestions.
    #[prop_or_default]
    pub list: Option<AttrValue>,
}

#[component]
pub fn CommitInput(props: &CommitInputProps) -> Html {
    let draft = use_state(|| props.value.to_string());
    {
        let draft = draft.clone();
        use_effect_with(props.value.clone(), move |value| {
            draft.set(value.to_string())
        });
    }
    let oninput = {
        let draft = draft.clone();
        on_input(move |v| draft.set(v))
    };
    let onchange = {
        let on_commit = props.on_commit.clone();
        on_value(move |v| on_commit.emit(v))
    };
    html! {
        <input id={props.id.clone()} type={props.input_type.clone().unwrap_or("text".into())}
            list={props.list.clone()} placeholder={props.placeholder.clone()}
            value={(*draft).clone()} {oninput} {onchange} />
    }
}
