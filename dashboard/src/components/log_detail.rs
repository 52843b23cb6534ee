//! One call's details (`GET /api/logs/{id}`): what it cost and why, and every key it tried.

use shared::logs::CallLogView;
use yew::prelude::*;

use super::error_banner::ErrorBanner;
use super::modal::Modal;
use super::provider_badge::ProviderBadge;
use crate::format;
use crate::hooks::{use_fetch, use_i18n};
use crate::i18n::Text;
use crate::services::browser::tz_offset_minutes;

#[derive(Properties, PartialEq)]
pub struct LogDetailProps {
    pub id: i64,
    pub on_close: Callback<()>,
}

fn row(label: &str, value: Html) -> Html {
    html! {
        <>
            <dt>{ label.to_owned() }</dt>
            <dd>{ value }</dd>
        </>
    }
}

#[component]
pub fn LogDetail(props: &LogDetailProps) -> Html {
    let i18n = use_i18n();
    let fetch = use_fetch::<CallLogView>(Some(format!("/api/logs/{}", props.id)), 0);
    let tz = tz_offset_minutes();
    let body = match (&fetch.data, &fetch.error) {
        (Some(call), _) => {
            let t = |text| i18n.t(text);
            let status_class = if call.status < 400 { "good" } else { "bad" };
            html! {
                <>
                    <dl class="details">
                        { row(t(Text::Time), html! { format::timestamp(call.created_at, tz) }) }
                        { row(t(Text::RequestId), html! { <code>{ call.request_id.clone() }</code> }) }
                        { row(t(Text::Status), html! { <span class={classes!("badge", status_class)}>{ call.status }</span> }) }
                        { row(t(Text::Model), html! { call.model.clone() }) }
                        { row(t(Text::Provider), html! {
                            if let Some(p) = call.provider.clone() { <ProviderBadge provider={p.clone()} />{ " " }{ p } } else { { format::DASH } }
                        }) }
                        { row(t(Text::Key), html! { call.key_name.clone().unwrap_or_else(|| format::DASH.to_owned()) }) }
                        { row(t(Text::Endpoint), html! { <code>{ call.endpoint.clone() }</code> }) }
                        { row(t(Text::Stream), html! { t(if call.stream { Text::Yes } else { Text::No }) }) }
                        { row(t(Text::Latency), html! { format::duration_ms(call.latency_ms) }) }
                        { row(t(Text::TimeToFirstByte), html! { format::latency(call.ttfb_ms) }) }
                        { row(t(Text::PromptTokens), html! { format::count(call.prompt_tokens) }) }
                        { row(t(Text::CompletionTokens), html! { format::count(call.completion_tokens) }) }
                        { row(t(Text::CachedTokens), html! { format::count(call.cached_tokens) }) }
                        { row(t(Text::TotalTokens), html! { format::count(call.total_tokens) }) }
                        { row(t(Text::Cost), html! { format::money(call.cost_usd) }) }
                        { row(t(Text::Attempts), html! { call.attempts }) }
                        if let Some(prices) = &call.prices {
                            { row(t(Text::Prices), html! {
                                <span>
                                    { format!("{} {} · {} {}", t(Text::PriceInput), prices.input, t(Text::PriceOutput), prices.output) }
                                    if let Some(c) = prices.cached_input { { format!(" · {} {c}", t(Text::PriceCachedInput)) } }
                                    if let Some(c) = prices.cache_write { { format!(" · {} {c}", t(Text::PriceCacheWrite)) } }
                                    if prices.per_call > 0.0 { { format!(" · {} {}", t(Text::PerCall), format::money(prices.per_call)) } }
                                </span>
                            }) }
                        }
                        if let Some(error) = call.error.clone() {
                            { row(t(Text::ErrorMessage), html! { <span class="error-text">{ error }</span> }) }
                        }
                    </dl>
                    if !call.attempt_trail.is_empty() {
                        <h3>{ t(Text::AttemptTrail) }</h3>
                        <table class="table compact" id="attempt-trail">
                            <thead><tr>
                                <th>{ "#" }</th><th>{ t(Text::Key) }</th><th>{ t(Text::Provider) }</th>
                                <th>{ t(Text::Status) }</th><th>{ t(Text::Latency) }</th><th>{ t(Text::ErrorMessage) }</th>
                            </tr></thead>
                            <tbody>
                                { for call.attempt_trail.iter().enumerate().map(|(i, a)| html! {
                                    <tr>
                                        <td>{ i + 1 }</td>
                                        <td>{ a.key_name.clone() }</td>
                                        <td><ProviderBadge provider={a.provider.clone()} />{ " " }{ a.provider.clone() }</td>
                                        <td>{ a.status.map_or_else(|| format::DASH.to_owned(), |s| s.to_string()) }</td>
                                        <td>{ format::duration_ms(a.latency_ms) }</td>
                                        <td class="error-text">{ a.error.clone().unwrap_or_default() }</td>
                                    </tr>
                                }) }
                            </tbody>
                        </table>
                    }
                </>
            }
        }
        (None, Some(error)) => html! { <ErrorBanner error={error.clone()} /> },
        (None, None) => html! { <p class="muted">{ i18n.t(Text::Loading) }</p> },
    };
    html! {
        <Modal title={i18n.t(Text::CallDetails)} on_close={props.on_close.clone()} wide=true id="log-detail">
            { body }
        </Modal>
    }
}
