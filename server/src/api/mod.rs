//! The whole URL map on one screen. Handlers are thin: extract, call one domain function, map.
//!
//! - `/v1/*` and `/api/v1/*`: OpenAI-compatible, and Anthropic's Messages API at `/v1/messages`
//!   (client key required when not on loopback).
//! - `/api/chat/completions?provider=`, `/api/proxy/{provider}/chat/completions`: the seed's paths.
//! - `/api/health`, `/api/openapi.json`: open.
//! - `/metrics`: Prometheus, the admin token or `METRICS_TOKEN`.
//! - everything else under `/api`: admin, `Authorization: Bearer <admin token>`.
//!
//! Both groups take JSON bodies only ([`json_only`]).

pub mod auth;
pub mod auth_throttle;
pub mod body;
pub mod chat;
pub mod client_keys;
pub mod dashboard;
pub mod guard;
pub mod health;
pub mod json_only;
pub mod keys;
pub mod live;
pub mod live_tickets;
pub mod logs;
pub mod messages;
pub mod metrics;
pub mod models;
pub mod openapi;
pub mod providers;
pub mod responses;
pub mod route;
pub mod runtime;
pub mod settings;
pub mod stats;

use actix_web::middleware::from_fn;
use actix_web::web::{self, delete, get, head, patch, post, put};
use actix_web::HttpResponse;

use crate::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(openai_scope("/v1"))
        .service(
            web::scope("/api")
                .service(openai_scope("/v1"))
                .service(resource("/health", "GET").route(get().to(health::get_health)))
                .service(resource("/openapi.json", "GET").route(get().to(openapi::get_openapi)))
                .service(
                    resource("/chat/completions", "POST")
                        .route(post().to(chat::post_chat_completions_seed)),
                )
                .service(
                    resource("/proxy/{provider}/chat/completions", "POST")
                        .route(post().to(chat::post_chat_completions_for_provider)),
                )
                .service(
                    resource("/keys", "GET, POST")
                        .route(get().to(keys::list_keys))
                        .route(post().to(keys::create_key)),
                )
                .service(
                    resource("/keys/{id}", "GET, PATCH, DELETE")
                        .route(get().to(keys::get_key))
                        .route(patch().to(keys::update_key))
                        .route(delete().to(keys::delete_key)),
                )
                .service(resource("/keys/{id}/test", "POST").route(post().to(keys::test_key)))
                .service(resource("/stats", "GET").route(get().to(stats::get_stats)))
                .service(
                    resource("/stats/timeseries", "GET").route(get().to(stats::get_timeseries)),
                )
                .service(resource("/live", "GET").route(get().to(live::get_live)))
                .service(
                    resource("/live/ticket", "POST").route(post().to(live::create_live_ticket)),
                )
                .service(resource("/logs", "GET").route(get().to(logs::list_logs)))
                .service(resource("/logs/{id}", "GET").route(get().to(logs::get_log)))
                .service(resource("/route", "GET").route(get().to(route::get_route)))
                .service(resource("/runtime", "GET").route(get().to(runtime::get_runtime)))
                .service(resource("/providers", "GET").route(get().to(providers::list_providers)))
                .service(
                    resource("/providers/capabilities", "GET")
                        .route(get().to(providers::list_capabilities)),
                )
                .service(
                    resource("/settings", "GET, PUT")
                        .route(get().to(settings::get_settings))
                        .route(put().to(settings::update_settings)),
                )
                .service(
                    resource("/client_keys", "GET, POST")
                        .route(get().to(client_keys::list_client_keys))
                        .route(post().to(client_keys::create_client_key)),
                )
                .service(
                    resource("/client_keys/{id}", "DELETE")
                        .route(delete().to(client_keys::delete_client_key)),
                )
                .default_service(web::to(not_found))
                .wrap(json_only::RequireJson),
        )
        .service(resource("/metrics", "GET").route(get().to(metrics::get_metrics)))
        .route("/", get().to(dashboard::serve))
        .route("/", head().to(dashboard::serve))
        .default_service(web::to(fallback));
}

fn openai_scope(path: &str) -> impl actix_web::dev::HttpServiceFactory {
    web::scope(path)
        .service(
            resource("/chat/completions", "POST").route(post().to(chat::post_chat_completions)),
        )
        .service(resource("/embeddings", "POST").route(post().to(chat::post_embeddings)))
        .service(
            resource("/messages", "POST")
                .wrap(from_fn(messages::render_as_messages))
                .route(post().to(messages::post_messages)),
        )
        .service(
            resource("/messages/count_tokens", "POST")
                .wrap(from_fn(messages::render_as_messages))
                .route(post().to(messages::post_count_tokens)),
        )
        .service(resource("/responses", "POST").route(post().to(responses::post_responses)))
        .service(resource("/models", "GET").route(get().to(models::list_models)))
        .default_service(web::to(not_found))
        .wrap(json_only::RequireJson)
}

/// A path whose other methods get a JSON 405 naming the ones it has (`allow`, which must list
/// the routes added to it; `tests/it/openapi.rs` checks each against the OpenAPI document).
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: actix_web::HttpRequest| async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow,
        })
    }))
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
