//! Who may call: the admin token for `/api`, client keys for `/v1` (when required).

use std::future::{ready, Ready};
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::auth_throttle::PeerId;
use crate::client_limits::ClientKey;
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::state::AppState;

pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Anthropic's clients send their key as `x-api-key`.
fn x_api_key(req: &HttpRequest) -> Option<&str> {
    req.headers().get("x-api-key")?.to_str().ok().map(str::trim)
}

fn app_state(req: &HttpRequest) -> Result<&AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref())
        .ok_or_else(|| ApiError::Internal("application state missing".into()))
}

/// Runs an admin credential check under the per-peer throttle of failed authentications: a
/// blocked peer gets 429 before its credential is even looked at, and a failed check counts.
pub fn throttled(
    req: &HttpRequest,
    state: &AppState,
    check: impl FnOnce() -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let peer = PeerId::of(req.peer_addr().map(|a| a.ip()));
    let now = state.clock.now_ms();
    state
        .auth_throttle
        .check(peer, now)
        .map_err(|retry_after_secs| ApiError::AuthThrottled { retry_after_secs })?;
    check().inspect_err(|_| state.auth_throttle.record_failure(peer, now))
}

/// Checks the admin token from the `Authorization` header, in constant time, under the throttle.
pub fn check_admin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    throttled(req, state, || match bearer(req) {
        Some(token) if state.admin_token.matches(token) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("invalid admin token".into())),
        None => Err(ApiError::Unauthorized(
            "missing admin token: send Authorization: Bearer <admin token>".into(),
        )),
    })
}

/// Proof that the request carries the admin token (compared in constant time).
pub struct AdminAuth;

impl FromRequest for AdminAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(app_state(req).and_then(|state| check_admin(req, state).map(|()| AdminAuth)))
    }
}

/// Headers a forwarder (nginx, Caddy, cloudflared, ngrok, a load balancer) adds: a request
/// carrying one came from somewhere else, whatever its peer address says. (A TCP-level forwarder
/// such as `ssh -R` adds none: behind one, set `REQUIRE_CLIENT_KEYS=true`.)
const FORWARDING_HEADERS: [header::HeaderName; 8] = [
    header::FORWARDED,
    header::HeaderName::from_static("x-forwarded-for"),
    header::HeaderName::from_static("x-real-ip"),
    header::VIA,
    header::HeaderName::from_static("x-forwarded-host"),
    header::HeaderName::from_static("x-forwarded-proto"),
    header::HeaderName::from_static("cf-connecting-ip"),
    header::HeaderName::from_static("true-client-ip"),
];

/// Whether a `/v1` request may go without a client key: only when keys are not required for
/// every request, its peer is this machine, and no forwarder says it came from elsewhere. What
/// reaches a loopback listener through `ssh -R`, a tunnel or a reverse proxy is not local.
pub fn loopback_exempt(
    config: &ServerConfig,
    peer: Option<IpAddr>,
    headers: &header::HeaderMap,
) -> bool {
    !config.client_keys_required()
        && peer.is_some_and(is_loopback)
        && !FORWARDING_HEADERS.iter().any(|h| headers.contains_key(h))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The client key used, if any, sent as `Authorization: Bearer` or (Anthropic's clients)
/// `x-api-key`. A valid one must be sent unless the request is [exempt](loopback_exempt): on
/// this machine any token (or none) is accepted, since the seed promises "no real key needed"
/// for local tools.
pub struct ClientAuth(pub Option<Arc<ClientKey>>);

impl FromRequest for ClientAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(app_state(req).and_then(|state| {
            let known = bearer(req)
                .or_else(|| x_api_key(req))
                .and_then(|token| state.client_keys.by_secret(token));
            let peer = req.peer_addr().map(|a| a.ip());
            match known {
                Some(key) => {
                    key.check_usable(state.clock.now_ms())?;
                    Ok(ClientAuth(Some(key)))
                }
                None if loopback_exempt(&state.config, peer, req.headers()) => Ok(ClientAuth(None)),
                None => Err(ApiError::Unauthorized(
                    "a valid client key is required: create one with POST /api/client_keys and send it as Authorization: Bearer <key> (or x-api-key: <key>)".into(),
                )),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderMap, HeaderValue};

    fn config(pairs: &[(&str, &str)]) -> ServerConfig {
        ServerConfig::from_lookup(|k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
    }

    #[test]
    fn only_local_unforwarded_requests_are_exempt() {
        let local: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        let plain = HeaderMap::new();
        let c = config(&[]);
        assert!(loopback_exempt(&c, local, &plain));
        assert!(loopback_exempt(&c, Some("::1".parse().unwrap()), &plain));
        assert!(loopback_exempt(
            &c,
            Some("::ffff:127.0.0.1".parse().unwrap()),
            &plain
        ));
        assert!(!loopback_exempt(
            &c,
            Some("192.168.1.7".parse().unwrap()),
            &plain
        ));
        assert!(!loopback_exempt(&c, None, &plain));
        for name in [
            "forwarded",
            "x-forwarded-for",
            "x-real-ip",
            "via",
            "x-forwarded-host",
            "x-forwarded-proto",
            "cf-connecting-ip",
            "true-client-ip",
        ] {
            let mut forwarded = HeaderMap::new();
            forwarded.insert(
                header::HeaderName::from_static(name),
                HeaderValue::from_static("203.0.113.9"),
            );
            assert!(!loopback_exempt(&c, local, &forwarded), "{name}");
        }
        for opened in [
            ("ALLOWED_HOSTS", "proxy.lan"),
            ("CORS_ORIGINS", "http://localhost:5173"),
            ("REQUIRE_CLIENT_KEYS", "true"),
            ("HOST", "0.0.0.0"),
        ] {
            assert!(
                !loopback_exempt(&config(&[opened]), local, &plain),
                "{opened:?}"
            );
        }
    }
}
