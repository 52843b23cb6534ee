//! The proxy routes and the admin API take JSON bodies only: a request that carries a body must
//! say `Content-Type: application/json` (or another `+json` type), else 415 before anything is
//! read. A property of the route groups (`/v1`, `/api`), not of each handler, so every route
//! added to them later has it too.
//!
//! Why: a web page can send a cross-site request without a CORS preflight only with a "simple"
//! content type (`text/plain`, the form encodings) or none at all (`fetch(url, {mode:
//! 'no-cors', body: new Blob([json])})`). Requiring JSON makes every such request fail here,
//! whatever `Origin` it carries, so a page cannot spend the keys behind the loopback exemption.

use std::future::{ready, Ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderMap};
use actix_web::{Error, ResponseError};
use futures_util::future::{Either, MapOk};
use futures_util::TryFutureExt as _;

use crate::error::ApiError;

/// Whether the request says it carries a body: a non-zero `Content-Length`, or any
/// `Transfer-Encoding` (chunked bodies have no length up front).
pub fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .map(|v| v.as_bytes().trim_ascii());
    headers.contains_key(header::TRANSFER_ENCODING) || length.is_some_and(|l| l != b"0")
}

/// The media type of `Content-Type` (parameters removed, as sent), if there is one.
pub fn media_type(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().unwrap_or("");
    Some(value.split(';').next().unwrap_or("").trim())
}

/// `application/json` or any `+json` type, in any case.
pub fn is_json(media_type: &str) -> bool {
    const SUFFIX: &str = "+json";
    media_type.eq_ignore_ascii_case("application/json")
        || media_type
            .len()
            .checked_sub(SUFFIX.len())
            .and_then(|start| media_type.get(start..))
            .is_some_and(|end| end.eq_ignore_ascii_case(SUFFIX))
}

/// Why a request with these headers is refused, if it is.
pub fn refusal(headers: &HeaderMap) -> Option<ApiError> {
    if !has_body(headers) {
        return None;
    }
    match media_type(headers) {
        Some(m) if is_json(m) => None,
        Some(m) => Some(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/json, not {:?}",
            m.to_ascii_lowercase()
        ))),
        None => Some(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json (the request has a body but no Content-Type)"
                .into(),
        )),
    }
}

/// The middleware, for `.wrap(RequireJson)` on a route group. Written out rather than with
/// `from_fn`, whose boxed future would cost every proxied call an allocation.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequireJson;

impl<S, B> Transform<S, ServiceRequest> for RequireJson
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireJsonService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireJsonService { service }))
    }
}

pub struct RequireJsonService<S> {
    service: S,
}

type Passed<B> = fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>;

impl<S, B> Service<ServiceRequest> for RequireJsonService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future =
        Either<MapOk<S::Future, Passed<B>>, Ready<Result<ServiceResponse<EitherBody<B>>, Error>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        match refusal(req.headers()) {
            Some(error) => {
                // The Messages surface speaks Anthropic's error shape, refusals included.
                let response = if super::messages::is_messages_path(req.path()) {
                    error.response_for(&crate::adapters::anthropic::MESSAGES)
                } else {
                    error.error_response()
                };
                Either::Right(ready(Ok(req.into_response(response).map_into_right_body())))
            }
            None => {
                let passed: Passed<B> = ServiceResponse::map_into_left_body;
                Either::Left(self.service.call(req).map_ok(passed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    #[test]
    fn bodies_must_be_declared_json() {
        let refused = |pairs| refusal(&headers(pairs)).is_some();
        // What a page can send without a preflight.
        assert!(
            refused(&[("content-length", "42")]),
            "a Blob without a type"
        );
        assert!(refused(&[
            ("content-length", "42"),
            ("content-type", "text/plain;charset=UTF-8")
        ]));
        assert!(refused(&[
            ("transfer-encoding", "chunked"),
            ("content-type", "application/x-www-form-urlencoded")
        ]));
        assert!(refused(&[
            ("content-length", "9"),
            ("content-type", "multipart/form-data; boundary=x")
        ]));
        // JSON, and requests without a body.
        assert!(!refused(&[
            ("content-length", "42"),
            ("content-type", "application/json")
        ]));
        assert!(!refused(&[
            ("content-length", "42"),
            ("content-type", "Application/JSON; charset=utf-8")
        ]));
        assert!(!refused(&[
            ("content-length", "42"),
            ("content-type", "application/merge-patch+json")
        ]));
        assert!(!refused(&[]));
        assert!(!refused(&[("content-length", "0")]));
        assert!(is_json("application/vnd.api+JSON"));
        assert!(!is_json("json") && !is_json("application/jsonp"));
    }
}
