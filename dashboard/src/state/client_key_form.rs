//! The client key dialog's fields as typed, and their conversion to the API's create and change
//! bodies. Every field is text; an empty one means "no limit".

use shared::client_keys::{BudgetPeriod, ClientKeyChanges, ClientKeyView, NewClientKey};

use crate::format;

/// The field a conversion stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKeyField {
    Name,
    Budget,
    Rpm,
    Tpm,
    MaxParallel,
    ExpiresAt,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientKeyForm {
    pub name: String,
    pub budget_usd: String,
    pub budget_period: BudgetPeriod,
    pub rpm: String,
    pub tpm: String,
    pub max_parallel: String,
    /// Comma-separated model ids or globs.
    pub models: String,
    /// As a `datetime-local` input holds it, in the viewer's time zone.
    pub expires_at: String,
    pub enabled: bool,
    pub note: String,
}

fn opt_text<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn count(text: &str, field: ClientKeyField) -> Result<Option<u32>, ClientKeyField> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(v) if v >= 1 => Ok(Some(v)),
        _ => Err(field),
    }
}

/// The parsed limits, in the order both bodies need them.
struct Limits {
    name: String,
    budget_usd: Option<f64>,
    rpm: Option<u32>,
    tpm: Option<u32>,
    max_parallel: Option<u32>,
    models: Option<Vec<String>>,
    expires_at: Option<i64>,
    note: Option<String>,
}

impl ClientKeyForm {
    pub fn new() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    pub fn from_view(view: &ClientKeyView, tz: i32) -> Self {
        Self {
            name: view.name.clone(),
            budget_usd: opt_text(view.budget_usd),
            budget_period: view.budget_period,
            rpm: opt_text(view.rpm),
            tpm: opt_text(view.tpm),
            max_parallel: opt_text(view.max_parallel),
            models: view.models.clone().unwrap_or_default().join(", "),
            expires_at: view
                .expires_at
                .map(|ms| format::datetime_local(ms, tz))
                .unwrap_or_default(),
            enabled: view.enabled,
            note: view.note.clone().unwrap_or_default(),
        }
    }

    fn limits(&self, tz: i32) -> Result<Limits, ClientKeyField> {
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(ClientKeyField::Name);
        }
        let budget = self.budget_usd.trim();
        let budget_usd = if budget.is_empty() {
            None
        } else {
            match budget.trim_start_matches('$').parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                _ => return Err(ClientKeyField::Budget),
            }
        };
        let models: Vec<String> = self
            .models
            .split(',')
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .collect();
        let expires = self.expires_at.trim();
        let expires_at = if expires.is_empty() {
            None
        } else {
            Some(format::parse_datetime_local(expires, tz).ok_or(ClientKeyField::ExpiresAt)?)
        };
        let note = self.note.trim();
        Ok(Limits {
            name,
            budget_usd,
            rpm: count(&self.rpm, ClientKeyField::Rpm)?,
            tpm: count(&self.tpm, ClientKeyField::Tpm)?,
            max_parallel: count(&self.max_parallel, ClientKeyField::MaxParallel)?,
            models: (!models.is_empty()).then_some(models),
            expires_at,
            note: (!note.is_empty()).then(|| note.to_owned()),
        })
    }

    pub fn to_new_key(&self, tz: i32) -> Result<NewClientKey, ClientKeyField> {
        let l = self.limits(tz)?;
        Ok(NewClientKey {
            name: l.name,
            budget_usd: l.budget_usd,
            budget_period: self.budget_period,
            rpm: l.rpm,
            tpm: l.tpm,
            max_parallel: l.max_parallel,
            models: l.models,
            expires_at: l.expires_at,
            enabled: self.enabled,
            note: l.note,
        })
    }

    /// Every field, as the form shows it now (an emptied field removes its limit).
    pub fn to_changes(&self, tz: i32) -> Result<ClientKeyChanges, ClientKeyField> {
        let l = self.limits(tz)?;
        Ok(ClientKeyChanges {
            name: Some(l.name),
            budget_usd: Some(l.budget_usd),
            budget_period: Some(self.budget_period),
            rpm: Some(l.rpm),
            tpm: Some(l.tpm),
            max_parallel: Some(l.max_parallel),
            models: Some(l.models),
            expires_at: Some(l.expires_at),
            enabled: Some(self.enabled),
            note: Some(l.note),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_no_limits() {
        let form = ClientKeyForm {
            name: " ci ".into(),
            ..ClientKeyForm::new()
        };
        let new = form.to_new_key(0).unwrap();
        assert_eq!(new, NewClientKey::named("ci"));
        let changes = serde_json::to_value(form.to_changes(0).unwrap()).unwrap();
        assert_eq!(changes["rpm"], serde_json::Value::Null);
        assert_eq!(changes["models"], serde_json::Value::Null);
        assert_eq!(changes["enabled"], true);
    }

    #[test]
    fn limits_are_parsed_and_checked() {
        let form = ClientKeyForm {
            name: "team".into(),
            budget_usd: "$2.50".into(),
            budget_period: BudgetPeriod::Daily,
            rpm: "60".into(),
            tpm: "".into(),
            max_parallel: "4".into(),
            models: "gpt-4o-mini*, claude-*,".into(),
            expires_at: "2027-01-01T00:00".into(),
            enabled: true,
            note: "".into(),
        };
        let new = form.to_new_key(0).unwrap();
        assert_eq!(new.budget_usd, Some(2.5));
        assert_eq!(new.rpm, Some(60));
        assert_eq!(new.tpm, None);
        assert_eq!(new.models.unwrap(), ["gpt-4o-mini*", "claude-*"]);
        assert_eq!(new.expires_at, Some(1_798_761_600_000));
        for (bad, field) in [
            (
                ClientKeyForm {
                    rpm: "0".into(),
                    ..form.clone()
                },
                ClientKeyField::Rpm,
            ),
            (
                ClientKeyForm {
                    budget_usd: "-1".into(),
                    ..form.clone()
                },
                ClientKeyField::Budget,
            ),
            (
                ClientKeyForm {
                    name: " ".into(),
                    ..form.clone()
                },
                ClientKeyField::Name,
            ),
            (
                ClientKeyForm {
                    expires_at: "soon".into(),
                    ..form.clone()
                },
                ClientKeyField::ExpiresAt,
            ),
        ] {
            assert_eq!(bad.to_new_key(0).unwrap_err(), field);
        }
    }
}
