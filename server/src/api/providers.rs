//! `GET /api/providers` and `GET /api/providers/capabilities`, from `configs/providers/`.

use actix_web::{web, HttpResponse};
use shared::providers::{ModelCapabilityList, ModelCapabilityRow, ProviderList, ProviderView};

use super::auth::AdminAuth;
use super::openapi::responses::Unauthorized;
use crate::state::AppState;

/// Lists the providers (their files), each with how many keys it has.
#[utoipa::path(
    get,
    path = "/api/providers",
    tag = "config",
    responses(
        (status = 200, description = "The providers", body = ProviderList),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn list_providers(state: web::Data<AppState>, _: AdminAuth) -> HttpResponse {
    let mut counts = std::collections::HashMap::<String, usize>::new();
    state.board.for_each(|bid| {
        *counts
            .entry(bid.profile.provider_id().to_owned())
            .or_default() += 1
    });
    let data = state
        .catalog
        .iter()
        .map(|p| ProviderView {
            spec: p.spec.clone(),
            supported: true,
            key_count: counts.get(&p.spec.id).copied().unwrap_or(0),
        })
        .collect();
    HttpResponse::Ok().json(ProviderList { data })
}

/// Lists every provider's models: context window, output limit, capabilities, prices.
#[utoipa::path(
    get,
    path = "/api/providers/capabilities",
    tag = "config",
    responses(
        (status = 200, description = "The models", body = ModelCapabilityList),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn list_capabilities(state: web::Data<AppState>, _: AdminAuth) -> HttpResponse {
    let rows: Vec<ModelCapabilityRow> = state
        .catalog
        .iter()
        .flat_map(|p| {
            p.spec.models.iter().map(|m| ModelCapabilityRow {
                provider: p.spec.id.clone(),
                model: m.id.clone(),
                context_window: m.context_window,
                max_output_tokens: m.max_output_tokens,
                capabilities: m.capabilities.clone(),
                pricing: m.pricing.clone(),
            })
        })
        .collect();
    HttpResponse::Ok().json(ModelCapabilityList { data: rows })
}
