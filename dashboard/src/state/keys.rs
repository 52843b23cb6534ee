//! Rules about keys as the Keys, Providers and Routing pages show them: applying pushed state
//! changes, the quota bar, and which keys serve a catalogue model.

use shared::keys::{KeyState, KeyView, QuotaUnit};

use super::live::KeyStateChange;

/// Applies a pushed state change to the listed key it names. Returns whether one changed.
pub fn apply_state_change(keys: &mut [KeyView], change: &KeyStateChange) -> bool {
    match keys.iter_mut().find(|k| k.id == change.key_id) {
        Some(key) if key.state != change.state || key.state_until != change.until => {
            key.state = change.state;
            key.state_until = change.until;
            key.enabled = change.state != KeyState::Disabled;
            true
        }
        _ => false,
    }
}

/// How full the quota bar is: the share of the quota left, in `0..=1` (`None`: no quota).
pub fn quota_left_share(key: &KeyView) -> Option<f64> {
    let total = key.quota_total.filter(|t| *t > 0.0)?;
    let remaining = key.quota_remaining.unwrap_or(total);
    Some((remaining / total).clamp(0.0, 1.0))
}

/// The bar's colour class: plenty, low (under 20 %), or nearly gone (under 5 %).
pub fn quota_level(share: f64) -> &'static str {
    if share < 0.05 {
        "critical"
    } else if share < 0.2 {
        "low"
    } else {
        "ok"
    }
}

/// Whether a key's unit is money (shown as `$`).
pub fn quota_in_usd(key: &KeyView) -> bool {
    key.quota_unit == QuotaUnit::Usd
}

/// Whether `key` serves `model` of `provider` from the provider's catalogue: same provider, and
/// either no model list (the catalogue), `*`, or the model listed.
pub fn serves(key: &KeyView, provider: &str, model: &str) -> bool {
    key.provider == provider
        && (key.models.is_empty() || key.models.iter().any(|m| m == "*" || m == model))
}

/// The CSS class of a state badge.
pub fn state_class(state: KeyState) -> &'static str {
    match state {
        KeyState::Active => "good",
        KeyState::Probing => "info",
        KeyState::Throttled | KeyState::Cooling => "warn",
        KeyState::QuotaExhausted | KeyState::AuthDead | KeyState::SealedMismatch => "bad",
        KeyState::Disabled => "muted",
    }
}

/// The one-letter badge of a provider: the first letter or digit of its id, upper-cased.
pub fn provider_letter(provider: &str) -> char {
    provider
        .chars()
        .find(|c| c.is_alphanumeric())
        .map_or('?', |c| c.to_uppercase().next().unwrap_or(c))
}

/// A stable hue (0..360) per provider, so each badge keeps its colour.
pub fn provider_hue(provider: &str) -> u32 {
    provider
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 360
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use shared::keys::KeyUsage;

    use super::*;

    pub(crate) fn key(id: i64, provider: &str, models: &[&str]) -> KeyView {
        KeyView {
            id,
            provider: provider.into(),
            name: format!("key-{id}"),
            masked_key: "sk-…abcd".into(),
            base_url: None,
            models: models.iter().map(|m| m.to_string()).collect(),
            priority: None,
            enabled: true,
            cost_per_request: 0.0,
            quota_total: None,
            quota_remaining: None,
            quota_unit: QuotaUnit::Requests,
            azure_api_version: None,
            azure_deployments: BTreeMap::new(),
            state: KeyState::Active,
            state_until: None,
            usage: KeyUsage::default(),
            weight: 1,
            quota_reset: None,
            quota_reset_at: None,
            price_overrides: BTreeMap::new(),
            in_flight: 0,
            rate_limit: None,
            burn_rate_per_hour: None,
            quota_forecast_exhausted_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn state_changes_apply_to_the_named_key() {
        let mut keys = vec![key(1, "openai", &[]), key(2, "openai", &[])];
        let change = KeyStateChange {
            key_id: 2,
            name: "key-2".into(),
            state: KeyState::Throttled,
            until: Some(99),
        };
        assert!(apply_state_change(&mut keys, &change));
        assert_eq!(keys[1].state, KeyState::Throttled);
        assert_eq!(keys[1].state_until, Some(99));
        assert_eq!(keys[0].state, KeyState::Active);
        assert!(
            !apply_state_change(&mut keys, &change),
            "no change the second time"
        );
        let disabled = KeyStateChange {
            key_id: 1,
            name: "key-1".into(),
            state: KeyState::Disabled,
            until: None,
        };
        assert!(apply_state_change(&mut keys, &disabled));
        assert!(!keys[0].enabled);
        let unknown = KeyStateChange {
            key_id: 9,
            ..disabled
        };
        assert!(!apply_state_change(&mut keys, &unknown));
    }

    #[test]
    fn quota_share_and_level() {
        let mut k = key(1, "openai", &[]);
        assert_eq!(quota_left_share(&k), None);
        k.quota_total = Some(200.0);
        assert_eq!(quota_left_share(&k), Some(1.0), "untouched quota is full");
        k.quota_remaining = Some(50.0);
        assert_eq!(quota_left_share(&k), Some(0.25));
        k.quota_remaining = Some(-5.0);
        assert_eq!(quota_left_share(&k), Some(0.0));
        assert_eq!(quota_level(0.25), "ok");
        assert_eq!(quota_level(0.1), "low");
        assert_eq!(quota_level(0.01), "critical");
    }

    #[test]
    fn which_keys_serve_a_catalogue_model() {
        assert!(serves(&key(1, "openai", &[]), "openai", "gpt-4o"));
        assert!(!serves(&key(1, "openai", &[]), "anthropic", "gpt-4o"));
        assert!(serves(&key(1, "openai", &["gpt-4o"]), "openai", "gpt-4o"));
        assert!(!serves(
            &key(1, "openai", &["gpt-4o-mini"]),
            "openai",
            "gpt-4o"
        ));
        assert!(serves(&key(1, "openai", &["*"]), "openai", "o3"));
    }

    #[test]
    fn badges() {
        assert_eq!(provider_letter("openai"), 'O');
        assert_eq!(provider_letter("_x"), 'X');
        assert_eq!(provider_letter(""), '?');
        assert_eq!(provider_hue("openai"), provider_hue("openai"));
        assert!(provider_hue("anthropic") < 360);
        assert_eq!(state_class(KeyState::AuthDead), "bad");
    }
}
