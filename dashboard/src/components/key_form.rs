//! Adding or editing a key: the form inside a dialog. New keys go to `POST /api/keys`, edits to
//! `PATCH /api/keys/{id}` with only the fields that changed.

use std::rc::Rc;

use shared::keys::{KeyView, QuotaReset, QuotaUnit};
use shared::providers::{ProviderFormat, ProviderList};
use yew::platform::spawn_local;
use yew::prelude::*;

use super::form::{event_checked, on_input, on_value};
use super::modal::Modal;
use crate::hooks::{use_api, use_i18n};
use crate::i18n::Text;
use crate::state::key_form::{patch_json, KeyField, KeyForm};

#[derive(Properties, PartialEq)]
pub struct KeyFormDialogProps {
    /// `None`: a new key.
    pub editing: Option<Rc<KeyView>>,
    pub providers: Rc<ProviderList>,
    pub on_saved: Callback<KeyView>,
    pub on_cancel: Callback<()>,
}

fn field_label(field: KeyField) -> Text {
    match field {
        KeyField::Provider => Text::Provider,
        KeyField::Name => Text::Name,
        KeyField::ApiKey => Text::ApiKey,
        KeyField::Priority => Text::Priority,
        KeyField::Weight => Text::Weight,
        KeyField::CostPerRequest => Text::CostPerRequest,
        KeyField::QuotaTotal => Text::QuotaTotal,
        KeyField::QuotaRemaining => Text::QuotaRemaining,
        KeyField::AzureDeployments => Text::AzureDeployments,
    }
}

fn field(id: &str, label: &str, hint: Option<&str>, control: Html) -> Html {
    html! {
        <label class="field" for={id.to_owned()}>
            <span class="field-label">{ label.to_owned() }</span>
            { control }
            if let Some(hint) = hint {
                <span class="field-hint">{ hint.to_owned() }</span>
            }
        </label>
    }
}

#[component]
pub fn KeyFormDialog(props: &KeyFormDialogProps) -> Html {
    let i18n = use_i18n();
    let api = use_api();
    let first_provider = props
        .providers
        .data
        .iter()
        .find(|p| p.supported)
        .map(|p| p.spec.id.clone())
        .unwrap_or_else(|| "openai".to_owned());
    let form = {
        let editing = props.editing.clone();
        use_state(move || match &editing {
            Some(key) => KeyForm::from_view(key),
            None => KeyForm::new(&first_provider),
        })
    };
    let error = use_state(|| None::<String>);
    let saving = use_state(|| false);

    // One setter per text field: `set(|f, v| f.name = v)`.
    let set = |apply: fn(&mut KeyForm, String)| {
        let form = form.clone();
        on_input(move |value| {
            let mut next = (*form).clone();
            apply(&mut next, value);
            form.set(next);
        })
    };
    let set_select = |apply: fn(&mut KeyForm, String)| {
        let form = form.clone();
        on_value(move |value| {
            let mut next = (*form).clone();
            apply(&mut next, value);
            form.set(next);
        })
    };
    let on_enabled = {
        let form = form.clone();
        Callback::from(move |e: Event| {
            let mut next = (*form).clone();
            next.enabled = event_checked(&e);
            form.set(next);
        })
    };

    let onsubmit = {
        let form = form.clone();
        let error = error.clone();
        let saving = saving.clone();
        let editing = props.editing.clone();
        let on_saved = props.on_saved.clone();
        let on_cancel = props.on_cancel.clone();
        let lang = i18n.lang;
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *saving {
                return;
            }
            let invalid = |field: KeyField| {
                format!(
                    "{}: {}",
                    lang.t(field_label(field)),
                    lang.t(Text::InvalidField)
                )
            };
            let api = api.clone();
            let error = error.clone();
            let saving = saving.clone();
            let on_saved = on_saved.clone();
            match &editing {
                None => match form.to_new_key() {
                    Err(field) => error.set(Some(invalid(field))),
                    Ok(new_key) => {
                        saving.set(true);
                        spawn_local(async move {
                            match api.post::<_, KeyView>("/api/keys", &new_key).await {
                                Ok(view) => on_saved.emit(view),
                                Err(e) => error.set(Some(e.describe(lang))),
                            }
                            saving.set(false);
                        });
                    }
                },
                Some(key) => match form.to_patch(key) {
                    Err(field) => error.set(Some(invalid(field))),
                    Ok(patch) if patch == Default::default() => on_cancel.emit(()),
                    Ok(patch) => {
                        saving.set(true);
                        let path = format!("/api/keys/{}", key.id);
                        spawn_local(async move {
                            match api.patch::<_, KeyView>(&path, &patch_json(&patch)).await {
                                Ok(view) => on_saved.emit(view),
                                Err(e) => error.set(Some(e.describe(lang))),
                            }
                            saving.set(false);
                        });
                    }
                },
            }
        })
    };

    let editing = props.editing.is_some();
    let is_azure = props
        .providers
        .data
        .iter()
        .any(|p| p.spec.id == form.provider && p.spec.format == ProviderFormat::Azure);
    let title = i18n.t(if editing { Text::EditKey } else { Text::AddKey });
    let cancel = {
        let on_cancel = props.on_cancel.clone();
        Callback::from(move |_| on_cancel.emit(()))
    };
    let unit_value = match form.quota_unit {
        QuotaUnit::Requests => "requests",
        QuotaUnit::Tokens => "tokens",
        QuotaUnit::Usd => "usd",
    };
    let reset_value = match form.quota_reset {
        None => "",
        Some(QuotaReset::Daily) => "daily",
        Some(QuotaReset::Monthly) => "monthly",
    };

    html! {
        <Modal title={title} on_close={props.on_cancel.clone()} id="key-dialog">
            <form class="form" id="key-form" {onsubmit} novalidate=true>
                <div class="grid two">
                    { field("key-provider", i18n.t(Text::Provider), None, html! {
                        <select id="key-provider" disabled={editing} onchange={set_select(|f, v| f.provider = v)}>
                            { for props.providers.data.iter().map(|p| html! {
                                <option value={p.spec.id.clone()} selected={p.spec.id == form.provider} disabled={!p.supported}>
                                    { format!("{} ({})", p.spec.display_name, p.spec.id) }
                                </option>
                            }) }
                        </select>
                    }) }
                    { field("key-name", i18n.t(Text::Name), None, html! {
                        <input id="key-name" type="text" autocomplete="off" value={form.name.clone()} oninput={set(|f, v| f.name = v)} />
                    }) }
                    { field("key-api-key", i18n.t(Text::ApiKey), editing.then(|| i18n.t(Text::ApiKeyKeep)), html! {
                        <input id="key-api-key" type="password" autocomplete="off" value={form.api_key.clone()} oninput={set(|f, v| f.api_key = v)} />
                    }) }
                    { field("key-base-url", i18n.t(Text::BaseUrl), Some(i18n.t(Text::BaseUrlHint)), html! {
                        <input id="key-base-url" type="url" placeholder="https://…/v1" value={form.base_url.clone()} oninput={set(|f, v| f.base_url = v)} />
                    }) }
                </div>
                { field("key-models", i18n.t(Text::Models), Some(i18n.t(Text::ModelsHint)), html! {
                    <input id="key-models" type="text" placeholder="gpt-4o, gpt-4o-mini" value={form.models.clone()} oninput={set(|f, v| f.models = v)} />
                }) }
                <div class="grid four">
                    { field("key-priority", i18n.t(Text::Priority), Some(i18n.t(Text::PriorityHint)), html! {
                        <input id="key-priority" type="number" step="1" value={form.priority.clone()} oninput={set(|f, v| f.priority = v)} />
                    }) }
                    { field("key-weight", i18n.t(Text::Weight), None, html! {
                        <input id="key-weight" type="number" min="1" step="1" placeholder="1" value={form.weight.clone()} oninput={set(|f, v| f.weight = v)} />
                    }) }
                    { field("key-cost", i18n.t(Text::CostPerRequest), None, html! {
                        <input id="key-cost" type="number" min="0" step="any" placeholder="0" value={form.cost_per_request.clone()} oninput={set(|f, v| f.cost_per_request = v)} />
                    }) }
                    <label class="field checkbox" for="key-enabled">
                        <input id="key-enabled" type="checkbox" checked={form.enabled} onchange={on_enabled} />
                        <span class="field-label">{ i18n.t(Text::Enabled) }</span>
                    </label>
                </div>
                <div class="grid four">
                    { field("key-quota-total", i18n.t(Text::QuotaTotal), None, html! {
                        <input id="key-quota-total" type="number" min="0" step="any" value={form.quota_total.clone()} oninput={set(|f, v| f.quota_total = v)} />
                    }) }
                    { field("key-quota-remaining", i18n.t(Text::QuotaRemaining), None, html! {
                        <input id="key-quota-remaining" type="number" step="any" value={form.quota_remaining.clone()} oninput={set(|f, v| f.quota_remaining = v)} />
                    }) }
                    { field("key-quota-unit", i18n.t(Text::QuotaUnit), None, html! {
                        <select id="key-quota-unit" onchange={set_select(|f, v| f.quota_unit = match v.as_str() {
                            "tokens" => QuotaUnit::Tokens,
                            "usd" => QuotaUnit::Usd,
                            _ => QuotaUnit::Requests,
                        })}>
                            <option value="requests" selected={unit_value == "requests"}>{ i18n.t(Text::UnitRequests) }</option>
                            <option value="tokens" selected={unit_value == "tokens"}>{ i18n.t(Text::UnitTokens) }</option>
                            <option value="usd" selected={unit_value == "usd"}>{ i18n.t(Text::UnitUsd) }</option>
                        </select>
                    }) }
                    { field("key-quota-reset", i18n.t(Text::QuotaReset), None, html! {
                        <select id="key-quota-reset" onchange={set_select(|f, v| f.quota_reset = match v.as_str() {
                            "daily" => Some(QuotaReset::Daily),
                            "monthly" => Some(QuotaReset::Monthly),
                            _ => None,
                        })}>
                            <option value="" selected={reset_value.is_empty()}>{ i18n.t(Text::ResetNever) }</option>
                            <option value="daily" selected={reset_value == "daily"}>{ i18n.t(Text::ResetDaily) }</option>
                            <option value="monthly" selected={reset_value == "monthly"}>{ i18n.t(Text::ResetMonthly) }</option>
                        </select>
                    }) }
                </div>
                if is_azure {
                    <div class="grid two">
                        { field("key-azure-version", i18n.t(Text::AzureApiVersion), None, html! {
                            <input id="key-azure-version" type="text" placeholder="2024-10-21" value={form.azure_api_version.clone()} oninput={set(|f, v| f.azure_api_version = v)} />
                        }) }
                        { field("key-azure-deployments", i18n.t(Text::AzureDeployments), None, html! {
                            <textarea id="key-azure-deployments" rows="3" value={form.azure_deployments.clone()} oninput={set(|f, v| f.azure_deployments = v)} />
                        }) }
                    </div>
                }
                if let Some(message) = (*error).clone() {
                    <div class="banner error" role="alert" id="key-form-error">{ message }</div>
                }
                <div class="form-actions">
                    <button type="button" class="button ghost" onclick={cancel}>{ i18n.t(Text::Cancel) }</button>
                    <button type="submit" class="button primary" id="key-save" disabled={*saving}>
                        { i18n.t(if *saving { Text::Saving } else { Text::Save }) }
                    </button>
                </div>
            </form>
        </Modal>
    }
}
