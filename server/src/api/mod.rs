//! The whole URL map on one screen. Handlers are thin: extract, call one domain function, map.
//!
//! - `/v1/*` and `/api/v1/*`: OpenAI-compatible (client key required when not on loopback).
//! - `/api/chat/completions?provider=`, `/api/proxy/{provider}/chat/completions`: the seed's paths.
//! - `/api/health`, `/api/openapi.json`: open.
//! - everything else under `/api`: admin, `Authorization: Bearer <admin token>`.

pub mod auth;
pub mod body;
pub mod chat;
pub mod client_keys;
pub mod dashboard;
pub mod guard;
pub mod health;
pub mod keys;
pub mod live;
pub mod logs;
pub mod models;
pub mod openapi;
pub mod providers;
pub mod route;
pub mod runtime;
pub mod settings;
pub mod stats;

use actix_web::web::{self, delete, get, head, patch, post, put};
use actix_web::HttpResponse;

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(openai_scope("/v1"))
        .service(
            web::scope("/api")
                .service(openai_scope("/v1"))
                .route("/health", get().to(health::get_health))
                .route("/openapi.json", get().to(openapi::get_openapi))
                .route(
                    "/chat/completions",
                    post().to(chat::post_chat_completions_seed),
                )
                .route(
                    "/proxy/{provider}/chat/completions",
                    post().to(chat::post_chat_completions_for_provider),
                )
                .route("/keys", get().to(keys::list_keys))
                .route("/keys", post().to(keys::create_key))
                .route("/keys/{id}", get().to(keys::get_key))
                .route("/keys/{id}", patch().to(keys::update_key))
                .route("/keys/{id}", delete().to(keys::delete_key))
                .route("/stats", get().to(stats::get_stats))
                .route("/stats/timeseries", get().to(stats::get_timeseries))
                .route("/live", get().to(live::get_live))
                .route("/logs/{id}", get().to(logs::get_log))
                .route("/keys/{id}/test", post().to(keys::test_key))
                .route("/route", get().to(route::get_route))
                .route("/runtime", get().to(runtime::get_runtime))
                .route("/logs", get().to(logs::list_logs))
                .route("/providers", get().to(providers::list_providers))
                .route(
                    "/providers/capabilities",
                    get().to(providers::list_capabilities),
                )
                .route("/settings", get().to(settings::get_settings))
                .route("/settings", put().to(settings::update_settings))
                .route("/client_keys", get().to(client_keys::list_client_keys))
                .route("/client_keys", post().to(client_keys::create_client_key))
                .route(
                    "/client_keys/{id}",
                    delete().to(client_keys::delete_client_key),
                )
                .default_service(web::to(not_found)),
        )
        .route("/", get().to(dashboard::serve))
        .route("/", head().to(dashboard::serve))
        .default_service(web::to(fallback));
}

fn openai_scope(path: &str) -> actix_web::Scope {
    web::scope(path)
        .route("/chat/completions", post().to(chat::post_chat_completions))
        .route("/embeddings", post().to(chat::post_embeddings))
        .route("/models", get().to(models::list_models))
        .default_service(web::to(not_found))
}

/// Page paths go to the dashboard (client-side routing); everything else is a JSON 404.
async fn fallback(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    let api =
        path.starts_with("/api/") || path.starts_with("/v1/") || path == "/api" || path == "/v1";
    let method = req.method();
    if (method == actix_web::http::Method::GET || method == actix_web::http::Method::HEAD) && !api {
        return dashboard::serve(req).await;
    }
    not_found(req).await
}

async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
