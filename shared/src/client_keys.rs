//! Client access keys for `/v1` (required when api-proxy listens beyond loopback), each with
//! its own limits: a USD budget per period, requests and tokens per minute, requests in flight,
//! the models it may use, an expiry date.

use serde::{Deserialize, Deserializer, Serialize};

/// The period a budget is counted over (UTC calendar days and months).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    /// For the life of the key.
    #[default]
    Total,
    Daily,
    Monthly,
}

impl BudgetPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::Daily => "daily",
            Self::Monthly => "monthly",
        }
    }

    /// The stored spelling; anything unknown is a total budget.
    pub fn parse(s: &str) -> Self {
        match s {
            "daily" => Self::Daily,
            "monthly" => Self::Monthly,
            _ => Self::Total,
        }
    }
}

fn yes() -> bool {
    true
}

/// `POST /api/client_keys`. Every limit is optional: a key without any may do anything `/v1`
/// allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewClientKey {
    pub name: String,
    /// USD this key may spend per `budget_period`.
    #[serde(default)]
    pub budget_usd: Option<f64>,
    #[serde(default)]
    pub budget_period: BudgetPeriod,
    /// Requests per minute.
    #[serde(default)]
    pub rpm: Option<u32>,
    /// Tokens (prompt and completion) per minute.
    #[serde(default)]
    pub tpm: Option<u32>,
    /// Requests in flight at once.
    #[serde(default)]
    pub max_parallel: Option<u32>,
    /// Model ids it may use; `*` matches any characters (`gpt-4o*`). Absent: every model.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Unix milliseconds after which the key is refused.
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub note: Option<String>,
}

impl NewClientKey {
    /// A key with this name and no limits.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            budget_usd: None,
            budget_period: BudgetPeriod::Total,
            rpm: None,
            tpm: None,
            max_parallel: None,
            models: None,
            expires_at: None,
            enabled: true,
            note: None,
        }
    }
}

/// Present and `null` (`Some(None)`: remove the limit) differs from absent (`None`: keep it).
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `PATCH /api/client_keys/{id}`: only the members present change; `null` removes a limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientKeyChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    pub budget_usd: Option<Option<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_period: Option<BudgetPeriod>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub rpm: Option<Option<u32>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub tpm: Option<Option<u32>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub max_parallel: Option<Option<u32>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub models: Option<Option<Vec<String>>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub expires_at: Option<Option<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub note: Option<Option<String>>,
}

/// Returned once by `POST /api/client_keys`: `key` is never shown again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientKeyCreated {
    pub id: i64,
    pub name: String,
    pub key: String,
    pub created_at: i64,
}

/// What a client key has used, and what is left of each limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientKeyUsage {
    /// USD spent in the current budget period.
    pub spent_usd: f64,
    /// USD reserved by calls in flight.
    pub reserved_usd: f64,
    /// USD left of the budget (`null` without one).
    pub budget_left_usd: Option<f64>,
    /// When the current budget period started (Unix ms; 0 for a total budget).
    pub period_started_at: i64,
    /// Requests left in the current minute's bucket (`null` without `rpm`).
    pub requests_left: Option<u64>,
    /// Tokens left in the current minute's bucket (`null` without `tpm`).
    pub tokens_left: Option<u64>,
    pub in_flight: u32,
    /// Since the server started: calls made with the key, those that failed (limits included),
    /// those refused by a limit, tokens and USD.
    pub calls: u64,
    pub errors: u64,
    pub limited: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientKeyView {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, enough to recognise it.
    pub prefix: String,
    pub created_at: i64,
    pub budget_usd: Option<f64>,
    pub budget_period: BudgetPeriod,
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    pub max_parallel: Option<u32>,
    pub models: Option<Vec<String>>,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub note: Option<String>,
    /// When the key was revoked (Unix ms); a revoked key gets 401.
    pub revoked_at: Option<i64>,
    pub usage: ClientKeyUsage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientKeyList {
    pub data: Vec<ClientKeyView>,
}
