//! The add/edit key form: text fields as typed, turned into `shared::keys::NewKey` (add) or a
//! minimal `KeyPatch` (edit: only what changed; a cleared optional field becomes an explicit
//! `null`; an empty secret leaves the stored one alone).

use std::collections::BTreeMap;

use shared::keys::{KeyPatch, KeyView, NewKey, QuotaReset, QuotaUnit};

/// The form's fields that can be wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyField {
    Provider,
    Name,
    ApiKey,
    Priority,
    Weight,
    CostPerRequest,
    QuotaTotal,
    QuotaRemaining,
    AzureDeployments,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyForm {
    pub provider: String,
    pub name: String,
    /// Empty on edit: keep the stored secret.
    pub api_key: String,
    pub base_url: String,
    /// Comma- or line-separated; empty: the provider's catalogue.
    pub models: String,
    pub priority: String,
    pub weight: String,
    pub enabled: bool,
    pub cost_per_request: String,
    pub quota_total: String,
    pub quota_remaining: String,
    pub quota_unit: QuotaUnit,
    pub quota_reset: Option<QuotaReset>,
    pub azure_api_version: String,
    /// `model=deployment` per line.
    pub azure_deployments: String,
}

impl KeyForm {
    /// A blank form for a new key of `provider`.
    pub fn new(provider: &str) -> Self {
        KeyForm {
            provider: provider.to_owned(),
            enabled: true,
            ..Default::default()
        }
    }

    /// The form filled with a key's current values (the secret stays empty).
    pub fn from_view(key: &KeyView) -> Self {
        KeyForm {
            provider: key.provider.clone(),
            name: key.name.clone(),
            api_key: String::new(),
            base_url: key.base_url.clone().unwrap_or_default(),
            models: key.models.join(", "),
            priority: key.priority.map(|p| p.to_string()).unwrap_or_default(),
            weight: key.weight.to_string(),
            enabled: key.enabled,
            cost_per_request: number_text(key.cost_per_request),
            quota_total: key.quota_total.map(number_text).unwrap_or_default(),
            quota_remaining: key.quota_remaining.map(number_text).unwrap_or_default(),
            quota_unit: key.quota_unit,
            quota_reset: key.quota_reset,
            azure_api_version: key.azure_api_version.clone().unwrap_or_default(),
            azure_deployments: key
                .azure_deployments
                .iter()
                .map(|(m, d)| format!("{m}={d}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    pub fn to_new_key(&self) -> Result<NewKey, KeyField> {
        let provider = required(&self.provider, KeyField::Provider)?;
        let name = required(&self.name, KeyField::Name)?;
        let api_key = required(&self.api_key, KeyField::ApiKey)?;
        let deployments = deployments(&self.azure_deployments)?;
        Ok(NewKey {
            provider,
            name,
            api_key,
            base_url: optional(&self.base_url),
            models: Some(models(&self.models)).filter(|m| !m.is_empty()),
            priority: parse(&self.priority, KeyField::Priority)?,
            enabled: Some(self.enabled),
            cost_per_request: parse(&self.cost_per_request, KeyField::CostPerRequest)?,
            quota_total: parse(&self.quota_total, KeyField::QuotaTotal)?,
            quota_remaining: parse(&self.quota_remaining, KeyField::QuotaRemaining)?,
            quota_unit: Some(self.quota_unit),
            azure_api_version: optional(&self.azure_api_version),
            azure_deployments: Some(deployments).filter(|d| !d.is_empty()),
            weight: parse(&self.weight, KeyField::Weight)?,
            quota_reset: self.quota_reset,
            price_overrides: None,
        })
    }

    /// What changed against `key`, as a patch (`KeyPatch::default()` when nothing did). A new
    /// base URL needs the secret again (the server sends a stored key only where it was entered
    /// for).
    pub fn to_patch(&self, key: &KeyView) -> Result<KeyPatch, KeyField> {
        let name = required(&self.name, KeyField::Name)?;
        let priority: Option<i32> = parse(&self.priority, KeyField::Priority)?;
        let weight: Option<i32> = parse(&self.weight, KeyField::Weight)?;
        let cost: Option<f64> = parse(&self.cost_per_request, KeyField::CostPerRequest)?;
        let quota_total: Option<f64> = parse(&self.quota_total, KeyField::QuotaTotal)?;
        let quota_remaining: Option<f64> = parse(&self.quota_remaining, KeyField::QuotaRemaining)?;
        let deployments = deployments(&self.azure_deployments)?;
        let models = models(&self.models);
        let base_url = changed(optional(&self.base_url), key.base_url.clone());
        let api_key = optional(&self.api_key);
        if base_url.is_some() && api_key.is_none() {
            return Err(KeyField::ApiKey);
        }
        Ok(KeyPatch {
            name: changed(name, key.name.clone()),
            api_key,
            base_url,
            models: changed(models, key.models.clone()),
            priority: changed(priority, key.priority),
            enabled: changed(self.enabled, key.enabled),
            cost_per_request: changed(cost.unwrap_or(0.0), key.cost_per_request),
            quota_total: changed(quota_total, key.quota_total),
            quota_remaining: changed(quota_remaining, key.quota_remaining),
            quota_unit: changed(self.quota_unit, key.quota_unit),
            azure_api_version: changed(
                optional(&self.azure_api_version),
                key.azure_api_version.clone(),
            ),
            azure_deployments: changed(deployments, key.azure_deployments.clone()),
            weight: changed(weight.unwrap_or(1), key.weight),
            quota_reset: changed(self.quota_reset, key.quota_reset),
            price_overrides: None,
        })
    }
}

/// The JSON body for `PATCH /api/keys/{id}`. `KeyPatch` serializes an absent field as `null`, which
/// the server reads as "clear" for its nullable fields; so absent fields are left out here and
/// only the explicit clears (`Some(None)`) are sent as `null`.
pub fn patch_json(patch: &KeyPatch) -> serde_json::Value {
    let mut value = serde_json::to_value(patch).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.retain(|_, v| !v.is_null());
        let clears = [
            ("base_url", matches!(patch.base_url, Some(None))),
            ("priority", matches!(patch.priority, Some(None))),
            ("quota_total", matches!(patch.quota_total, Some(None))),
            (
                "quota_remaining",
                matches!(patch.quota_remaining, Some(None)),
            ),
            (
                "azure_api_version",
                matches!(patch.azure_api_version, Some(None)),
            ),
            ("quota_reset", matches!(patch.quota_reset, Some(None))),
        ];
        for (field, cleared) in clears {
            if cleared {
                map.insert(field.to_owned(), serde_json::Value::Null);
            }
        }
    }
    value
}

fn changed<T: PartialEq>(new: T, old: T) -> Option<T> {
    (new != old).then_some(new)
}

fn required(value: &str, field: KeyField) -> Result<String, KeyField> {
    optional(value).ok_or(field)
}

fn optional(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parse<T: std::str::FromStr>(value: &str, field: KeyField) -> Result<Option<T>, KeyField> {
    match optional(value) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| field),
    }
}

fn models(value: &str) -> Vec<String> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

fn deployments(value: &str) -> Result<BTreeMap<String, String>, KeyField> {
    value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once('=') {
            Some((m, d)) if !m.trim().is_empty() && !d.trim().is_empty() => {
                Ok((m.trim().to_owned(), d.trim().to_owned()))
            }
            _ => Err(KeyField::AzureDeployments),
        })
        .collect()
}

/// A number as a form shows it: `2`, not `2.0`.
fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::keys::tests::key;

    #[test]
    fn a_new_key_needs_provider_name_and_secret() {
        let mut form = KeyForm::new("openai");
        assert_eq!(form.to_new_key(), Err(KeyField::Name));
        form.name = " mine ".into();
        assert_eq!(form.to_new_key(), Err(KeyField::ApiKey));
        form.api_key = "sk-test".into();
        let new = form.to_new_key().unwrap();
        assert_eq!(new.name, "mine");
        assert_eq!(new.provider, "openai");
        assert_eq!(new.models, None, "no list: the provider's catalogue");
        assert_eq!(new.base_url, None);
        assert_eq!(new.enabled, Some(true));
    }

    #[test]
    fn numbers_and_lists_are_parsed_and_bad_ones_named() {
        let mut form = KeyForm::new("azure");
        form.name = "a".into();
        form.api_key = "k".into();
        form.models = "gpt-4o, gpt-4o-mini\n o3 ,".into();
        form.priority = "2".into();
        form.quota_total = "1000".into();
        form.cost_per_request = "0.5".into();
        form.azure_deployments = "gpt-4o = prod-4o\n\n".into();
        let new = form.to_new_key().unwrap();
        assert_eq!(new.models.unwrap(), ["gpt-4o", "gpt-4o-mini", "o3"]);
        assert_eq!(new.priority, Some(2));
        assert_eq!(new.quota_total, Some(1000.0));
        assert_eq!(new.cost_per_request, Some(0.5));
        assert_eq!(new.azure_deployments.unwrap()["gpt-4o"], "prod-4o");
        form.priority = "high".into();
        assert_eq!(form.to_new_key(), Err(KeyField::Priority));
        form.priority.clear();
        form.azure_deployments = "no equals sign".into();
        assert_eq!(form.to_new_key(), Err(KeyField::AzureDeployments));
    }

    #[test]
    fn an_unchanged_form_patches_nothing() {
        let mut k = key(1, "openai", &["gpt-4o"]);
        k.priority = Some(1);
        k.quota_total = Some(100.0);
        k.quota_remaining = Some(40.5);
        k.base_url = Some("http://127.0.0.1:9/v1".into());
        let form = KeyForm::from_view(&k);
        assert_eq!(form.quota_total, "100");
        assert_eq!(form.to_patch(&k).unwrap(), KeyPatch::default());
    }

    #[test]
    fn a_patch_carries_changes_and_explicit_clears() {
        let mut k = key(1, "openai", &[]);
        k.priority = Some(1);
        k.base_url = Some("http://old/v1".into());
        let mut form = KeyForm::from_view(&k);
        form.priority.clear();
        form.base_url = "http://new/v1".into();
        form.api_key = "sk-new".into();
        form.enabled = false;
        let patch = form.to_patch(&k).unwrap();
        assert_eq!(patch.priority, Some(None), "cleared: explicit null");
        assert_eq!(patch.base_url, Some(Some("http://new/v1".into())));
        assert_eq!(patch.api_key.as_deref(), Some("sk-new"));
        assert_eq!(patch.enabled, Some(false));
        assert_eq!(patch.name, None);
        let json = patch_json(&patch);
        assert_eq!(
            json,
            serde_json::json!({
                "priority": null,
                "base_url": "http://new/v1",
                "api_key": "sk-new",
                "enabled": false,
            })
        );
        assert_eq!(patch_json(&KeyPatch::default()), serde_json::json!({}));
        // What the server reads back is the same patch.
        let back: KeyPatch = serde_json::from_value(json).unwrap();
        assert_eq!(back, patch);
    }

    #[test]
    fn a_new_base_url_needs_the_secret_again() {
        let mut k = key(1, "openai", &[]);
        k.base_url = Some("http://old/v1".into());
        let mut form = KeyForm::from_view(&k);
        form.base_url = "http://new/v1".into();
        assert_eq!(form.to_patch(&k), Err(KeyField::ApiKey));
        form.base_url.clear();
        assert_eq!(
            form.to_patch(&k),
            Err(KeyField::ApiKey),
            "back to the provider's"
        );
        form.base_url = "http://old/v1".into();
        form.name = "renamed".into();
        assert!(form.to_patch(&k).is_ok(), "other changes keep the secret");
    }
}
