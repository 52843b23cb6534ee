//! Settings (`GET/PUT /api/settings`): routing strategy and per-model overrides, failover
//! attempts, timeouts, model aliases and log retention. Checked with the shared rules before
//! saving; the server checks again.

use shared::settings::{RoutingStrategy, Settings as SettingsDto};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::components::error_banner::ErrorBanner;
use crate::components::form::{event_checked, on_input, on_value};
use crate::hooks::{use_api, use_fetch, use_i18n, I18n};
use crate::i18n::Text;
use crate::state::settings_form::{
    strategy_from_id, strategy_id, SettingsField, SettingsForm, STRATEGIES,
};

fn field_label(field: SettingsField) -> Text {
    match field {
        SettingsField::MaxAttempts => Text::MaxAttempts,
        SettingsField::FirstByteTimeout => Text::FirstByteTimeout,
        SettingsField::StreamIdleTimeout => Text::StreamIdleTimeout,
        SettingsField::LogRetention => Text::LogRetention,
        SettingsField::ModelAliases => Text::ModelAliases,
        SettingsField::ModelStrategies => Text::PerModelStrategies,
    }
}

fn strategy_select(
    i18n: &I18n,
    id: &str,
    value: RoutingStrategy,
    onchange: Callback<Event>,
) -> Html {
    html! {
        <select id={id.to_owned()} {onchange}>
            { for STRATEGIES.iter().map(|s| html! {
                <option value={strategy_id(*s)} selected={*s == value}>{ i18n.t(Text::of_strategy(*s)) }</option>
            }) }
        </select>
    }
}

/// Applies a control's new value to the form.
type FormEdit = Box<dyn Fn(&mut SettingsForm, String)>;

#[derive(Clone, PartialEq)]
enum Outcome {
    None,
    Saved,
    Invalid(String),
}

#[component]
pub fn Settings() -> Html {
    let i18n = use_i18n();
    let api = use_api();
    let reload = use_state(|| 0u64);
    let fetch = use_fetch::<SettingsDto>(Some("/api/settings".into()), *reload);
    let current = use_state(|| None::<SettingsDto>);
    let form = use_state(SettingsForm::default);
    let outcome = use_state(|| Outcome::None);
    let save_error = use_state(|| None::<crate::services::api::ApiError>);
    let saving = use_state(|| false);

    {
        let current = current.clone();
        let form = form.clone();
        use_effect_with(fetch.data.clone(), move |data| {
            if let Some(settings) = data {
                form.set(SettingsForm::from_settings(settings));
                current.set(Some((**settings).clone()));
            }
        });
    }

    let edit = |apply: fn(&mut SettingsForm, String)| {
        let form = form.clone();
        let outcome = outcome.clone();
        on_input(move |v| {
            let mut next = (*form).clone();
            apply(&mut next, v);
            form.set(next);
            outcome.set(Outcome::None);
        })
    };
    let edit_row = |apply: FormEdit| {
        let form = form.clone();
        let outcome = outcome.clone();
        on_value(move |v| {
            let mut next = (*form).clone();
            apply(&mut next, v);
            form.set(next);
            outcome.set(Outcome::None);
        })
    };
    let toggle = |apply: fn(&mut SettingsForm, bool)| {
        let form = form.clone();
        let outcome = outcome.clone();
        Callback::from(move |e: Event| {
            let mut next = (*form).clone();
            apply(&mut next, event_checked(&e));
            form.set(next);
            outcome.set(Outcome::None);
        })
    };
    let change = |apply: Box<dyn Fn(&mut SettingsForm)>| {
        let form = form.clone();
        Callback::from(move |_: MouseEvent| {
            let mut next = (*form).clone();
            apply(&mut next);
            form.set(next);
        })
    };

    let onsubmit = {
        let form = form.clone();
        let current = current.clone();
        let outcome = outcome.clone();
        let save_error = save_error.clone();
        let saving = saving.clone();
        let lang = i18n.lang;
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(settings) = (*current).clone() else {
                return;
            };
            match form.to_patch(&settings) {
                Err(field) => outcome.set(Outcome::Invalid(format!(
                    "{}: {}",
                    lang.t(field_label(field)),
                    lang.t(Text::InvalidField)
                ))),
                Ok(patch) => {
                    let (api, form, current, outcome, save_error, saving) = (
                        api.clone(),
                        form.clone(),
                        current.clone(),
                        outcome.clone(),
                        save_error.clone(),
                        saving.clone(),
                    );
                    saving.set(true);
                    spawn_local(async move {
                        match api.put::<_, SettingsDto>("/api/settings", &patch).await {
                            Ok(saved) => {
                                form.set(SettingsForm::from_settings(&saved));
                                current.set(Some(saved));
                                save_error.set(None);
                                outcome.set(Outcome::Saved);
                            }
                            Err(e) => save_error.set(Some(e)),
                        }
                        saving.set(false);
                    });
                }
            }
        })
    };

    let t = |text| i18n.t(text);
    if current.is_none() {
        return html! {
            <div class="settings-page">
                <div class="section-head"><h1>{ t(Text::NavSettings) }</h1></div>
                if let Some(error) = fetch.error.clone() {
                    <ErrorBanner error={error} on_retry={{ let reload = reload.clone(); Callback::from(move |()| reload.set(*reload + 1)) }} />
                } else {
                    <p class="muted">{ t(Text::Loading) }</p>
                }
            </div>
        };
    }
    let f = &*form;
    html! {
        <div class="settings-page">
            <div class="section-head"><h1>{ t(Text::NavSettings) }</h1></div>
            <form class="form" id="settings-form" {onsubmit}>
                <section class="card">
                    <h3>{ t(Text::NavRouting) }</h3>
                    <div class="grid two">
                        <label class="field" for="routing-strategy">
                            <span class="field-label">{ t(Text::RoutingStrategy) }</span>
                            { strategy_select(&i18n, "routing-strategy", f.routing_strategy, {
                                let form = form.clone();
                                on_value(move |v| {
                                    let mut next = (*form).clone();
                                    next.routing_strategy = strategy_from_id(&v).unwrap_or_default();
                                    form.set(next);
                                })
                            }) }
                        </label>
                        <label class="field" for="max-attempts">
                            <span class="field-label">{ t(Text::MaxAttempts) }</span>
                            <input id="max-attempts" type="number" min="1" max="10" value={f.max_attempts.clone()} oninput={edit(|f, v| f.max_attempts = v)} />
                        </label>
                    </div>
                    <label class="field checkbox" for="conversation-affinity">
                        <input id="conversation-affinity" type="checkbox" checked={f.conversation_affinity}
                            onchange={toggle(|f, on| f.conversation_affinity = on)} />
                        <span class="field-label">{ t(Text::ConversationAffinity) }</span>
                    </label>
                    <h4>{ t(Text::PerModelStrategies) }</h4>
                    <div class="rows" id="model-strategies">
                        { for f.model_strategies.iter().enumerate().map(|(i, (model, strategy))| html! {
                            <div class="row">
                                <input type="text" placeholder={t(Text::Model)} value={model.clone()}
                                    onchange={edit_row(Box::new(move |f, v| f.model_strategies[i].0 = v))} />
                                { strategy_select(&i18n, &format!("model-strategy-{i}"), *strategy,
                                    edit_row(Box::new(move |f, v| f.model_strategies[i].1 = strategy_from_id(&v).unwrap_or_default()))) }
                                <button type="button" class="button ghost small" onclick={change(Box::new(move |f| { f.model_strategies.remove(i); }))}>{ t(Text::Remove) }</button>
                            </div>
                        }) }
                        <button type="button" class="button small" onclick={change(Box::new(|f| f.model_strategies.push((String::new(), RoutingStrategy::Cost))))}>
                            { format!("+ {}", t(Text::Add)) }
                        </button>
                    </div>
                </section>
                <section class="card">
                    <h3>{ t(Text::Timeouts) }</h3>
                    <div class="grid two">
                        <label class="field" for="first-byte-timeout">
                            <span class="field-label">{ t(Text::FirstByteTimeout) }</span>
                            <input id="first-byte-timeout" type="number" min="1" value={f.first_byte_timeout_ms.clone()} oninput={edit(|f, v| f.first_byte_timeout_ms = v)} />
                        </label>
                        <label class="field" for="stream-idle-timeout">
                            <span class="field-label">{ t(Text::StreamIdleTimeout) }</span>
                            <input id="stream-idle-timeout" type="number" min="1" value={f.stream_idle_timeout_ms.clone()} oninput={edit(|f, v| f.stream_idle_timeout_ms = v)} />
                        </label>
                    </div>
                </section>
                <section class="card">
                    <h3>{ t(Text::ModelAliases) }</h3>
                    <div class="rows" id="model-aliases">
                        { for f.model_aliases.iter().enumerate().map(|(i, (alias, target))| html! {
                            <div class="row">
                                <input type="text" placeholder={t(Text::Alias)} value={alias.clone()}
                                    onchange={edit_row(Box::new(move |f, v| f.model_aliases[i].0 = v))} />
                                <span class="muted">{ "→" }</span>
                                <input type="text" placeholder={t(Text::TargetModel)} value={target.clone()}
                                    onchange={edit_row(Box::new(move |f, v| f.model_aliases[i].1 = v))} />
                                <button type="button" class="button ghost small" onclick={change(Box::new(move |f| { f.model_aliases.remove(i); }))}>{ t(Text::Remove) }</button>
                            </div>
                        }) }
                        <button type="button" class="button small" onclick={change(Box::new(|f| f.model_aliases.push((String::new(), String::new()))))}>
                            { format!("+ {}", t(Text::Add)) }
                        </button>
                    </div>
                </section>
                <section class="card">
                    <h3>{ t(Text::Logging) }</h3>
                    <div class="grid two">
                        <label class="field checkbox" for="store-call-logs">
                            <input id="store-call-logs" type="checkbox" checked={f.store_call_logs}
                                onchange={toggle(|f, on| f.store_call_logs = on)} />
                            <span class="field-label">{ t(Text::StoreCallLogs) }</span>
                        </label>
                        <label class="field" for="log-retention">
                            <span class="field-label">{ t(Text::LogRetention) }</span>
                            <input id="log-retention" type="number" min="0" value={f.log_retention_days.clone()} oninput={edit(|f, v| f.log_retention_days = v)} />
                        </label>
                    </div>
                </section>
                if let Outcome::Invalid(message) = (*outcome).clone() {
                    <div class="banner error" role="alert">{ message }</div>
                }
                if let Some(error) = (*save_error).clone() {
                    <ErrorBanner error={error} />
                }
                if *outcome == Outcome::Saved {
                    <div class="banner good" id="settings-saved">{ t(Text::SettingsSaved) }</div>
                }
                <div class="form-actions">
                    <button type="submit" class="button primary" id="save-settings" disabled={*saving}>
                        { t(if *saving { Text::Saving } else { Text::Save }) }
                    </button>
                </div>
            </form>
        </div>
    }
}
