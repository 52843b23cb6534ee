//! Keys: every provider key with its state, quota and usage; add, edit, enable/disable, test and
//! delete. State changes pushed by the live feed apply at once; usage numbers reload after calls.

use std::collections::HashMap;
use std::rc::Rc;

use shared::keys::{KeyList, KeyPatch, KeyTestResult, KeyView};
use shared::providers::ProviderList;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::components::error_banner::ErrorBanner;
use crate::components::key_form::KeyFormDialog;
use crate::components::modal::Modal;
use crate::components::provider_badge::ProviderBadge;
use crate::components::quota_bar::QuotaBar;
use crate::components::state_badge::StateBadge;
use crate::format;
use crate::hooks::{use_api, use_fetch, use_i18n, use_live, use_live_reload, use_now, LiveReload};
use crate::i18n::Text;
use crate::services::api::ApiError;
use crate::state::key_form::patch_json;
use crate::state::keys::apply_state_change;

const REFRESH: LiveReload = LiveReload {
    on_calls: true,
    on_key_states: true,
    min_interval_ms: 5_000,
};

#[derive(Clone, PartialEq)]
enum Dialog {
    None,
    Add,
    Edit(Rc<KeyView>),
    Delete(Rc<KeyView>),
}

#[derive(Clone, PartialEq)]
enum TestRun {
    Running,
    Done(KeyTestResult),
    Failed(String),
}

#[component]
pub fn Keys() -> Html {
    let i18n = use_i18n();
    let api = use_api();
    let live = use_live();
    let now = use_now(1_000);
    let reload = use_live_reload(REFRESH);
    let local_reload = use_state(|| 0u64);
    let fetch = use_fetch::<KeyList>(Some("/api/keys".into()), reload + *local_reload);
    let providers = use_fetch::<ProviderList>(Some("/api/providers".into()), 0);
    let keys = use_state(|| None::<Vec<KeyView>>);
    let dialog = use_state(|| Dialog::None);
    // Test runs by key id; several may run at once.
    let tests = use_mut_ref(HashMap::<i64, TestRun>::new);
    let redraw = use_force_update();
    let action_error = use_state(|| None::<ApiError>);

    // A fresh list from the server replaces ours.
    {
        let keys = keys.clone();
        use_effect_with(fetch.data.clone(), move |data| {
            if let Some(list) = data {
                keys.set(Some(list.data.clone()));
            }
        });
    }
    // Pushed state changes apply at once.
    {
        let keys = keys.clone();
        let live = live.clone();
        let seen = use_mut_ref(|| live.0.key_seq);
        use_effect_with(live.0.key_seq, move |seq| {
            let last = *seen.borrow();
            *seen.borrow_mut() = *seq;
            if let (Some(mut list), Some(changes)) =
                ((*keys).clone(), live.0.key_changes_after(last))
            {
                let mut changed = false;
                for change in changes {
                    changed |= apply_state_change(&mut list, change);
                }
                if changed {
                    keys.set(Some(list));
                }
            }
        });
    }

    let replace = {
        let keys = keys.clone();
        Callback::from(move |view: KeyView| {
            let mut list = (*keys).clone().unwrap_or_default();
            match list.iter_mut().find(|k| k.id == view.id) {
                Some(slot) => *slot = view,
                None => list.push(view),
            }
            keys.set(Some(list));
        })
    };
    let reload_now = {
        let local_reload = local_reload.clone();
        Callback::from(move |()| local_reload.set(*local_reload + 1))
    };
    let close_dialog = {
        let dialog = dialog.clone();
        Callback::from(move |()| dialog.set(Dialog::None))
    };
    let on_saved = {
        let dialog = dialog.clone();
        let replace = replace.clone();
        let reload_now = reload_now.clone();
        Callback::from(move |view: KeyView| {
            replace.emit(view);
            dialog.set(Dialog::None);
            reload_now.emit(());
        })
    };
    let toggle = {
        let api = api.clone();
        let replace = replace.clone();
        let action_error = action_error.clone();
        Callback::from(move |key: Rc<KeyView>| {
            let api = api.clone();
            let replace = replace.clone();
            let action_error = action_error.clone();
            let patch = KeyPatch {
                enabled: Some(!key.enabled),
                ..Default::default()
            };
            spawn_local(async move {
                match api
                    .patch::<_, KeyView>(&format!("/api/keys/{}", key.id), &patch_json(&patch))
                    .await
                {
                    Ok(view) => {
                        action_error.set(None);
                        replace.emit(view);
                    }
                    Err(e) => action_error.set(Some(e)),
                }
            });
        })
    };
    let run_test = {
        let api = api.clone();
        let tests = tests.clone();
        let redraw = redraw.clone();
        let lang = i18n.lang;
        Callback::from(move |id: i64| {
            let api = api.clone();
            let tests = tests.clone();
            let redraw = redraw.clone();
            tests.borrow_mut().insert(id, TestRun::Running);
            redraw.force_update();
            spawn_local(async move {
                let outcome = match api
                    .post::<_, KeyTestResult>(
                        &format!("/api/keys/{id}/test"),
                        &serde_json::json!({}),
                    )
                    .await
                {
                    Ok(result) => TestRun::Done(result),
                    Err(e) => TestRun::Failed(e.describe(lang)),
                };
                tests.borrow_mut().insert(id, outcome);
                redraw.force_update();
            });
        })
    };
    let confirm_delete = {
        let api = api.clone();
        let keys = keys.clone();
        let dialog = dialog.clone();
        let action_error = action_error.clone();
        Callback::from(move |id: i64| {
            let api = api.clone();
            let keys = keys.clone();
            let dialog = dialog.clone();
            let action_error = action_error.clone();
            spawn_local(async move {
                match api.delete(&format!("/api/keys/{id}")).await {
                    Ok(()) => {
                        let list = (*keys)
                            .clone()
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|k| k.id != id)
                            .collect();
                        keys.set(Some(list));
                        action_error.set(None);
                    }
                    Err(e) => action_error.set(Some(e)),
                }
                dialog.set(Dialog::None);
            });
        })
    };

    let t = |text| i18n.t(text);
    let open_add = {
        let dialog = dialog.clone();
        Callback::from(move |_| dialog.set(Dialog::Add))
    };
    let dialog_html = match (&*dialog, providers.data.clone()) {
        (Dialog::Add, Some(p)) => html! {
            <KeyFormDialog editing={None::<Rc<KeyView>>} providers={p} on_saved={on_saved.clone()} on_cancel={close_dialog.clone()} />
        },
        (Dialog::Edit(key), Some(p)) => html! {
            <KeyFormDialog editing={Some(key.clone())} providers={p} on_saved={on_saved.clone()} on_cancel={close_dialog.clone()} />
        },
        (Dialog::Delete(key), _) => {
            let id = key.id;
            let confirm = confirm_delete.clone();
            let cancel = close_dialog.clone();
            html! {
                <Modal title={t(Text::DeleteKeyQuestion)} on_close={close_dialog.clone()} id="delete-dialog">
                    <p><strong>{ key.name.clone() }</strong>{ " " }<code>{ key.masked_key.clone() }</code></p>
                    <p class="muted">{ t(Text::DeleteKeyNote) }</p>
                    <div class="form-actions">
                        <button class="button ghost" onclick={move |_| cancel.emit(())}>{ t(Text::Cancel) }</button>
                        <button class="button danger" id="confirm-delete" onclick={move |_| confirm.emit(id)}>{ t(Text::Delete) }</button>
                    </div>
                </Modal>
            }
        }
        _ => html! {},
    };

    let table = match (&*keys, &fetch.error) {
        (Some(list), _) if list.is_empty() => {
            html! { <div class="card empty" id="no-keys">{ t(Text::NoKeys) }</div> }
        }
        (Some(list), _) => html! {
            <div class="card table-card">
                <table class="table" id="keys-table">
                    <thead><tr>
                        <th></th>
                        <th>{ t(Text::Name) }</th>
                        <th>{ t(Text::Key) }</th>
                        <th>{ t(Text::State) }</th>
                        <th>{ t(Text::Quota) }</th>
                        <th class="num">{ t(Text::Cost) }</th>
                        <th class="num">{ t(Text::Requests) }</th>
                        <th class="num">{ t(Text::Latency) }</th>
                        <th>{ t(Text::Actions) }</th>
                    </tr></thead>
                    <tbody>
                        { for list.iter().map(|key| {
                            let key = Rc::new(key.clone());
                            let edit = { let dialog = dialog.clone(); let key = key.clone(); move |_| dialog.set(Dialog::Edit(key.clone())) };
                            let delete = { let dialog = dialog.clone(); let key = key.clone(); move |_| dialog.set(Dialog::Delete(key.clone())) };
                            let toggle = { let toggle = toggle.clone(); let key = key.clone(); move |_| toggle.emit(key.clone()) };
                            let test = { let run_test = run_test.clone(); let id = key.id; move |_| run_test.emit(id) };
                            let test_state = tests.borrow().get(&key.id).cloned();
                            html! {
                                <tr key={key.id} data-key-id={key.id.to_string()} data-key-name={key.name.clone()}
                                    class={classes!((!key.enabled).then_some("disabled"))}>
                                    <td><ProviderBadge provider={key.provider.clone()} /></td>
                                    <td>
                                        <div class="strong">{ key.name.clone() }</div>
                                        <div class="muted small">
                                            { key.provider.clone() }
                                            if let Some(p) = key.priority { { format!(" · {} {p}", t(Text::Priority)) } }
                                            if !key.models.is_empty() { { format!(" · {}", key.models.join(", ")) } }
                                        </div>
                                    </td>
                                    <td><code class="masked-key">{ key.masked_key.clone() }</code></td>
                                    <td><StateBadge state={key.state} until={key.state_until} now={Some(now)} /></td>
                                    <td class="quota-cell"><QuotaBar key_view={(*key).clone()} now={now} /></td>
                                    <td class="num">{ format::money(key.usage.cost_usd) }</td>
                                    <td class="num">
                                        <span class="key-calls">{ format::count(key.usage.calls) }</span>
                                        if key.usage.errors > 0 {
                                            <div class="muted small">{ format!("{} {}", format::count(key.usage.errors), t(Text::ErrorsWord)) }</div>
                                        }
                                    </td>
                                    <td class="num">{ format::latency_f(key.usage.latency_ewma_ms) }</td>
                                    <td class="actions">
                                        <button class="button small key-toggle" onclick={toggle}>
                                            { t(if key.enabled { Text::Disable } else { Text::Enable }) }
                                        </button>
                                        <button class="button small key-test" onclick={test}
                                            disabled={matches!(test_state, Some(TestRun::Running))}>
                                            { t(if matches!(test_state, Some(TestRun::Running)) { Text::Testing } else { Text::Test }) }
                                        </button>
                                        <button class="button small ghost key-edit" onclick={edit}>{ t(Text::Edit) }</button>
                                        <button class="button small ghost danger key-delete" onclick={delete}>{ t(Text::Delete) }</button>
                                        { test_result(&i18n, test_state) }
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

    html! {
        <div class="keys-page">
            <div class="section-head">
                <h1>{ t(Text::NavKeys) }</h1>
                <button class="button primary" id="add-key" onclick={open_add} disabled={providers.data.is_none()}>
                    { format!("+ {}", t(Text::AddKey)) }
                </button>
            </div>
            if let Some(error) = (*action_error).clone() {
                <ErrorBanner error={error} />
            }
            if let Some(error) = providers.error.clone() {
                <ErrorBanner error={error} />
            }
            { table }
            { dialog_html }
        </div>
    }
}

fn test_result(i18n: &crate::hooks::I18n, run: Option<TestRun>) -> Html {
    match run {
        None | Some(TestRun::Running) => html! {},
        Some(TestRun::Done(r)) => {
            let class = if r.ok { "good" } else { "bad" };
            let status = r.status.map(|s| format!("{s} · ")).unwrap_or_default();
            html! {
                <div class={classes!("test-result", class)} data-ok={r.ok.to_string()}>
                    <strong>{ i18n.t(if r.ok { Text::TestOk } else { Text::TestFailed }) }</strong>
                    { format!(" {status}{} · {}", format::duration_ms(r.latency_ms), r.model) }
                    <div class="small">{ r.message }</div>
                </div>
            }
        }
        Some(TestRun::Failed(message)) => html! {
            <div class="test-result bad" data-ok="false">
                <strong>{ i18n.t(Text::TestFailed) }</strong>{ " " }{ message }
            </div>
        },
    }
}
