//! Routing: for a chosen model, every key's bid now (filters, score components, total) and the
//! winner, as `GET /api/route?model=` explains it. Refreshed every few seconds and on live events.

use std::collections::BTreeSet;

use shared::keys::KeyList;
use shared::providers::ProviderList;
use shared::routes::{RouteCandidate, RouteExplanation};
use yew::prelude::*;

use crate::components::commit_input::CommitInput;
use crate::components::error_banner::ErrorBanner;
use crate::components::provider_badge::ProviderBadge;
use crate::components::score_bar::ScoreBar;
use crate::components::state_badge::StateBadge;
use crate::format;
use crate::hooks::{use_fetch, use_i18n, use_live_reload, use_now, LiveReload};
use crate::i18n::Text;
use crate::query::encode;

const REFRESH: LiveReload = LiveReload {
    on_calls: true,
    on_key_states: true,
    min_interval_ms: 1_000,
};
const POLL_MS: u32 = 3_000;

/// Winner first, then the scored keys by total, then the filtered ones.
fn ordered(route: &RouteExplanation) -> Vec<&RouteCandidate> {
    let mut list: Vec<&RouteCandidate> = route.candidates.iter().collect();
    list.sort_by(|a, b| {
        let rank = |c: &RouteCandidate| (Some(c.key_id) != route.winner, c.score.is_none());
        rank(a).cmp(&rank(b)).then_with(|| {
            let total = |c: &RouteCandidate| c.score.map_or(f64::MIN, |s| s.total);
            total(b).total_cmp(&total(a))
        })
    });
    list
}

#[component]
pub fn Routing() -> Html {
    let i18n = use_i18n();
    let providers = use_fetch::<ProviderList>(Some("/api/providers".into()), 0);
    let keys = use_fetch::<KeyList>(Some("/api/keys".into()), 0);
    let model = use_state(String::new);
    let live_reload = use_live_reload(REFRESH);
    let tick = use_now(POLL_MS);
    let path = (!model.is_empty()).then(|| format!("/api/route?model={}", encode(&model)));
    let route = use_fetch::<RouteExplanation>(path, live_reload.wrapping_add(tick as u64));

    // Every model a key could be asked for: the catalogue's and the keys' own lists.
    let mut models = BTreeSet::new();
    for p in providers.data.iter().flat_map(|l| l.data.iter()) {
        models.extend(p.spec.models.iter().map(|m| m.id.clone()));
    }
    for k in keys.data.iter().flat_map(|l| l.data.iter()) {
        models.extend(k.models.iter().filter(|m| *m != "*").cloned());
    }
    // Start with a model some key serves.
    {
        let model = model.clone();
        let first = keys
            .data
            .as_ref()
            .and_then(|l| {
                l.data
                    .iter()
                    .find_map(|k| k.models.iter().find(|m| *m != "*").cloned())
            })
            .or_else(|| {
                let served: BTreeSet<&str> = keys
                    .data
                    .iter()
                    .flat_map(|l| l.data.iter())
                    .map(|k| k.provider.as_str())
                    .collect();
                providers.data.as_ref().and_then(|l| {
                    l.data
                        .iter()
                        .find(|p| served.contains(p.spec.id.as_str()))
                        .and_then(|p| p.spec.models.first())
                        .map(|m| m.id.clone())
                })
            });
        use_effect_with(first, move |first| {
            if model.is_empty() {
                if let Some(first) = first {
                    model.set(first.clone());
                }
            }
        });
    }

    let t = |text| i18n.t(text);
    let on_model = {
        let model = model.clone();
        Callback::from(move |v: String| model.set(v.trim().to_owned()))
    };
    let body = match (&route.data, &route.error) {
        (Some(r), _) => {
            let winner = r
                .winner
                .and_then(|id| r.candidates.iter().find(|c| c.key_id == id));
            html! {
                <>
                    <div class="route-summary card">
                        <div><span class="muted">{ t(Text::Strategy) }</span>{ " " }<strong>{ t(Text::of_strategy(r.strategy)) }</strong></div>
                        <div><span class="muted">{ t(Text::Tier) }</span>{ " " }<strong>{ r.tier.map_or_else(|| format::DASH.to_owned(), |t| t.to_string()) }</strong></div>
                        <div id="route-winner">
                            <span class="muted">{ t(Text::Winner) }</span>{ " " }
                            if let Some(w) = winner {
                                <ProviderBadge provider={w.provider.clone()} />{ " " }<strong>{ w.name.clone() }</strong>
                            } else {
                                <strong class="bad-text">{ t(Text::NoWinner) }</strong>
                            }
                        </div>
                    </div>
                    <div class="card table-card">
                        <table class="table" id="route-table">
                            <thead><tr>
                                <th>{ t(Text::Key) }</th>
                                <th>{ t(Text::Model) }</th>
                                <th>{ t(Text::Priority) }</th>
                                <th>{ t(Text::State) }</th>
                                <th>{ t(Text::ScoreQuota) }</th>
                                <th>{ t(Text::ScoreCost) }</th>
                                <th>{ t(Text::ScoreLatency) }</th>
                                <th>{ t(Text::ScoreHeadroom) }</th>
                                <th>{ t(Text::ScoreTotal) }</th>
                                <th class="num">{ t(Text::EstimatedCost) }</th>
                                <th class="num">{ t(Text::Latency) }</th>
                            </tr></thead>
                            <tbody>
                                { for ordered(r).into_iter().map(|c| {
                                    let is_winner = Some(c.key_id) == r.winner;
                                    html! {
                                        <tr class={classes!(is_winner.then_some("winner"), c.filtered.is_some().then_some("filtered"))}
                                            data-key-id={c.key_id.to_string()}>
                                            <td><ProviderBadge provider={c.provider.clone()} />{ " " }{ c.name.clone() }
                                                if is_winner { { " " }<span class="badge good tiny">{ t(Text::Winner) }</span> }</td>
                                            <td><code>{ c.model.clone().unwrap_or_else(|| format::DASH.to_owned()) }</code></td>
                                            <td>{ c.priority.map_or_else(|| format::DASH.to_owned(), |p| p.to_string()) }</td>
                                            <td><StateBadge state={c.state} /></td>
                                            if let Some(reason) = c.filtered.clone() {
                                                <td colspan="7" class="muted"><span class="badge muted">{ t(Text::Filtered) }</span>{ " " }{ reason }</td>
                                            } else if let Some(s) = c.score {
                                                <td><ScoreBar value={s.quota} /></td>
                                                <td><ScoreBar value={s.cost} /></td>
                                                <td><ScoreBar value={s.latency} /></td>
                                                <td><ScoreBar value={s.headroom} /></td>
                                                <td><ScoreBar value={s.total} strong=true /></td>
                                                <td class="num">{ format::money(s.estimated_cost_usd) }</td>
                                                <td class="num">{ format::latency_f(s.latency_ms) }</td>
                                            } else {
                                                <td colspan="7" class="muted">{ format::DASH }</td>
                                            }
                                        </tr>
                                    }
                                }) }
                            </tbody>
                        </table>
                    </div>
                </>
            }
        }
        (None, Some(error)) => html! { <ErrorBanner error={error.clone()} /> },
        (None, None) if model.is_empty() => html! { <p class="muted">{ t(Text::ChooseModel) }</p> },
        (None, None) => html! { <p class="muted">{ t(Text::Loading) }</p> },
    };

    html! {
        <div class="routing-page">
            <div class="section-head">
                <h1>{ t(Text::NavRouting) }</h1>
                <label class="field inline">
                    <span class="field-label">{ t(Text::Model) }</span>
                    <CommitInput id="route-model" list="route-models" value={(*model).clone()}
                        on_commit={on_model} placeholder={t(Text::ChooseModel)} />
                    <datalist id="route-models">
                        { for models.iter().map(|m| html! { <option value={m.clone()} /> }) }
                    </datalist>
                </label>
            </div>
            <p class="muted small">{ t(Text::RoutingIntro) }{ " " }{ t(Text::UpdatesLive) }</p>
            { body }
        </div>
    }
}
