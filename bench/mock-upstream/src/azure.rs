//! Azure OpenAI: deployment URLs (`/openai/deployments/{name}/…?api-version=…`), the `api-key`
//! header, Azure's own error bodies for the errors Azure (not the model) raises, and the
//! content-filter annotations on every answer: a leading `prompt_filter_results` chunk with
//! empty `choices` (which naive clients index and crash on) and `content_filter_results` per
//! choice.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::openai::{self, Flavour};
use crate::{embeddings, MockConfig, MockState};

/// The API version named in the 429 message.
const DEFAULT_API_VERSION: &str = "2024-10-21";

pub async fn dispatch(
    req: &HttpRequest,
    config: &MockConfig,
    body: &Value,
    state: Arc<MockState>,
) -> HttpResponse {
    let Some(rest) = req.path().strip_prefix("/openai/deployments/") else {
        return not_found();
    };
    let Some((deployment, operation)) = rest.split_once('/') else {
        return not_found();
    };
    let query = req.query_string();
    let has_version = query.split('&').any(|p| {
        p.strip_prefix("api-version=")
            .is_some_and(|v| !v.is_empty())
    });
    if deployment.is_empty() || !has_version {
        return not_found();
    }
    if let Some(expected) = &config.expected_key {
        let key = req.headers().get("api-key").and_then(|v| v.to_str().ok());
        if key != Some(expected.as_str()) {
            return azure_error(
                401,
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
            );
        }
    }
    let flavour = Flavour::Azure {
        deployment: deployment.to_owned(),
    };
    match operation {
        "chat/completions" => openai::chat(config, body, state, flavour).await,
        "embeddings" => embeddings::create(config, body, Some(&flavour)).await,
        _ => not_found(),
    }
}

/// Azure's own error shape: `{"error": {"code": "<status>", "message": …}}`.
fn azure_error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(json!({"error": {"code": status.to_string(), "message": message}}).to_string())
}

fn not_found() -> HttpResponse {
    azure_error(404, "Resource not found")
}

/// [`crate::Behaviour::Status`] on Azure: Azure answers rate limits and auth failures itself (with
/// `retry-after` on 429); everything else is the model service's OpenAI-shaped error.
pub fn status_error(status: u16) -> HttpResponse {
    match status {
        401 => azure_error(
            401,
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
        ),
        404 => not_found(),
        429 => {
            let mut resp = azure_error(
                429,
                &format!("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {DEFAULT_API_VERSION} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."),
            );
            resp.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("1"),
            );
            resp
        }
        s => openai::misbehaving_status(s),
    }
}

/// [`crate::Behaviour::AzureContentFilter`]: the prompt tripped the content filter.
pub fn content_filter_error() -> HttpResponse {
    let verdict =
        |filtered: bool, severity: &str| json!({"filtered": filtered, "severity": severity});
    HttpResponse::BadRequest()
        .content_type("application/json")
        .body(
            json!({"error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
                "type": null,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": {
                        "hate": verdict(true, "high"),
                        "jailbreak": {"filtered": false, "detected": false},
                        "self_harm": verdict(false, "safe"),
                        "sexual": verdict(false, "safe"),
                        "violence": verdict(false, "safe")
                    }
                }
            }})
            .to_string(),
        )
}

/// The four standard categories, none filtered.
pub fn safe_filter_results() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe})
}

/// The prompt's verdict, on non-streamed answers and in the first streamed chunk.
pub fn prompt_filter_results() -> Value {
    json!([{"prompt_index": 0, "content_filter_results": safe_filter_results()}])
}

/// The chunk Azure sends before any choice: empty `choices`, `id`, `model` and `object`.
pub fn prompt_filter_chunk() -> Value {
    json!({
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": prompt_filter_results()
    })
}
