//! Logs: calls newest first, keyset-paginated ("load more" continues from `next_before`), filtered
//! by key, provider, model, status and time. Calls pushed by the live feed are prepended as they
//! finish; a row opens the call's details.

use std::rc::Rc;

use shared::keys::KeyList;
use shared::live::LiveCall;
use shared::logs::LogsPage;
use shared::providers::ProviderList;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::components::commit_input::CommitInput;
use crate::components::error_banner::ErrorBanner;
use crate::components::form::on_value;
use crate::components::log_detail::LogDetail;
use crate::components::provider_badge::ProviderBadge;
use crate::format;
use crate::hooks::{use_api, use_fetch, use_i18n, use_live, use_live_reload, LiveReload};
use crate::i18n::Text;
use crate::services::api::ApiError;
use crate::services::browser::tz_offset_minutes;
use crate::state::logs::{LogFilter, LogList, StatusFilter, ENDPOINTS, PAGE_SIZE};

/// Only resyncs and reconnections reload; calls arrive through the feed itself.
const RESYNC_ONLY: LiveReload = LiveReload {
    on_calls: false,
    on_key_states: false,
    min_interval_ms: 0,
};

const STATUS_CODES: [i32; 10] = [400, 401, 403, 404, 408, 429, 499, 500, 502, 503];

#[derive(Debug, Clone, PartialEq, Default)]
struct LogsStore(LogList);

enum LogsAction {
    FirstPage(LogsPage, LogFilter),
    OlderPage(LogsPage),
    Live(Vec<LiveCall>, LogFilter),
}

impl Reducible for LogsStore {
    type Action = LogsAction;

    fn reduce(self: Rc<Self>, action: LogsAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            LogsAction::FirstPage(page, filter) => next.0.first_page(&page, &filter),
            LogsAction::OlderPage(page) => next.0.older_page(&page),
            LogsAction::Live(calls, filter) => {
                let mut changed = false;
                for call in &calls {
                    changed |= next.0.live_call(call, &filter);
                }
                if !changed {
                    return self;
                }
            }
        }
        Rc::new(next)
    }
}

#[component]
pub fn Logs() -> Html {
    let i18n = use_i18n();
    let api = use_api();
    let live = use_live();
    let resync = use_live_reload(RESYNC_ONLY);
    let local_reload = use_state(|| 0u64);
    let filter = use_state(LogFilter::default);
    let list = use_reducer(LogsStore::default);
    let loading = use_state(|| false);
    let error = use_state(|| None::<ApiError>);
    let generation = use_mut_ref(|| 0u64);
    let open = use_state(|| None::<i64>);
    let waiting_for = use_state(|| None::<String>);
    let keys = use_fetch::<KeyList>(Some("/api/keys".into()), 0);
    let providers = use_fetch::<ProviderList>(Some("/api/providers".into()), 0);
    let tz = tz_offset_minutes();

    // First page on open, on a filter change, on resync, on request.
    {
        let api = api.clone();
        let list = list.clone();
        let loading = loading.clone();
        let error = error.clone();
        let generation = generation.clone();
        use_effect_with(
            ((*filter).clone(), resync, *local_reload),
            move |(filter, _, _)| {
                *generation.borrow_mut() += 1;
                let mine = *generation.borrow();
                let path = filter.path(PAGE_SIZE, None);
                let filter = filter.clone();
                loading.set(true);
                spawn_local(async move {
                    let result = api.get::<LogsPage>(&path).await;
                    if *generation.borrow() != mine {
                        return;
                    }
                    match result {
                        Ok(page) => {
                            error.set(None);
                            list.dispatch(LogsAction::FirstPage(page, filter));
                        }
                        Err(e) => error.set(Some(e)),
                    }
                    loading.set(false);
                });
            },
        );
    }
    // Live calls: take the ones not seen yet; if some were missed, reload instead.
    {
        let list = list.clone();
        let live = live.clone();
        let filter = (*filter).clone();
        let local_reload = local_reload.clone();
        let seen = use_mut_ref(|| live.0.calls_seq);
        use_effect_with(live.0.calls_seq, move |seq| {
            let last = *seen.borrow();
            *seen.borrow_mut() = *seq;
            match live.0.calls_after(last) {
                Some(calls) => {
                    let calls: Vec<LiveCall> = calls.cloned().collect();
                    if !calls.is_empty() {
                        list.dispatch(LogsAction::Live(calls, filter));
                    }
                }
                None => local_reload.set(*local_reload + 1),
            }
        });
    }
    // A live row clicked before it was stored opens once a reload brings its id.
    {
        let open = open.clone();
        let waiting_for = waiting_for.clone();
        use_effect_with(
            (list.clone(), (*waiting_for).clone()),
            move |(list, wanted)| {
                if let Some(request_id) = wanted {
                    if let Some(id) = list
                        .0
                        .rows
                        .iter()
                        .find(|r| &r.request_id == request_id)
                        .and_then(|r| r.id)
                    {
                        open.set(Some(id));
                        waiting_for.set(None);
                    }
                }
            },
        );
    }

    let load_more = {
        let api = api.clone();
        let list = list.clone();
        let loading = loading.clone();
        let error = error.clone();
        let filter = (*filter).clone();
        let generation = generation.clone();
        Callback::from(move |_| {
            let Some(before) = list.0.next_before else {
                return;
            };
            let path = filter.path(PAGE_SIZE, Some(before));
            let (api, list, loading, error, generation) = (
                api.clone(),
                list.clone(),
                loading.clone(),
                error.clone(),
                generation.clone(),
            );
            let mine = *generation.borrow();
            loading.set(true);
            spawn_local(async move {
                let result = api.get::<LogsPage>(&path).await;
                if *generation.borrow() != mine {
                    return;
                }
                match result {
                    Ok(page) => list.dispatch(LogsAction::OlderPage(page)),
                    Err(e) => error.set(Some(e)),
                }
                loading.set(false);
            });
        })
    };

    let update = |apply: fn(&mut LogFilter, String)| {
        let filter = filter.clone();
        on_value(move |value| {
            let mut next = (*filter).clone();
            apply(&mut next, value);
            filter.set(next);
        })
    };
    let commit_model = {
        let filter = filter.clone();
        Callback::from(move |value: String| {
            let mut next = (*filter).clone();
            next.model = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
            filter.set(next);
        })
    };
    let reset_filters = {
        let filter = filter.clone();
        Callback::from(move |_| filter.set(LogFilter::default()))
    };
    let retry = {
        let local_reload = local_reload.clone();
        Callback::from(move |()| local_reload.set(*local_reload + 1))
    };
    let close_detail = {
        let open = open.clone();
        Callback::from(move |()| open.set(None))
    };

    let t = |text| i18n.t(text);
    let f = &*filter;
    let status_value = f.status.query().unwrap_or_default();
    let filters = html! {
        <div class="card filters" id="log-filters">
            <label class="field">
                <span class="field-label">{ t(Text::Key) }</span>
                <select id="filter-key" onchange={update(|f, v| f.key_id = v.parse().ok())}>
                    <option value="" selected={f.key_id.is_none()}>{ t(Text::AnyKey) }</option>
                    { for keys.data.iter().flat_map(|k| k.data.iter()).map(|k| html! {
                        <option value={k.id.to_string()} selected={f.key_id == Some(k.id)}>{ k.name.clone() }</option>
                    }) }
                </select>
            </label>
            <label class="field">
                <span class="field-label">{ t(Text::Provider) }</span>
                <select id="filter-provider" onchange={update(|f, v| f.provider = Some(v).filter(|v| !v.is_empty()))}>
                    <option value="" selected={f.provider.is_none()}>{ t(Text::AnyProvider) }</option>
                    { for providers.data.iter().flat_map(|p| p.data.iter()).map(|p| html! {
                        <option value={p.spec.id.clone()} selected={f.provider.as_deref() == Some(p.spec.id.as_str())}>{ p.spec.display_name.clone() }</option>
                    }) }
                </select>
            </label>
            <label class="field">
                <span class="field-label">{ t(Text::Endpoint) }</span>
                <select id="filter-endpoint" onchange={update(|f, v| f.endpoint = Some(v).filter(|v| !v.is_empty()))}>
                    <option value="" selected={f.endpoint.is_none()}>{ t(Text::AnyEndpoint) }</option>
                    { for ENDPOINTS.iter().map(|e| html! {
                        <option value={*e} selected={f.endpoint.as_deref() == Some(*e)}>{ *e }</option>
                    }) }
                </select>
            </label>
            <label class="field">
                <span class="field-label">{ t(Text::ModelFilter) }</span>
                <CommitInput id="filter-model" input_type="search" value={f.model.clone().unwrap_or_default()}
                    on_commit={commit_model} />
            </label>
            <label class="field">
                <span class="field-label">{ t(Text::Status) }</span>
                <select id="filter-status" onchange={update(|f, v| f.status = StatusFilter::parse(&v).unwrap_or_default())}>
                    <option value="" selected={status_value.is_empty()}>{ t(Text::AnyStatus) }</option>
                    <option value="success" selected={status_value == "success"}>{ t(Text::StatusSuccess) }</option>
                    <option value="error" selected={status_value == "error"}>{ t(Text::StatusError) }</option>
                    { for STATUS_CODES.iter().map(|c| html! {
                        <option value={c.to_string()} selected={status_value == c.to_string()}>{ c }</option>
                    }) }
                </select>
            </label>
            <label class="field">
                <span class="field-label">{ t(Text::Since) }</span>
                <input id="filter-since" type="datetime-local"
                    value={f.since.map(|ms| format::datetime_local(ms, tz)).unwrap_or_default()}
                    onchange={{
                        let filter = filter.clone();
                        on_value(move |v| {
                            let mut next = (*filter).clone();
                            next.since = format::parse_datetime_local(&v, tz);
                            filter.set(next);
                        })
                    }} />
            </label>
            <label class="field">
                <span class="field-label">{ t(Text::UntilTime) }</span>
                <input id="filter-until" type="datetime-local"
                    value={f.until.map(|ms| format::datetime_local(ms, tz)).unwrap_or_default()}
                    onchange={{
                        let filter = filter.clone();
                        on_value(move |v| {
                            let mut next = (*filter).clone();
                            next.until = format::parse_datetime_local(&v, tz);
                            filter.set(next);
                        })
                    }} />
            </label>
            <button class="button ghost small" id="reset-filters" onclick={reset_filters}
                disabled={*f == LogFilter::default()}>{ t(Text::ResetFilters) }</button>
        </div>
    };

    let rows = &list.0.rows;
    let body = if rows.is_empty() {
        html! {
            <div class="card empty" id="no-logs">
                { t(if *loading { Text::Loading } else { Text::NoLogs }) }
            </div>
        }
    } else {
        html! {
            <div class="card table-card">
                <table class="table clickable" id="logs-table">
                    <thead><tr>
                        <th>{ t(Text::Time) }</th>
                        <th>{ t(Text::Key) }</th>
                        <th>{ t(Text::Model) }</th>
                        <th>{ t(Text::Endpoint) }</th>
                        <th>{ t(Text::Status) }</th>
                        <th class="num">{ t(Text::Latency) }</th>
                        <th class="num">{ t(Text::Tokens) }</th>
                        <th class="num">{ t(Text::Cost) }</th>
                        <th class="num">{ t(Text::Attempts) }</th>
                    </tr></thead>
                    <tbody>
                        { for rows.iter().map(|row| {
                            let onclick = {
                                let open = open.clone();
                                let waiting_for = waiting_for.clone();
                                let local_reload = local_reload.clone();
                                let id = row.id;
                                let request_id = row.request_id.clone();
                                move |_| match id {
                                    Some(id) => open.set(Some(id)),
                                    None => {
                                        waiting_for.set(Some(request_id.clone()));
                                        local_reload.set(*local_reload + 1);
                                    }
                                }
                            };
                            let status_class = if row.status < 400 { "good" } else { "bad" };
                            html! {
                                <tr key={row.request_id.clone()} data-request-id={row.request_id.clone()}
                                    data-log-id={row.id.map(|i| i.to_string())} class={classes!(row.id.is_none().then_some("live-row"))}
                                    {onclick} title={row.error.clone()}>
                                    <td class="nowrap">
                                        { format::timestamp(row.created_at, tz) }
                                        if row.id.is_none() { <span class="badge info tiny">{ t(Text::LiveBadge) }</span> }
                                    </td>
                                    <td>
                                        if let Some(p) = row.provider.clone() { <ProviderBadge provider={p} />{ " " } }
                                        { row.key_name.clone().unwrap_or_else(|| format::DASH.to_owned()) }
                                    </td>
                                    <td>{ row.model.clone() }{ if row.stream { " ⇣" } else { "" } }</td>
                                    <td><code>{ row.endpoint.clone() }</code></td>
                                    <td><span class={classes!("badge", status_class)}>{ row.status }</span></td>
                                    <td class="num">{ format::duration_ms(row.latency_ms) }</td>
                                    <td class="num">{ format!("{} → {}", format::tokens(row.prompt_tokens), format::tokens(row.completion_tokens)) }</td>
                                    <td class="num">{ format::money(row.cost_usd) }</td>
                                    <td class="num">{ row.attempts }</td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        }
    };

    html! {
        <div class="logs-page">
            <div class="section-head"><h1>{ t(Text::NavLogs) }</h1></div>
            { filters }
            if let Some(error) = (*error).clone() {
                <ErrorBanner error={error} on_retry={retry} />
            }
            if waiting_for.is_some() {
                <div class="banner info">{ t(Text::OpeningDetails) }</div>
            }
            { body }
            <div class="load-more">
                if list.0.next_before.is_some() {
                    <button class="button" id="load-more" onclick={load_more} disabled={*loading}>
                        { t(if *loading { Text::Loading } else { Text::LoadMore }) }
                    </button>
                } else if !rows.is_empty() {
                    <span class="muted small">{ t(Text::AllLoaded) }</span>
                }
            </div>
            if let Some(id) = *open {
                <LogDetail id={id} on_close={close_detail} />
            }
        </div>
    }
}
