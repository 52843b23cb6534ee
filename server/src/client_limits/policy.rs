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
    pub models: Option<Vec<String>>,
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
                .and_then(|m| serde_json::from_str(m).ok()),
            expires_at: row.expires_at,
            enabled: row.enabled,
            revoked: row.revoked_at.is_some(),
        }
    }

    /// Whether `model` is on the allow-list (every model is without one).
    pub fn allows(&self, model: &str) -> bool {
        self.models
            .as_ref()
            .is_none_or(|list| list.iter().any(|pattern| glob_matches(pattern, model)))
    }

    /// Whether a call needs an estimate of its tokens and cost.
    pub fn needs_estimate(&self) -> bool {
        self.budget.is_some() || self.tpm.is_some()
    }
}

/// `*` matches any run of characters (none included); everything else matches itself.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
