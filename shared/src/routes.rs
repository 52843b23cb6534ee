//! `GET /api/route?model=`: why a key would win now.

use serde::{Deserialize, Serialize};

use crate::keys::KeyState;
use crate::settings::RoutingStrategy;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RouteExplanation {
    pub model: String,
    pub strategy: RoutingStrategy,
    /// The priority tier the winner comes from (`None`: keys without a priority).
    pub tier: Option<i32>,
    pub winner: Option<i64>,
    pub candidates: Vec<RouteCandidate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RouteCandidate {
    pub key_id: i64,
    pub name: String,
    pub provider: String,
    /// The model this key would be asked for (the request's, or its equivalent).
    pub model: Option<String>,
    pub priority: Option<i32>,
    pub state: KeyState,
    /// Why the key cannot serve now, if it cannot.
    pub filtered: Option<String>,
    pub score: Option<ScoreView>,
}

/// Components in 0..=1 (1 is best) and the strategy's total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoreView {
    pub quota: f64,
    pub cost: f64,
    pub latency: f64,
    pub headroom: f64,
    pub total: f64,
    /// Estimated USD for a typical call (1,000 prompt and 300 completion tokens).
    pub estimated_cost_usd: f64,
    pub latency_ms: Option<f64>,
}
