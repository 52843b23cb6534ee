//! Overview: the live numbers (pushed every second), charts over an hour, a day or 30 days (from
//! the server's rollups), and the keys and models that cost the most.

use std::rc::Rc;

use shared::stats::{StatsResponse, StatsRow, TimeSeries};
use yew::prelude::*;

use crate::components::error_banner::ErrorBanner;
use crate::components::stat_card::StatCard;
use crate::components::time_chart::{ChartKind, Series, TimeChart};
use crate::format::{self, DASH};
use crate::hooks::{use_fetch, use_i18n, use_live, use_live_reload, use_now, I18n, LiveReload};
use crate::i18n::Text;
use crate::plot::{fill_buckets, ChartRange};
use crate::services::browser::tz_offset_minutes;

const REFRESH: LiveReload = LiveReload {
    on_calls: true,
    on_key_states: false,
    min_interval_ms: 5_000,
};

fn range_text(range: ChartRange) -> Text {
    match range {
        ChartRange::Hour => Text::RangeHour,
        ChartRange::Day => Text::RangeDay,
        ChartRange::Month => Text::RangeMonth,
    }
}

#[component]
pub fn Overview() -> Html {
    let i18n = use_i18n();
    let live = use_live();
    let range = use_state(|| ChartRange::Hour);
    let reload = use_live_reload(REFRESH);
    let manual = use_state(|| 0u64);
    let stats = use_fetch::<StatsResponse>(Some("/api/stats".into()), reload + *manual);
    let series = use_fetch::<TimeSeries>(
        Some(format!("/api/stats/timeseries?range={}", range.query())),
        reload + *manual,
    );
    // The charts' right edge follows the clock even without calls.
    let now = use_now(30_000);
    let retry = {
        let manual = manual.clone();
        Callback::from(move |()| manual.set(*manual + 1))
    };

    let t = |text| i18n.t(text);
    let snapshot = live.0.snapshot.clone();
    let totals = stats
        .data
        .as_ref()
        .map(|s| (s.today.clone(), s.totals.clone()));
    let waiting = Some(AttrValue::from(t(Text::WaitingForLive)));
    // One of several instances sharing a database: the live figures are this instance's, the
    // totals come from the statistics, which cover them all.
    let instance_only = snapshot.as_ref().is_some_and(|s| s.instance_only);
    let (calls_today, tokens_today, cost_today, calls_total, tokens_total, cost_total) =
        match (&snapshot, &totals) {
            (Some(s), _) if !instance_only || totals.is_none() => (
                format::count(s.calls_today),
                format::tokens(s.tokens_today),
                format::money(s.cost_today_usd),
                format::count(s.calls_total),
                format::tokens(s.tokens_total),
                format::money(s.cost_total_usd),
            ),
            (_, Some((today, total))) => (
                format::count(today.calls),
                format::tokens(today.total_tokens),
                format::money(today.cost_usd),
                format::count(total.calls),
                format::tokens(total.total_tokens),
                format::money(total.cost_usd),
            ),
            (_, None) => Default::default(),
        };
    let live_value = |f: &dyn Fn(&shared::live::LiveSnapshot) -> String| {
        snapshot.as_ref().map_or_else(|| DASH.to_owned(), f)
    };
    let scope = |text| {
        if instance_only {
            format!("{} · {}", t(text), t(Text::ThisInstanceOnly))
        } else {
            t(text).to_string()
        }
    };
    let minute_hint = snapshot
        .as_ref()
        .map(|_| AttrValue::from(scope(Text::LastMinute)))
        .or(waiting.clone());

    let tabs = ChartRange::ALL
        .iter()
        .map(|r| {
            let range_state = range.clone();
            let r = *r;
            let active = *range == r;
            html! {
                <button class={classes!("tab", active.then_some("active"))} data-range={r.query()}
                    onclick={move |_| range_state.set(r)}>
                    { t(range_text(r)) }
                </button>
            }
        })
        .collect::<Html>();

    html! {
        <div class="overview">
            <section class="stats-grid" id="live-stats">
                <StatCard stat="requests_per_second" label={t(Text::RequestsPerSecond)}
                    value={live_value(&|s| format::rate(s.requests_per_second))}
                    hint={snapshot.as_ref().map(|_| AttrValue::from(scope(Text::LastTenSeconds))).or(waiting.clone())} />
                <StatCard stat="success_rate" label={t(Text::SuccessRate)}
                    value={live_value(&|s| format::percent(s.success_rate))} hint={minute_hint.clone()} />
                <StatCard stat="latency_p50" label={t(Text::LatencyP50)}
                    value={live_value(&|s| format::latency(s.latency_p50_ms))} hint={minute_hint.clone()} />
                <StatCard stat="latency_p95" label={t(Text::LatencyP95)}
                    value={live_value(&|s| format::latency(s.latency_p95_ms))} hint={minute_hint} />
                <StatCard stat="in_flight" label={t(Text::InFlight)}
                    value={live_value(&|s| format::count(s.in_flight))}
                    hint={instance_only.then(|| AttrValue::from(t(Text::ThisInstanceOnly)))} />
                <StatCard stat="calls_today" label={t(Text::CallsToday)} value={or_dash(calls_today)} />
                <StatCard stat="tokens_today" label={t(Text::TokensToday)} value={or_dash(tokens_today)} />
                <StatCard stat="cost_today" label={t(Text::CostToday)} value={or_dash(cost_today)} />
                <StatCard stat="calls_total" label={t(Text::CallsTotal)} value={or_dash(calls_total)} />
                <StatCard stat="tokens_total" label={t(Text::TokensTotal)} value={or_dash(tokens_total)} />
                <StatCard stat="cost_total" label={t(Text::CostTotal)} value={or_dash(cost_total)} />
            </section>

            <section class="section">
                <div class="section-head">
                    <div class="tabs" role="tablist">{ tabs }</div>
                </div>
                if let Some(error) = series.error.clone() {
                    <ErrorBanner error={error} on_retry={retry.clone()} />
                }
                { charts(&i18n, *range, series.data.as_deref(), now) }
            </section>

            <section class="grid two">
                if let Some(error) = stats.error.clone() {
                    <ErrorBanner error={error} on_retry={retry} />
                }
                { top_table(&i18n, t(Text::TopKeys), "top-keys", stats.data.as_ref().map(|s| s.by_key.as_slice())) }
                { top_table(&i18n, t(Text::TopModels), "top-models", stats.data.as_ref().map(|s| s.by_model.as_slice())) }
            </section>
        </div>
    }
}

fn or_dash(value: String) -> AttrValue {
    if value.is_empty() {
        AttrValue::from(DASH)
    } else {
        AttrValue::from(value)
    }
}

fn charts(i18n: &I18n, range: ChartRange, data: Option<&TimeSeries>, now: i64) -> Html {
    let t = |text| i18n.t(text);
    let (points, bucket) = match data {
        Some(s) => (s.points.as_slice(), s.bucket_ms),
        None => (&[][..], range.default_bucket_ms()),
    };
    let filled = fill_buckets(points, range, bucket, now);
    let tz = tz_offset_minutes();
    let label = |ms: i64| -> AttrValue {
        match range {
            ChartRange::Hour | ChartRange::Day => format::clock(ms, tz).into(),
            ChartRange::Month => format::month_day(ms, tz).into(),
        }
    };
    let x_labels = match (filled.first(), filled.get(filled.len() / 2), filled.last()) {
        (Some(a), Some(b), Some(c)) => [label(a.t), label(b.t), label(c.t)],
        _ => [
            AttrValue::default(),
            AttrValue::default(),
            AttrValue::default(),
        ],
    };
    let calls = Rc::new(vec![Series {
        class: "calls",
        label: t(Text::Calls).into(),
        values: filled.iter().map(|p| Some(p.calls as f64)).collect(),
    }]);
    let cost = Rc::new(vec![Series {
        class: "cost",
        label: t(Text::Cost).into(),
        values: filled.iter().map(|p| Some(p.cost_usd)).collect(),
    }]);
    let latency = Rc::new(vec![
        Series {
            class: "p50",
            label: "p50".into(),
            values: filled
                .iter()
                .map(|p| p.latency_p50_ms.map(|v| v as f64))
                .collect(),
        },
        Series {
            class: "p95",
            label: "p95".into(),
            values: filled
                .iter()
                .map(|p| p.latency_p95_ms.map(|v| v as f64))
                .collect(),
        },
    ]);
    let peak = AttrValue::from(t(Text::Peak));
    html! {
        <div class="charts">
            <TimeChart chart="calls" title={t(Text::ChartCalls)} kind={ChartKind::Bars} series={calls}
                format={Callback::from(format::compact)}
                x_labels={x_labels.clone()} peak_label={peak.clone()} />
            <TimeChart chart="cost" title={t(Text::ChartCost)} kind={ChartKind::Bars} series={cost}
                format={Callback::from(format::money)} x_labels={x_labels.clone()} peak_label={peak.clone()} />
            <TimeChart chart="latency" title={t(Text::ChartLatency)} kind={ChartKind::Lines} series={latency}
                format={Callback::from(|v: f64| format::duration_ms(v.round() as i64))}
                x_labels={x_labels} peak_label={peak} />
        </div>
    }
}

fn top_table(i18n: &I18n, title: &str, id: &str, rows: Option<&[StatsRow]>) -> Html {
    let t = |text| i18n.t(text);
    let mut rows: Vec<&StatsRow> = rows.unwrap_or_default().iter().collect();
    rows.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(b.calls.cmp(&a.calls))
    });
    rows.truncate(5);
    let top = rows.first().map_or(0.0, |r| r.cost_usd);
    html! {
        <div class="card" id={id.to_owned()}>
            <h3>{ title.to_owned() }</h3>
            if rows.is_empty() {
                <p class="muted">{ t(Text::NoData) }</p>
            } else {
                <table class="table compact">
                    <thead><tr>
                        <th>{ t(Text::Name) }</th><th class="num">{ t(Text::Calls) }</th>
                        <th class="num">{ t(Text::Tokens) }</th><th class="num">{ t(Text::Cost) }</th><th></th>
                    </tr></thead>
                    <tbody>
                        { for rows.iter().map(|r| {
                            let share = if top > 0.0 { r.cost_usd / top } else { 0.0 };
                            html! {
                                <tr>
                                    <td>{ r.group.clone() }</td>
                                    <td class="num">{ format::count(r.calls) }</td>
                                    <td class="num">{ format::tokens(r.total_tokens) }</td>
                                    <td class="num">{ format::money(r.cost_usd) }</td>
                                    <td class="share"><span class="share-fill" style={format!("width: {:.0}%", share * 100.0)}></span></td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            }
        </div>
    }
}
