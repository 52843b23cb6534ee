//! The upstream URL and headers for a key: its provider's endpoint and auth style, the secret
//! decrypted here and nowhere earlier.

use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use shared::providers::{AuthStyle, ProviderFormat};

use crate::adapters::azure;
use crate::crypto::KeyCipher;
use crate::error::ApiError;
use crate::routing::KeyProfile;
use crate::upstream::UpstreamTarget;

/// `operation` is the OpenAI path below the base URL, e.g. `chat/completions`.
pub fn upstream_target(
    profile: &KeyProfile,
    cipher: &KeyCipher,
    model: &str,
    operation: &str,
) -> Result<UpstreamTarget, ApiError> {
    let url = match profile.format() {
        ProviderFormat::Azure => {
            let deployment = profile
                .azure_deployments
                .get(model)
                .map_or(model, String::as_str);
            azure::deployment_url(
                &profile.base_url,
                deployment,
                operation,
                profile.azure_api_version.as_deref(),
            )
        }
        ProviderFormat::Openai | ProviderFormat::Anthropic => {
            // Built by hand: `format!` is a measurable share of a call at this point.
            let mut url = String::with_capacity(profile.base_url.len() + 1 + operation.len());
            url.push_str(&profile.base_url);
            url.push('/');
            url.push_str(operation);
            url
        }
    };
    let secret = cipher
        .open_secret(&profile.sealed_secret, &profile.secret_aad)
        .map_err(|e| ApiError::Internal(format!("key {}: {e}", profile.id)))?;
    let (name, value) = match profile.provider.spec.auth {
        AuthStyle::Bearer => (AUTHORIZATION, ["Bearer ", secret.expose()].concat()),
        AuthStyle::XApiKey => (
            HeaderName::from_static("x-api-key"),
            secret.expose().to_owned(),
        ),
        AuthStyle::ApiKey => (
            HeaderName::from_static("api-key"),
            secret.expose().to_owned(),
        ),
    };
    let mut auth = HeaderValue::from_str(&value).map_err(|_| {
        ApiError::Internal(format!("key {} is not a valid header value", profile.id))
    })?;
    auth.set_sensitive(true);
    let mut headers = Vec::with_capacity(1 + profile.provider.spec.headers.len());
    headers.push((name, auth));
    for (name, value) in &profile.provider.spec.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.push((n, v));
        }
    }
    Ok(UpstreamTarget {
        url,
        headers,
        secret,
    })
}
