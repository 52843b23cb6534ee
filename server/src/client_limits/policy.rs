//! What a client key may do: its limits, read from its row, and the model allow-list's globs.

use shared::client_keys::BudgetPeriod;

use super::budget::usd_to_nanos;
use crate::db::client_keys::ClientKeyRow;

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    /// Nano-USD per period.
    pub budget: Option<i64>,
    pub period: BudgetPeriod,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_parallel: Option<u32>,
    /// Model ids or `*` globs; `None`: every model.
    pub models: Option<Vec<ModelPattern>>,
    /// Unix ms.
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub revoked: bool,
}

fn positive(v: Option<i32>) -> Option<u64> {
    v.and_then(|v| u64::try_from(v).ok())
}

impl Policy {
    pub fn from_row(row: &ClientKeyRow) -> Self {
        Self {
            name: row.name.clone(),
            budget: row.budget_usd.map(usd_to_nanos),
            period: BudgetPeriod::parse(&row.budget_period),
            rpm: positive(row.rpm),
            tpm: positive(row.tpm),
            max_parallel: positive(row.max_parallel).map(|v| v.min(u64::from(u32::MAX)) as u32),
            models: row
                .models
                .as_deref()
                .and_then(|m| serde_json::from_str::<Vec<String>>(m).ok())
                .map(|list| list.iter().map(|p| ModelPattern::new(p)).collect()),
            expires_at: row.expires_at,
            enabled: row.enabled,
            revoked: row.revoked_at.is_some(),
        }
    }

    /// Whether `model` is on the allow-list (every model is without one).
    pub fn allows(&self, model: &str) -> bool {
        self.models
            .as_ref()
            .is_none_or(|list| list.iter().any(|pattern| pattern.matches(model)))
    }

    /// Whether a call needs an estimate of its tokens and cost.
    pub fn needs_estimate(&self) -> bool {
        self.budget.is_some() || self.tpm.is_some()
    }
}

/// One entry of a model allow-list: `*` matches any run of characters (none included),
/// everything else matches itself. Split at its stars once, when the policy is read, since
/// every call of the key is checked against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPattern {
    /// The text between the stars: one part for an exact id.
    parts: Vec<String>,
}

impl ModelPattern {
    pub fn new(pattern: &str) -> Self {
        Self {
            parts: pattern.split('*').map(str::to_owned).collect(),
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        let Some((first, others)) = self.parts.split_first() else {
            return false;
        };
        let Some(mut rest) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = others.split_last() else {
            return rest.is_empty();
        };
        for part in middle {
            match rest.find(part.as_str()) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob_matches(pattern: &str, text: &str) -> bool {
        ModelPattern::new(pattern).matches(text)
    }

    #[test]
    fn globs() {
        assert!(glob_matches("gpt-4o", "gpt-4o"));
        assert!(!glob_matches("gpt-4o", "gpt-4o-mini"));
        assert!(glob_matches("gpt-4o*", "gpt-4o-mini"));
        assert!(glob_matches("gpt-4o*", "gpt-4o"));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("claude-*-sonnet*", "claude-3-5-sonnet-latest"));
        assert!(!glob_matches("claude-*-sonnet", "claude-3-5-haiku"));
        assert!(glob_matches("*mini", "gpt-4o-mini"));
        assert!(!glob_matches("*mini", "gpt-4o"));
        assert!(!glob_matches("a*a", "a"));
        assert!(glob_matches("", ""));
        assert!(!glob_matches("", "gpt-4o"));
    }
}
