//! `GET /api/openapi.json`: the OpenAPI description of this API, generated from the handlers'
//! `#[utoipa::path]` attributes and the wire types' `ToSchema` derives (in `shared`, behind its
//! `openapi` feature), so it changes with the code. Public: it holds no secrets.
//!
//! Invariant: a handler's `responses(...)` lists exactly the statuses it can produce. Two
//! statuses come from middleware on every route and are described once, in the info text: 403
//! (foreign `Host` or `Origin`) and 431 (request headers over 32 KiB).

pub mod anthropic;
pub mod openai;
pub mod responses;

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{Modify, OpenApi};

use super::{
    chat, client_keys, health, keys, live, logs, messages, metrics, models, providers,
    responses as responses_api, route, runtime, settings, stats,
};
use crate::error::ErrorEnvelope;

const DESCRIPTION: &str = "\
A local OpenAI-compatible LLM gateway: one endpoint in front of many provider keys.

- `/v1/*` is OpenAI's API (also served under `/api/v1/*`). A request from this machine (loopback \
peer, no forwarding header such as `Forwarded`, `X-Forwarded-For`, `X-Real-IP` or `Via`) needs \
no client key while \
api-proxy listens on loopback and neither `ALLOWED_HOSTS` nor `CORS_ORIGINS` is set; any other \
request needs a client key from `POST /api/client_keys`, as does every request with \
`REQUIRE_CLIENT_KEYS=true`.
- `/api/*` is the admin API and needs the admin token, except `/api/health` and this document. \
After 10 failed authentications within a minute, an address gets 429 \
(`too_many_failed_authentications`, with `Retry-After`) on every admin request until the minute \
is over.
- `/v1/messages` is Anthropic's Messages API; its errors have Anthropic's shape, \
`{\"type\": \"error\", \"error\": {\"type\", \"message\"}}`, and statuses (529 for overloaded).
- `/v1/*` and `/api/*` take JSON bodies only: a body without `Content-Type: application/json` gets 415.
- Every other error body has OpenAI's shape, `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`. \
Besides the statuses listed per operation, any request can get 403 (`forbidden`: a `Host` or \
`Origin` that is not this server's, or a browser fetch from another site) or 431 \
(`headers_too_large`).";

#[derive(OpenApi)]
#[openapi(
    info(title = "api-proxy", description = DESCRIPTION),
    paths(
        chat::post_chat_completions,
        chat::post_embeddings,
        messages::post_messages,
        messages::post_count_tokens,
        responses_api::post_responses,
        models::list_models,
        chat::post_chat_completions_seed,
        chat::post_chat_completions_for_provider,
        health::get_health,
        get_openapi,
        keys::list_keys,
        keys::create_key,
        keys::get_key,
        keys::update_key,
        keys::delete_key,
        keys::test_key,
        stats::get_stats,
        stats::get_timeseries,
        logs::list_logs,
        logs::get_log,
        route::get_route,
        runtime::get_runtime,
        metrics::get_metrics,
        live::get_live,
        live::create_live_ticket,
        providers::list_providers,
        providers::list_capabilities,
        settings::get_settings,
        settings::update_settings,
        client_keys::list_client_keys,
        client_keys::create_client_key,
        client_keys::delete_client_key,
    ),
    components(
        schemas(
            ErrorEnvelope,
            shared::live::LiveEvent,
            shared::live::LiveTicket,
            anthropic::AnthropicErrorEnvelope,
            anthropic::AnthropicMessage,
            anthropic::AnthropicStreamEvent,
            anthropic::AnthropicTokenCount,
            // The proxied answers' bodies, which the `responses` below refer to.
            openai::OpenAiChatCompletion,
            openai::OpenAiChatStreamEvent,
            openai::OpenAiEmbeddingList,
            openai::OpenAiResponse,
            openai::OpenAiResponsesStreamEvent,
        ),
        responses(
            responses::ChatCompletionAnswer,
            responses::ResponsesAnswer,
            responses::EmbeddingsAnswer,
            responses::BadRequest,
            responses::Unauthorized,
            responses::NotFound,
            responses::PayloadTooLarge,
            responses::RequestTimeout,
            responses::UnsupportedMediaType,
            responses::AllKeysRateLimited,
            responses::TooManyFailedAuthentications,
            responses::InternalError,
            responses::StorageUnavailable,
            responses::BadGateway,
            responses::NoAvailableKey,
            responses::GatewayTimeout,
            responses::UpstreamError,
            anthropic::MessagesAnswer,
            anthropic::CountTokensAnswer,
            anthropic::AnthropicError,
        )
    ),
    modifiers(&BearerSchemes, &OpenProviderSpec, &ThrottledAdmin),
    security(("admin_token" = [])),
    tags(
        (name = "openai", description = "OpenAI-compatible endpoints, routed to the best usable key."),
        (name = "anthropic", description = "Anthropic's Messages API, routed to the best usable key; Anthropic-shaped errors."),
        (name = "keys", description = "Provider keys, stored encrypted and shown masked."),
        (name = "observability", description = "Statistics, call logs, routing decisions and the live feed."),
        (name = "config", description = "Providers, runtime settings and client keys."),
        (name = "meta", description = "Health and this description; no token needed."),
    )
)]
pub struct ApiDoc;

/// The two bearer schemes: the admin token for `/api/*`, client keys for `/v1/*`.
struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            bearer(
                "The admin token (`ADMIN_TOKEN`, or the one generated into `<data>/admin.token`).",
            ),
        );
        components.add_security_scheme(
            "client_api_key",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "x-api-key",
                    "A client key sent as Anthropic's clients send theirs; as `client_key`.",
                ),
            )),
        );
        components.add_security_scheme(
            "client_key",
            bearer("A client key from `POST /api/client_keys`; not needed for requests from this machine that no forwarder touched (see the description)."),
        );
    }
}

/// `ProviderSpec` is also the schema of the provider files, which refuse unknown fields
/// (`additionalProperties: false`). `ProviderView` flattens it (`allOf`) beside its own fields,
/// which that rule would reject, so the API's copy leaves it out.
struct OpenProviderSpec;

impl Modify for OpenProviderSpec {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let spec = openapi
            .components
            .as_mut()
            .and_then(|c| c.schemas.get_mut("ProviderSpec"));
        if let Some(RefOr::T(Schema::Object(spec))) = spec {
            spec.additional_properties = None;
        }
    }
}

/// Every admin operation can answer 429 `too_many_failed_authentications` (the throttle runs
/// before any handler), so each one lists it, without repeating it on every handler.
struct ThrottledAdmin;

impl Modify for ThrottledAdmin {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let not_admin = ["openai", "anthropic", "meta"];
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let tags = operation.tags.as_deref().unwrap_or_default();
                if tags.iter().any(|t| not_admin.contains(&t.as_str())) {
                    continue;
                }
                operation.responses.responses.insert(
                    "429".to_owned(),
                    RefOr::Ref(Ref::from_response_name("TooManyFailedAuthentications")),
                );
            }
        }
    }
}

/// The description, serialised once: it is fixed for the life of the binary.
pub fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI description serialises")
    })
}

/// This OpenAPI description. Open: no token needed.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI description of this API", body = serde_json::Value))
)]
pub async fn get_openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi_json())
}
