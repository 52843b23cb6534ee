//! The upstream request's target for a key: the URL (its dialect's), its provider's auth style
//! and headers, the secret decrypted here and nowhere earlier.

use actix_web::http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use shared::providers::AuthStyle;

use crate::crypto::KeyCipher;
use crate::error::ApiError;
use crate::routing::KeyProfile;
use crate::upstream::UpstreamTarget;

/// `url` comes from the key's upstream dialect ([`crate::adapters::UpstreamDialect::url`]).
pub fn upstream_target(
    profile: &KeyProfile,
    cipher: &KeyCipher,
    url: String,
) -> Result<UpstreamTarget, ApiError> {
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
