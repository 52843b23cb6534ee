//! The Settings form: numbers as typed and the editable alias and per-model strategy rows, turned
//! into a `SettingsPatch` that the shared validation accepts.

use std::collections::BTreeMap;

use shared::settings::{RoutingStrategy, Settings, SettingsPatch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsField {
    MaxAttempts,
    FirstByteTimeout,
    StreamIdleTimeout,
    LogRetention,
    ModelAliases,
    ModelStrategies,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SettingsForm {
    pub routing_strategy: RoutingStrategy,
    pub max_attempts: String,
    pub first_byte_timeout_ms: String,
    pub stream_idle_timeout_ms: String,
    pub log_retention_days: String,
    pub store_call_logs: bool,
    pub conversation_affinity: bool,
    /// (alias, target) rows; blank rows are ignored.
    pub model_aliases: Vec<(String, String)>,
    /// (model, strategy) rows; rows without a model are ignored.
    pub model_strategies: Vec<(String, RoutingStrategy)>,
}

impl SettingsForm {
    pub fn from_settings(s: &Settings) -> Self {
        SettingsForm {
            routing_strategy: s.routing_strategy,
            max_attempts: s.max_attempts.to_string(),
            first_byte_timeout_ms: s.first_byte_timeout_ms.to_string(),
            stream_idle_timeout_ms: s.stream_idle_timeout_ms.to_string(),
            log_retention_days: s.log_retention_days.to_string(),
            store_call_logs: s.store_call_logs,
            conversation_affinity: s.conversation_affinity,
            model_aliases: s
                .model_aliases
                .iter()
                .map(|(a, t)| (a.clone(), t.clone()))
                .collect(),
            model_strategies: s
                .model_strategies
                .iter()
                .map(|(m, st)| (m.clone(), *st))
                .collect(),
        }
    }

    /// The whole form as a patch, checked against the same rules as the server's.
    pub fn to_patch(&self, current: &Settings) -> Result<SettingsPatch, SettingsField> {
        let mut aliases = BTreeMap::new();
        for (alias, target) in &self.model_aliases {
            match (alias.trim(), target.trim()) {
                ("", "") => {}
                ("", _) | (_, "") => return Err(SettingsField::ModelAliases),
                (a, t) => {
                    if aliases.insert(a.to_owned(), t.to_owned()).is_some() {
                        return Err(SettingsField::ModelAliases);
                    }
                }
            }
        }
        let mut strategies = BTreeMap::new();
        for (model, strategy) in &self.model_strategies {
            let model = model.trim();
            if !model.is_empty() && strategies.insert(model.to_owned(), *strategy).is_some() {
                return Err(SettingsField::ModelStrategies);
            }
        }
        let patch = SettingsPatch {
            routing_strategy: Some(self.routing_strategy),
            max_attempts: Some(number(&self.max_attempts, SettingsField::MaxAttempts)?),
            first_byte_timeout_ms: Some(number(
                &self.first_byte_timeout_ms,
                SettingsField::FirstByteTimeout,
            )?),
            stream_idle_timeout_ms: Some(number(
                &self.stream_idle_timeout_ms,
                SettingsField::StreamIdleTimeout,
            )?),
            model_aliases: Some(aliases),
            model_strategies: Some(strategies),
            log_retention_days: Some(number(
                &self.log_retention_days,
                SettingsField::LogRetention,
            )?),
            store_call_logs: Some(self.store_call_logs),
            conversation_affinity: Some(self.conversation_affinity),
        };
        current
            .patched(patch.clone())
            .map_err(|message| field_of(&message))?;
        Ok(patch)
    }
}

fn number<T: std::str::FromStr>(text: &str, field: SettingsField) -> Result<T, SettingsField> {
    text.trim().parse().map_err(|_| field)
}

/// Which field the shared validation's message names.
fn field_of(message: &str) -> SettingsField {
    if message.starts_with("first_byte") {
        SettingsField::FirstByteTimeout
    } else if message.starts_with("stream_idle") {
        SettingsField::StreamIdleTimeout
    } else if message.starts_with("model_aliases") {
        SettingsField::ModelAliases
    } else {
        SettingsField::MaxAttempts
    }
}

/// Every strategy, in the order the select lists them, with its wire name.
pub const STRATEGIES: [RoutingStrategy; 6] = [
    RoutingStrategy::Balanced,
    RoutingStrategy::Cost,
    RoutingStrategy::Quota,
    RoutingStrategy::Latency,
    RoutingStrategy::RoundRobin,
    RoutingStrategy::Weighted,
];

/// The strategy's wire name (`round_robin`), used as the select's value.
pub fn strategy_id(strategy: RoutingStrategy) -> String {
    serde_json::to_value(strategy)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn strategy_from_id(id: &str) -> Option<RoutingStrategy> {
    serde_json::from_value(serde_json::Value::String(id.to_owned())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_settings_round_trip() {
        let mut s = Settings::default();
        s.model_aliases
            .insert("gpt-4o".into(), "claude-sonnet-4-5".into());
        s.model_strategies
            .insert("o3".into(), RoutingStrategy::Cost);
        s.store_call_logs = false;
        s.conversation_affinity = true;
        let form = SettingsForm::from_settings(&s);
        let patch = form.to_patch(&s).unwrap();
        assert_eq!(s.patched(patch).unwrap(), s);
    }

    #[test]
    fn blank_rows_are_ignored_and_half_rows_refused() {
        let s = Settings::default();
        let mut form = SettingsForm::from_settings(&s);
        form.model_aliases.push((String::new(), String::new()));
        form.model_strategies
            .push((" ".into(), RoutingStrategy::Quota));
        let patch = form.to_patch(&s).unwrap();
        assert!(patch.model_aliases.unwrap().is_empty());
        assert!(patch.model_strategies.unwrap().is_empty());
        form.model_aliases.push(("a".into(), String::new()));
        assert_eq!(form.to_patch(&s), Err(SettingsField::ModelAliases));
    }

    #[test]
    fn numbers_are_checked_like_the_server_checks_them() {
        let s = Settings::default();
        let mut form = SettingsForm::from_settings(&s);
        form.max_attempts = "many".into();
        assert_eq!(form.to_patch(&s), Err(SettingsField::MaxAttempts));
        form.max_attempts = "11".into();
        assert_eq!(form.to_patch(&s), Err(SettingsField::MaxAttempts));
        form.max_attempts = "2".into();
        form.first_byte_timeout_ms = "0".into();
        assert_eq!(form.to_patch(&s), Err(SettingsField::FirstByteTimeout));
        form.first_byte_timeout_ms = "1000".into();
        form.log_retention_days = "-1".into();
        assert_eq!(form.to_patch(&s), Err(SettingsField::LogRetention));
    }

    #[test]
    fn strategy_ids_are_the_wire_names() {
        assert_eq!(strategy_id(RoutingStrategy::RoundRobin), "round_robin");
        assert_eq!(
            strategy_from_id("weighted"),
            Some(RoutingStrategy::Weighted)
        );
        assert_eq!(strategy_from_id("fastest"), None);
        for s in STRATEGIES {
            assert_eq!(strategy_from_id(&strategy_id(s)), Some(s));
        }
    }
}
