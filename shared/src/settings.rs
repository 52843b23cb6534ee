//! Runtime settings editable through `GET/PUT /api/settings`, persisted in SQLite.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How the router ranks usable keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoutingStrategy {
    /// One weighted score: quota left (0.4), cost (0.3), latency (0.2), rate-limit headroom (0.1).
    #[default]
    Balanced,
    /// Cheapest first (latency breaks ties).
    Cost,
    /// Most quota left first.
    Quota,
    /// Fastest first (time-decayed average of time to first byte and total time).
    Latency,
    /// Each usable key in turn.
    RoundRobin,
    /// In turn, in proportion to each key's `weight`.
    Weighted,
}

// `default` lets stored settings miss fields added later; the API always sends every field, so
// the schema marks them required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub routing_strategy: RoutingStrategy,
    /// How many different keys one request may try before giving up (1 = no failover).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub max_attempts: u32,
    /// Deadline for the upstream's response headers, in milliseconds.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub first_byte_timeout_ms: u64,
    /// Longest silence allowed between two chunks of a streamed response, in milliseconds.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub stream_idle_timeout_ms: u64,
    /// Client-facing model name -> the model name to route (e.g. `gpt-4o` -> `claude-sonnet-4-5`).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub model_aliases: BTreeMap<String, String>,
    /// Per-model strategy overrides.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub model_strategies: BTreeMap<String, RoutingStrategy>,
    /// Call logs older than this are deleted (0 keeps them forever).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub log_retention_days: u32,
    /// Keep one row per call in the call log. When off, statistics (rollups) are still kept.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub store_call_logs: bool,
    /// Requests that start the same conversation (same model and first messages) stick to the key
    /// that served it before, so the provider's prompt cache hits; broken as soon as that key is
    /// not usable.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub conversation_affinity: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            routing_strategy: RoutingStrategy::Balanced,
            max_attempts: 3,
            first_byte_timeout_ms: 120_000,
            stream_idle_timeout_ms: 300_000,
            model_aliases: BTreeMap::new(),
            model_strategies: BTreeMap::new(),
            log_retention_days: 30,
            store_call_logs: true,
            conversation_affinity: false,
        }
    }
}

/// Body of `PUT /api/settings`: fields present replace the stored ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default)]
    pub routing_strategy: Option<RoutingStrategy>,
    #[serde(default)]
    pub max_attempts: Option<u32>,
    #[serde(default)]
    pub first_byte_timeout_ms: Option<u64>,
    #[serde(default)]
    pub stream_idle_timeout_ms: Option<u64>,
    #[serde(default)]
    pub model_aliases: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub model_strategies: Option<BTreeMap<String, RoutingStrategy>>,
    #[serde(default)]
    pub log_retention_days: Option<u32>,
    #[serde(default)]
    pub store_call_logs: Option<bool>,
    #[serde(default)]
    pub conversation_affinity: Option<bool>,
}

impl Settings {
    /// The strategy for `model`: its override, else the global one.
    pub fn strategy_for(&self, model: &str) -> RoutingStrategy {
        self.model_strategies
            .get(model)
            .copied()
            .unwrap_or(self.routing_strategy)
    }

    /// Applies a patch and checks the result; the error names the offending field.
    pub fn patched(&self, patch: SettingsPatch) -> Result<Settings, String> {
        let mut next = self.clone();
        if let Some(v) = patch.routing_strategy {
            next.routing_strategy = v;
        }
        if let Some(v) = patch.max_attempts {
            next.max_attempts = v;
        }
        if let Some(v) = patch.first_byte_timeout_ms {
            next.first_byte_timeout_ms = v;
        }
        if let Some(v) = patch.stream_idle_timeout_ms {
            next.stream_idle_timeout_ms = v;
        }
        if let Some(v) = patch.model_aliases {
            next.model_aliases = v;
        }
        if let Some(v) = patch.model_strategies {
            next.model_strategies = v;
        }
        if let Some(v) = patch.log_retention_days {
            next.log_retention_days = v;
        }
        if let Some(v) = patch.store_call_logs {
            next.store_call_logs = v;
        }
        if let Some(v) = patch.conversation_affinity {
            next.conversation_affinity = v;
        }
        next.validate()?;
        Ok(next)
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=10).contains(&self.max_attempts) {
            return Err("max_attempts must be between 1 and 10".into());
        }
        if self.first_byte_timeout_ms == 0 || self.first_byte_timeout_ms > 3_600_000 {
            return Err("first_byte_timeout_ms must be between 1 and 3600000".into());
        }
        if self.stream_idle_timeout_ms == 0 || self.stream_idle_timeout_ms > 3_600_000 {
            return Err("stream_idle_timeout_ms must be between 1 and 3600000".into());
        }
        if let Some((alias, _)) = self
            .model_aliases
            .iter()
            .find(|(a, t)| a.trim().is_empty() || t.trim().is_empty())
        {
            return Err(format!(
                "model_aliases: empty alias or target near {alias:?}"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_validates() {
        let s = Settings::default();
        let bad = SettingsPatch {
            max_attempts: Some(0),
            ..Default::default()
        };
        assert!(s.patched(bad).unwrap_err().contains("max_attempts"));
        let good = SettingsPatch {
            max_attempts: Some(2),
            ..Default::default()
        };
        assert_eq!(s.patched(good).unwrap().max_attempts, 2);
    }
}
