//! Azure OpenAI: OpenAI's body format at a deployment-scoped URL with an `api-version` query.
//! Everything but the URL is the OpenAI dialect's.

use actix_web::http::StatusCode;
use shared::providers::ProviderSpec;

use super::canonical::{self, Failure};
use super::openai::{self, OPENAI_UPSTREAM};
use super::{
    AdapterError, EventParser, InvalidResponse, RenderContext, UpstreamContext, UpstreamDialect,
    Wire,
};
use crate::routing::{KeyProfile, Signal};

/// Keys of Azure OpenAI resources.
pub struct AzureUpstream;

pub static AZURE_UPSTREAM: AzureUpstream = AzureUpstream;

impl UpstreamDialect for AzureUpstream {
    /// Chat and embeddings. Azure serves the Responses API at `/openai/v1/responses` with the
    /// deployment as `model`, not at a deployment URL, so Responses calls are translated to the
    /// deployment's chat completions.
    fn native_operation(&self, wire: Wire, _provider: &ProviderSpec) -> Option<&'static str> {
        openai::native_operation(wire)
    }

    fn operation(&self) -> &'static str {
        openai::CHAT_OPERATION
    }

    fn build_request(
        &self,
        request: &canonical::Request,
        context: &UpstreamContext<'_>,
    ) -> Result<Vec<u8>, AdapterError> {
        OPENAI_UPSTREAM.build_request(request, context)
    }

    fn parse_response(&self, body: &[u8]) -> Result<canonical::Response, InvalidResponse> {
        OPENAI_UPSTREAM.parse_response(body)
    }

    fn stream_parser(&self, context: &RenderContext) -> Box<dyn EventParser> {
        OPENAI_UPSTREAM.stream_parser(context)
    }

    fn parse_failure(&self, status: StatusCode, body: &[u8]) -> Failure {
        OPENAI_UPSTREAM.parse_failure(status, body)
    }

    fn classify_failure(&self, status: StatusCode, body: &[u8], retry_at: Option<i64>) -> Signal {
        OPENAI_UPSTREAM.classify_failure(status, body, retry_at)
    }

    /// The key's deployment for `model` (its own name when none is mapped).
    fn url(&self, profile: &KeyProfile, model: &str, operation: &str) -> String {
        let deployment = profile
            .azure_deployments
            .get(model)
            .map_or(model, String::as_str);
        deployment_url(
            &profile.base_url,
            deployment,
            operation,
            profile.azure_api_version.as_deref(),
        )
    }
}

/// Used when the key does not name one.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// `{base}/openai/deployments/{deployment}/{operation}?api-version={version}`.
pub fn deployment_url(
    base_url: &str,
    deployment: &str,
    operation: &str,
    api_version: Option<&str>,
) -> String {
    format!(
        "{}/openai/deployments/{}/{operation}?api-version={}",
        base_url.trim_end_matches('/'),
        encode_segment(deployment),
        encode_segment(api_version.unwrap_or(DEFAULT_API_VERSION)),
    )
}

fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_deployment_urls() {
        assert_eq!(
            deployment_url("https://r.openai.azure.com/", "my gpt", "chat/completions", Some("2025-01-01-preview")),
            "https://r.openai.azure.com/openai/deployments/my%20gpt/chat/completions?api-version=2025-01-01-preview"
        );
        assert!(deployment_url("https://r", "d", "chat/completions", None)
            .ends_with("api-version=2024-10-21"));
    }
}
