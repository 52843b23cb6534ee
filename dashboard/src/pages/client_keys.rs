//! Client keys: the keys people and programs use on `/v1`, each with its own limits. Create one
//! (its key is shown once, in the answer), edit its limits, enable or disable it, revoke it; the
//! table shows what each key spent and what is left of its limits.

use std::rc::Rc;

use shared::client_keys::{
    BudgetPeriod, ClientKeyChanges, ClientKeyCreated, ClientKeyList, ClientKeyView,
};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::components::error_banner::ErrorBanner;
use crate::components::form::{event_checked, on_input, on_value};
use crate::components::modal::Modal;
use crate::format;
use crate::hooks::{use_api, use_fetch, use_i18n, use_live_reload, use_now, LiveReload};
use crate::i18n::{Lang, Text};
use crate::services::api::ApiError;
use crate::services::browser::tz_offset_minutes;
use crate::state::client_key_form::{ClientKeyField, ClientKeyForm};

const REFRESH: LiveReload = LiveReload {
    on_calls: true,
    on_key_states: false,
    min_interval_ms: 5_000,
};

#[derive(Clone, PartialEq)]
enum Dialog {
    None,
    Add,
    Edit(Rc<ClientKeyView>),
    Revoke(Rc<ClientKeyView>),
    Created(Rc<ClientKeyCreated>),
}

fn field_label(field: ClientKeyField) -> Text {
    match field {
        ClientKeyField::Name => Text::Name,
        ClientKeyField::Budget => Text::BudgetUsd,
        ClientKeyField::Rpm => Text::RpmLabel,
        ClientKeyField::Tpm => Text::TpmLabel,
        ClientKeyField::MaxParallel => Text::MaxParallelLabel,
        ClientKeyField::ExpiresAt => Text::ExpiresAtLabel,
    }
}

fn period_text(period: BudgetPeriod) -> Text {
    match period {
        BudgetPeriod::Total => Text::PeriodTotal,
        BudgetPeriod::Daily => Text::PeriodDaily,
        BudgetPeriod::Monthly => Text::PeriodMonthly,
    }
}

/// The limits of a key in one line, with what is left of each.
fn limits_line(key: &ClientKeyView, lang: Lang) -> String {
    let mut parts = Vec::new();
    if let Some(rpm) = key.rpm {
        let left = key.usage.requests_left.unwrap_or(0);
        parts.push(format!("{left}/{rpm} rpm"));
    }
    if let Some(tpm) = key.tpm {
        let left = key.usage.tokens_left.unwrap_or(0);
        parts.push(format!("{left}/{tpm} tpm"));
    }
    if let Some(max) = key.max_parallel {
        parts.push(format!("{}/{max} ∥", key.usage.in_flight));
    }
    parts.push(match &key.models {
        Some(models) => models.join(", "),
        None => lang.t(Text::AllModels).to_owned(),
    });
    parts.join(" · ")
}

fn status_of(key: &ClientKeyView, now: i64) -> Text {
    if key.revoked_at.is_some() {
        Text::RevokedWord
    } else if key.expires_at.is_some_and(|at| now >= at) {
        Text::ExpiredWord
    } else if !key.enabled {
        Text::DisabledWord
    } else {
        Text::ActiveWord
    }
}

#[component]
pub fn ClientKeys() -> Html {
    let i18n = use_i18n();
    let api = use_api();
    let now = use_now(1_000);
    let reload = use_live_reload(REFRESH);
    let local_reload = use_state(|| 0u64);
    let fetch = use_fetch::<ClientKeyList>(Some("/api/client_keys".into()), reload + *local_reload);
    let dialog = use_state(|| Dialog::None);
    let action_error = use_state(|| None::<ApiError>);
    let t = |text| i18n.t(text);

    let reload_now = {
        let local_reload = local_reload.clone();
        Callback::from(move |()| local_reload.set(*local_reload + 1))
    };
    let close_dialog = {
        let dialog = dialog.clone();
        Callback::from(move |()| dialog.set(Dialog::None))
    };
    let on_created = {
        let dialog = dialog.clone();
        let reload_now = reload_now.clone();
        Callback::from(move |created: ClientKeyCreated| {
            dialog.set(Dialog::Created(Rc::new(created)));
            reload_now.emit(());
        })
    };
    let on_saved = {
        let dialog = dialog.clone();
        let reload_now = reload_now.clone();
        Callback::from(move |()| {
            dialog.set(Dialog::None);
            reload_now.emit(());
        })
    };
    let patch = {
        let api = api.clone();
        let action_error = action_error.clone();
        let reload_now = reload_now.clone();
        Callback::from(move |(id, changes): (i64, ClientKeyChanges)| {
            let api = api.clone();
            let action_error = action_error.clone();
            let reload_now = reload_now.clone();
            spawn_local(async move {
                match api
                    .patch::<_, ClientKeyView>(&format!("/api/client_keys/{id}"), &changes)
                    .await
                {
                    Ok(_) => {
                        action_error.set(None);
                        reload_now.emit(());
                    }
                    Err(e) => action_error.set(Some(e)),
                }
            });
        })
    };
    let confirm_revoke = {
        let api = api.clone();
        let dialog = dialog.clone();
        let action_error = action_error.clone();
        let reload_now = reload_now.clone();
        Callback::from(move |id: i64| {
            let api = api.clone();
            let dialog = dialog.clone();
            let action_error = action_error.clone();
            let reload_now = reload_now.clone();
            spawn_local(async move {
                match api.delete(&format!("/api/client_keys/{id}")).await {
                    Ok(()) => action_error.set(None),
                    Err(e) => action_error.set(Some(e)),
                }
                dialog.set(Dialog::None);
                reload_now.emit(());
            });
        })
    };

    let dialog_html = match &*dialog {
        Dialog::None => html! {},
        Dialog::Add => html! {
            <ClientKeyDialog editing={None::<Rc<ClientKeyView>>} on_created={on_created.clone()} on_saved={on_saved.clone()} on_cancel={close_dialog.clone()} />
        },
        Dialog::Edit(key) => html! {
            <ClientKeyDialog editing={Some(key.clone())} on_created={on_created.clone()} on_saved={on_saved.clone()} on_cancel={close_dialog.clone()} />
        },
        Dialog::Revoke(key) => {
            let id = key.id;
            let confirm = confirm_revoke.clone();
            let cancel = close_dialog.clone();
            html! {
                <Modal title={t(Text::RevokeClientKeyQuestion)} on_close={close_dialog.clone()} id="revoke-dialog">
                    <p><strong>{ key.name.clone() }</strong>{ " " }<code>{ format!("{}…", key.prefix) }</code></p>
                    <p class="muted">{ t(Text::RevokeClientKeyNote) }</p>
                    <div class="form-actions">
                        <button class="button ghost" onclick={move |_| cancel.emit(())}>{ t(Text::Cancel) }</button>
                        <button class="button danger" id="confirm-revoke" onclick={move |_| confirm.emit(id)}>{ t(Text::Revoke) }</button>
                    </div>
                </Modal>
            }
        }
        Dialog::Created(created) => {
            let close = close_dialog.clone();
            html! {
                <Modal title={t(Text::ClientKeyCreated)} on_close={close_dialog.clone()} id="created-dialog">
                    <p><strong>{ created.name.clone() }</strong></p>
                    <p><code class="new-client-key" id="new-client-key">{ created.key.clone() }</code></p>
                    <p class="muted">{ t(Text::ClientKeyShownOnce) }</p>
                    <div class="form-actions">
                        <button class="button primary" id="close-created" onclick={move |_| close.emit(())}>{ t(Text::Close) }</button>
                    </div>
                </Modal>
            }
        }
    };

    let table = match (&fetch.data, &fetch.error) {
        (Some(list), _) if list.data.is_empty() => {
            html! { <div class="card empty" id="no-client-keys">{ t(Text::NoClientKeys) }</div> }
        }
        (Some(list), _) => html! {
            <div class="card table-card">
                <table class="table" id="client-keys-table">
                    <thead><tr>
                        <th>{ t(Text::Name) }</th>
                        <th>{ t(Text::State) }</th>
                        <th>{ t(Text::LimitsLabel) }</th>
                        <th class="num">{ t(Text::SpentLabel) }</th>
                        <th class="num">{ t(Text::Calls) }</th>
                        <th>{ t(Text::Actions) }</th>
                    </tr></thead>
                    <tbody>
                        { for list.data.iter().map(|key| {
                            let key = Rc::new(key.clone());
                            let revoked = key.revoked_at.is_some();
                            let edit = { let dialog = dialog.clone(); let key = key.clone(); move |_| dialog.set(Dialog::Edit(key.clone())) };
                            let revoke = { let dialog = dialog.clone(); let key = key.clone(); move |_| dialog.set(Dialog::Revoke(key.clone())) };
                            let toggle = {
                                let patch = patch.clone();
                                let key = key.clone();
                                move |_| patch.emit((key.id, ClientKeyChanges { enabled: Some(!key.enabled), ..Default::default() }))
                            };
                            let budget = match key.budget_usd {
                                Some(b) => format!("{} / {} {}", format::money(key.usage.spent_usd), format::money(b), t(period_text(key.budget_period))),
                                None => format::money(key.usage.spent_usd),
                            };
                            html! {
                                <tr key={key.id} data-client-key-id={key.id.to_string()} data-client-key-name={key.name.clone()}
                                    class={classes!((revoked || !key.enabled).then_some("disabled"))}>
                                    <td>
                                        <div class="strong">{ key.name.clone() }</div>
                                        <div class="muted small"><code>{ format!("{}…", key.prefix) }</code>
                                            if let Some(note) = &key.note { { format!(" · {note}") } }
                                        </div>
                                    </td>
                                    <td class="client-key-status">{ t(status_of(&key, now)) }
                                        if let Some(at) = key.expires_at {
                                            <div class="muted small">{ format!("{} {}", t(Text::ExpiresAtLabel), format::relative(at, now, i18n.lang)) }</div>
                                        }
                                    </td>
                                    <td class="small client-key-limits">{ limits_line(&key, i18n.lang) }</td>
                                    <td class="num client-key-spent">{ budget }</td>
                                    <td class="num">
                                        <span class="client-key-calls">{ key.usage.calls.to_string() }</span>
                                        if key.usage.errors > 0 {
                                            <div class="muted small">{ format!("{} {}", key.usage.errors, t(Text::ErrorsWord)) }</div>
                                        }
                                    </td>
                                    <td class="actions">
                                        if !revoked {
                                            <button class="button small client-key-toggle" onclick={toggle}>
                                                { t(if key.enabled { Text::Disable } else { Text::Enable }) }
                                            </button>
                                            <button class="button small ghost client-key-edit" onclick={edit}>{ t(Text::Edit) }</button>
                                            <button class="button small ghost danger client-key-revoke" onclick={revoke}>{ t(Text::Revoke) }</button>
                                        }
                                    </td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        },
        (None, Some(error)) => {
            html! { <ErrorBanner error={error.clone()} on_retry={reload_now.clone()} /> }
        }
        (None, None) => html! { <p class="muted">{ t(Text::Loading) }</p> },
    };
    let open_add = {
        let dialog = dialog.clone();
        Callback::from(move |_| dialog.set(Dialog::Add))
    };

    html! {
        <div class="client-keys-page">
            <div class="section-head">
                <h1>{ t(Text::NavClientKeys) }</h1>
                <button class="button primary" id="add-client-key" onclick={open_add}>
                    { format!("+ {}", t(Text::AddClientKey)) }
                </button>
            </div>
            if let Some(error) = (*action_error).clone() {
                <ErrorBanner error={error} />
            }
            { table }
            { dialog_html }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ClientKeyDialogProps {
    editing: Option<Rc<ClientKeyView>>,
    on_created: Callback<ClientKeyCreated>,
    on_saved: Callback<()>,
    on_cancel: Callback<()>,
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
fn ClientKeyDialog(props: &ClientKeyDialogProps) -> Html {
    let i18n = use_i18n();
    let api = use_api();
    let tz = tz_offset_minutes();
    let form = {
        let editing = props.editing.clone();
        use_state(move || match &editing {
            Some(view) => ClientKeyForm::from_view(view, tz),
            None => ClientKeyForm::new(),
        })
    };
    let error = use_state(|| None::<String>);
    let saving = use_state(|| false);
    let set = |f: fn(&mut ClientKeyForm, String)| {
        let form = form.clone();
        on_input(move |v| {
            let mut next = (*form).clone();
            f(&mut next, v);
            form.set(next);
        })
    };
    let set_period = {
        let form = form.clone();
        on_value(move |v| {
            let mut next = (*form).clone();
            next.budget_period = BudgetPeriod::parse(&v);
            form.set(next);
        })
    };
    let set_expiry = {
        let form = form.clone();
        on_value(move |v| {
            let mut next = (*form).clone();
            next.expires_at = v;
            form.set(next);
        })
    };
    let set_enabled = {
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
        let on_created = props.on_created.clone();
        let on_saved = props.on_saved.clone();
        let lang = i18n.lang;
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *saving {
                return;
            }
            let invalid = |field: ClientKeyField| {
                format!(
                    "{}: {}",
                    lang.t(field_label(field)),
                    lang.t(Text::InvalidField)
                )
            };
            let api = api.clone();
            let error = error.clone();
            let saving = saving.clone();
            match &editing {
                None => match form.to_new_key(tz) {
                    Err(field) => error.set(Some(invalid(field))),
                    Ok(new_key) => {
                        saving.set(true);
                        let on_created = on_created.clone();
                        spawn_local(async move {
                            match api
                                .post::<_, ClientKeyCreated>("/api/client_keys", &new_key)
                                .await
                            {
                                Ok(created) => on_created.emit(created),
                                Err(e) => error.set(Some(e.describe(lang))),
                            }
                            saving.set(false);
                        });
                    }
                },
                Some(key) => match form.to_changes(tz) {
                    Err(field) => error.set(Some(invalid(field))),
                    Ok(changes) => {
                        saving.set(true);
                        let on_saved = on_saved.clone();
                        let path = format!("/api/client_keys/{}", key.id);
                        spawn_local(async move {
                            match api.patch::<_, ClientKeyView>(&path, &changes).await {
                                Ok(_) => on_saved.emit(()),
                                Err(e) => error.set(Some(e.describe(lang))),
                            }
                            saving.set(false);
                        });
                    }
                },
            }
        })
    };
    let t = |text| i18n.t(text);
    let editing = props.editing.is_some();
    let title = t(if editing {
        Text::EditClientKey
    } else {
        Text::AddClientKey
    });
    let cancel = {
        let on_cancel = props.on_cancel.clone();
        Callback::from(move |_| on_cancel.emit(()))
    };
    let no_limit = Some(t(Text::EmptyMeansNoLimit));
    let f = &*form;
    html! {
        <Modal title={title} on_close={props.on_cancel.clone()} id="client-key-dialog">
            <form class="form" id="client-key-form" {onsubmit} novalidate=true>
                { field("ck-name", t(Text::Name), None, html! {
                    <input id="ck-name" type="text" autocomplete="off" value={f.name.clone()} oninput={set(|f, v| f.name = v)} />
                }) }
                { field("ck-budget", t(Text::BudgetUsd), no_limit, html! {
                    <input id="ck-budget" type="text" inputmode="decimal" value={f.budget_usd.clone()} oninput={set(|f, v| f.budget_usd = v)} />
                }) }
                { field("ck-period", t(Text::BudgetPeriodLabel), None, html! {
                    <select id="ck-period" onchange={set_period}>
                        { for [BudgetPeriod::Total, BudgetPeriod::Daily, BudgetPeriod::Monthly].into_iter().map(|p| html! {
                            <option value={p.as_str()} selected={f.budget_period == p}>{ t(period_text(p)) }</option>
                        }) }
                    </select>
                }) }
                { field("ck-rpm", t(Text::RpmLabel), no_limit, html! {
                    <input id="ck-rpm" type="text" inputmode="numeric" value={f.rpm.clone()} oninput={set(|f, v| f.rpm = v)} />
                }) }
                { field("ck-tpm", t(Text::TpmLabel), no_limit, html! {
                    <input id="ck-tpm" type="text" inputmode="numeric" value={f.tpm.clone()} oninput={set(|f, v| f.tpm = v)} />
                }) }
                { field("ck-parallel", t(Text::MaxParallelLabel), no_limit, html! {
                    <input id="ck-parallel" type="text" inputmode="numeric" value={f.max_parallel.clone()} oninput={set(|f, v| f.max_parallel = v)} />
                }) }
                { field("ck-models", t(Text::AllowedModels), no_limit, html! {
                    <input id="ck-models" type="text" autocomplete="off" value={f.models.clone()} oninput={set(|f, v| f.models = v)} />
                }) }
                { field("ck-expires", t(Text::ExpiresAtLabel), no_limit, html! {
                    <input id="ck-expires" type="datetime-local" value={f.expires_at.clone()} onchange={set_expiry} />
                }) }
                { field("ck-note", t(Text::NoteLabel), None, html! {
                    <input id="ck-note" type="text" autocomplete="off" value={f.note.clone()} oninput={set(|f, v| f.note = v)} />
                }) }
                <label class="field checkbox" for="ck-enabled">
                    <input id="ck-enabled" type="checkbox" checked={f.enabled} onchange={set_enabled} />
                    <span>{ t(Text::Enabled) }</span>
                </label>
                if let Some(message) = (*error).clone() {
                    <div class="banner error" role="alert" id="client-key-form-error">{ message }</div>
                }
                <div class="form-actions">
                    <button type="button" class="button ghost" onclick={cancel}>{ t(Text::Cancel) }</button>
                    <button type="submit" class="button primary" id="client-key-save" disabled={*saving}>
                        { t(if *saving { Text::Saving } else { Text::Save }) }
                    </button>
                </div>
            </form>
        </Modal>
    }
}
