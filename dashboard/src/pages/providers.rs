//! Providers and models: what `configs/providers/` describes (formats, models, context sizes,
//! prices, capabilities) and which keys serve each model.

use shared::keys::{KeyList, KeyView};
use shared::providers::{ModelCapabilities, ProviderFormat, ProviderList};
use yew::prelude::*;

use crate::components::error_banner::ErrorBanner;
use crate::components::form::on_input;
use crate::components::provider_badge::ProviderBadge;
use crate::components::state_badge::StateBadge;
use crate::format;
use crate::hooks::{use_fetch, use_i18n, use_live_reload, I18n, LiveReload};
use crate::i18n::Text;
use crate::state::keys::serves;

const REFRESH: LiveReload = LiveReload {
    on_calls: false,
    on_key_states: true,
    min_interval_ms: 2_000,
};

fn format_name(format: ProviderFormat) -> &'static str {
    match format {
        ProviderFormat::Openai => "OpenAI",
        ProviderFormat::Anthropic => "Anthropic",
        ProviderFormat::Azure => "Azure OpenAI",
    }
}

fn capability_chips(i18n: &I18n, c: &ModelCapabilities) -> Html {
    let chips = [
        (c.tools, Text::CapTools),
        (c.vision, Text::CapVision),
        (c.streaming, Text::CapStreaming),
        (c.json_mode, Text::CapJson),
    ];
    html! {
        <span class="chips">
            { for chips.iter().filter(|(on, _)| *on).map(|(_, text)| html! { <span class="chip">{ i18n.t(*text) }</span> }) }
        </span>
    }
}

fn price(value: f64) -> String {
    if value == 0.0 {
        "0".to_owned()
    } else {
        format!("{value}")
    }
}

#[component]
pub fn Providers() -> Html {
    let i18n = use_i18n();
    let reload = use_live_reload(REFRESH);
    let providers = use_fetch::<ProviderList>(Some("/api/providers".into()), reload);
    let keys = use_fetch::<KeyList>(Some("/api/keys".into()), reload);
    let query = use_state(String::new);
    let oninput = {
        let query = query.clone();
        on_input(move |v| query.set(v.trim().to_lowercase()))
    };
    let t = |text| i18n.t(text);
    let no_keys: Vec<KeyView> = Vec::new();
    let all_keys = keys.data.as_ref().map_or(&no_keys, |k| &k.data);

    let body = match (&providers.data, &providers.error) {
        (Some(list), _) => html! {
            { for list.data.iter().map(|p| {
                let models: Vec<_> = p.spec.models.iter()
                    .filter(|m| query.is_empty() || m.id.to_lowercase().contains(query.as_str()) || p.spec.id.contains(query.as_str()))
                    .collect();
                if models.is_empty() && !query.is_empty() {
                    return html! {};
                }
                html! {
                    <section class="card provider" data-provider={p.spec.id.clone()} key={p.spec.id.clone()}>
                        <div class="provider-head">
                            <ProviderBadge provider={p.spec.id.clone()} />
                            <h2>{ p.spec.display_name.clone() }</h2>
                            <code class="muted">{ p.spec.id.clone() }</code>
                            <span class="chip">{ format!("{}: {}", t(Text::Format), format_name(p.spec.format)) }</span>
                            <span class={classes!("badge", if p.supported { "good" } else { "muted" })}>
                                { t(if p.supported { Text::Supported } else { Text::NotSupported }) }
                            </span>
                            <span class="muted small">{ format!("{} {}", p.key_count, t(Text::KeysCount)) }</span>
                            <span class="grow"></span>
                            <code class="muted small">{ p.spec.base_url.clone() }</code>
                        </div>
                        <table class="table compact">
                            <thead><tr>
                                <th>{ t(Text::Model) }</th>
                                <th class="num">{ t(Text::ContextWindow) }</th>
                                <th class="num">{ t(Text::MaxOutput) }</th>
                                <th class="num">{ t(Text::InputPrice) }</th>
                                <th class="num">{ t(Text::OutputPrice) }</th>
                                <th>{ t(Text::Capabilities) }</th>
                                <th>{ t(Text::ServedBy) }</th>
                            </tr></thead>
                            <tbody>
                                { for models.iter().map(|m| {
                                    let serving: Vec<&KeyView> = all_keys.iter().filter(|k| serves(k, &p.spec.id, &m.id)).collect();
                                    html! {
                                        <tr data-model={m.id.clone()}>
                                            <td><code>{ m.id.clone() }</code></td>
                                            <td class="num">{ format::tokens(i64::from(m.context_window)) }</td>
                                            <td class="num">{ format::tokens(i64::from(m.max_output_tokens)) }</td>
                                            <td class="num">
                                                { price(m.pricing.input) }
                                                if let Some(c) = m.pricing.cached_input {
                                                    <div class="muted small">{ format!("{} {}", t(Text::PriceCachedInput), price(c)) }</div>
                                                }
                                            </td>
                                            <td class="num">{ price(m.pricing.output) }</td>
                                            <td>{ capability_chips(&i18n, &m.capabilities) }</td>
                                            <td>
                                                if keys.data.is_none() {
                                                    // Not "none" before the keys have arrived.
                                                    <span class="muted small">{ t(Text::Loading) }</span>
                                                } else if serving.is_empty() {
                                                    <span class="muted small">{ t(Text::Nothing) }</span>
                                                }
                                                { for serving.iter().map(|k| html! {
                                                    <div class="serving">{ k.name.clone() }{ " " }<StateBadge state={k.state} /></div>
                                                }) }
                                            </td>
                                        </tr>
                                    }
                                }) }
                            </tbody>
                        </table>
                    </section>
                }
            }) }
        },
        (None, Some(error)) => html! { <ErrorBanner error={error.clone()} /> },
        (None, None) => html! { <p class="muted">{ t(Text::Loading) }</p> },
    };

    html! {
        <div class="providers-page">
            <div class="section-head">
                <h1>{ t(Text::NavProviders) }</h1>
                <input class="search" id="model-search" type="search" placeholder={t(Text::FilterModels)} {oninput} />
            </div>
            { body }
        </div>
    }
}
