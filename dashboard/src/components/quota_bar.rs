//! A key's quota: how much is left, when it runs out at the recent rate, when it refills.

use shared::keys::KeyView;
use yew::prelude::*;

use crate::format;
use crate::hooks::use_i18n;
use crate::i18n::Text;
use crate::state::keys::{quota_in_usd, quota_left_share, quota_level};

#[derive(Properties, PartialEq)]
pub struct QuotaBarProps {
    pub key_view: KeyView,
    pub now: i64,
}

#[component]
pub fn QuotaBar(props: &QuotaBarProps) -> Html {
    let i18n = use_i18n();
    let key = &props.key_view;
    let Some(share) = quota_left_share(key) else {
        return html! { <span class="muted small">{ i18n.t(Text::NoQuota) }</span> };
    };
    let usd = quota_in_usd(key);
    let total = key.quota_total.unwrap_or_default();
    let remaining = key.quota_remaining.unwrap_or(total);
    let unit = if usd {
        String::new()
    } else {
        format!(" {}", i18n.t(Text::of_quota_unit(key.quota_unit)))
    };
    let forecast = key
        .quota_forecast_exhausted_at
        .filter(|t| *t > props.now)
        .map(|t| {
            format!(
                "{} {}",
                i18n.t(Text::RunsOut),
                format::relative(t, props.now, i18n.lang)
            )
        });
    let burn = key
        .burn_rate_per_hour
        .filter(|b| *b > 0.0)
        .map(|b| format!("{} {}", format::quantity(b, usd), i18n.t(Text::PerHour)));
    let reset = key.quota_reset_at.filter(|t| *t > props.now).map(|t| {
        format!(
            "{} {}",
            i18n.t(Text::Resets),
            format::relative(t, props.now, i18n.lang)
        )
    });
    html! {
        <div class="quota" title={format!("{:.1}%", share * 100.0)}>
            <div class="quota-track">
                <div class={classes!("quota-fill", quota_level(share))} style={format!("width: {:.1}%", share * 100.0)}></div>
            </div>
            <div class="small">
                { format!("{} / {}{} {}", format::quantity(remaining, usd), format::quantity(total, usd), unit, i18n.t(Text::Left)) }
            </div>
            if forecast.is_some() || burn.is_some() || reset.is_some() {
                <div class="muted small">
                    { [forecast, burn, reset].into_iter().flatten().collect::<Vec<_>>().join(" · ") }
                </div>
            }
        </div>
    }
}
