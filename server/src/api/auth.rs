//! Who may call: the admin token for `/api`, client keys for `/v1` (when required).

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use crate::crypto::sha256_hex;
use crate::error::ApiError;
use crate::state::AppState;

fn bearer(req: &HttpRequest) -> Option<&str> {
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

/// Checks the admin token from the `Authorization` header, or `fallback` (the websocket's
/// `?token=`), in constant time.
pub fn check_admin(
    req: &HttpRequest,
    state: &AppState,
    fallback: Option<&str>,
) -> Result<(), ApiError> {
    match bearer(req).or(fallback) {
        Some(token) if state.admin_token.matches(token) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("invalid admin token".into())),
        None => Err(ApiError::Unauthorized(
            "missing admin token: send Authorization: Bearer <admin token>".into(),
        )),
    }
}

/// Proof that the request carries the admin token (compared in constant time).
pub struct AdminAuth;

impl FromRequest for AdminAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(app_state(req).and_then(|state| check_admin(req, state, None).map(|()| AdminAuth)))
    }
}

/// The client key used, if any, sent as `Authorization: Bearer` or (Anthropic's clients)
/// `x-api-key`. When client keys are required a valid one must be sent; on loopback any token
/// (or none) is accepted, since the seed promises "no real key needed".
pub struct ClientAuth(pub Option<i32>);

impl FromRequest for ClientAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(app_state(req).and_then(|state| {
            let known = bearer(req)
                .or_else(|| x_api_key(req))
                .and_then(|token| state.client_keys.get(&sha256_hex(token)).map(|id| *id));
            match known {
                Some(id) => Ok(ClientAuth(Some(id))),
                None if !state.config.client_keys_required() => Ok(ClientAuth(None)),
                None => Err(ApiError::Unauthorized(
                    "a valid client key is required: create one with POST /api/client_keys and send it as Authorization: Bearer <key> (or x-api-key: <key>)".into(),
                )),
            }
        }))
    }
}
