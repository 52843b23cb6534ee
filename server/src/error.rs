//! `ApiError`: the one place errors become HTTP. Every error body is OpenAI-shaped,
//! `{"error":{"message","type","param","code"}}`, so every client needs one parser. What the
//! client sees is separate from what is logged: internal details are logged, never returned.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use bytes::Bytes;
use serde::Serialize;

use crate::adapters::AdapterError;
use crate::client_limits::LimitError;
use crate::db::{DbError, StorageFault};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        message: String,
        param: Option<String>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("The model `{0}` does not exist or you do not have access to it.")]
    ModelNotFound(String),
    #[error("method {method} is not allowed here; allowed: {allow}")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    HeadersTooLarge(String),
    /// The client did not send its whole body in time (`CLIENT_BODY_TIMEOUT_MS`).
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    NoKeyAvailable(String),
    /// Too many failed admin authentications from this peer; it may try again after this long.
    #[error("too many failed authentications from this address; retry in {retry_after_secs} s")]
    AuthThrottled { retry_after_secs: u64 },
    /// Every key that could serve is rate-limited; the earliest recovers after this long.
    #[error("every key that can serve this model is rate-limited; retry in {retry_after_secs} s")]
    AllKeysThrottled { retry_after_secs: u64 },
    #[error("{0}")]
    UpstreamTimeout(String),
    #[error("{0}")]
    UpstreamConnect(String),
    /// The upstream answered, but not with something usable (truncated, not JSON...).
    #[error("{0}")]
    UpstreamInvalid(String),
    /// A key stored in api-proxy was rejected by its provider (401/403) and no other key served:
    /// not the client's credentials, so not a 401. The message names the key and what else
    /// was tried.
    #[error("{0}")]
    UpstreamKeyRejected(String),
    /// The upstream answered with an error; `body` is already in the client's dialect.
    #[error("upstream returned {status}")]
    Upstream { status: StatusCode, body: Bytes },
    /// A client key's own limits refuse the call (see [`LimitError::status`]).
    #[error(transparent)]
    ClientLimit(#[from] LimitError),
    /// A change could not be saved: the database is read-only, locked or on a full disk.
    #[error("{}", .0.explain())]
    Storage(StorageFault),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            param: None,
        }
    }

    fn kind(&self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::BadRequest { .. } => ("invalid_request_error", None),
            Self::Unauthorized(_) => ("authentication_error", Some("invalid_api_key")),
            Self::Forbidden(_) => ("permission_error", Some("forbidden")),
            Self::NotFound(_) => ("invalid_request_error", Some("not_found")),
            Self::ModelNotFound(_) => ("invalid_request_error", Some("model_not_found")),
            Self::MethodNotAllowed { .. } => ("invalid_request_error", Some("method_not_allowed")),
            Self::PayloadTooLarge(_) => ("invalid_request_error", Some("request_too_large")),
            Self::HeadersTooLarge(_) => ("invalid_request_error", Some("headers_too_large")),
            Self::RequestTimeout(_) => ("invalid_request_error", Some("request_timeout")),
            Self::UnsupportedMediaType(_) => {
                ("invalid_request_error", Some("unsupported_media_type"))
            }
            Self::NoKeyAvailable(_) => ("service_unavailable", Some("no_available_key")),
            Self::AllKeysThrottled { .. } => ("rate_limit_error", Some("all_keys_rate_limited")),
            Self::AuthThrottled { .. } => {
                ("rate_limit_error", Some("too_many_failed_authentications"))
            }
            Self::UpstreamTimeout(_) => ("timeout", Some("upstream_timeout")),
            Self::UpstreamConnect(_) => ("api_error", Some("upstream_unreachable")),
            Self::UpstreamInvalid(_) => ("api_error", Some("upstream_invalid_response")),
            Self::UpstreamKeyRejected(_) => ("api_error", Some("upstream_key_rejected")),
            Self::Upstream { .. } => ("api_error", None),
            Self::ClientLimit(limit) => {
                let (kind, code) = limit.kind();
                (kind, Some(code))
            }
            Self::Storage(fault) => ("service_unavailable", Some(fault.code())),
            Self::Internal(_) => ("server_error", Some("internal_error")),
        }
    }

    /// What the client is told (internal details stay in the log).
    pub fn client_message(&self) -> String {
        match self {
            Self::Internal(_) => {
                "The server had an error while processing your request.".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The OpenAI-shaped body for this error. (A client dialect with another shape renders it
    /// through [`crate::adapters::ClientDialect::render_error`]; see [`ApiError::response_for`].)
    pub fn body(&self) -> Bytes {
        if let Self::Upstream { body, .. } = self {
            return body.clone();
        }
        let (kind, code) = self.kind();
        let param = match self {
            Self::BadRequest { param, .. } => param.as_deref(),
            Self::ModelNotFound(_) | Self::ClientLimit(LimitError::Model { .. }) => Some("model"),
            _ => None,
        };
        error_body(&self.client_message(), kind, param, code)
    }

    /// This error's response for a client of `dialect`: the dialect's status and body, with the
    /// headers every dialect's clients need (`Retry-After`, `WWW-Authenticate`, `Allow`).
    pub fn response_for(&self, dialect: &dyn crate::adapters::ClientDialect) -> HttpResponse {
        let mut response = self.error_response();
        let (status, body) = dialect.render_error(self);
        *response.status_mut() = status;
        response.set_body(actix_web::body::BoxBody::new(body))
    }
}

/// Every error body: OpenAI's error shape, whichever endpoint answered.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": {
    "message": "no key with id 7", "type": "invalid_request_error", "param": null, "code": "not_found"
}}))]
pub struct ErrorEnvelope<'a> {
    error: ErrorDetail<'a>,
}

/// `param` and `code` are always present in api-proxy's own errors but may be missing from an
/// upstream's error relayed as it came, so they are not required.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// What went wrong, for people.
    message: &'a str,
    /// The error's class, e.g. `invalid_request_error`, `authentication_error`, `api_error`.
    #[serde(rename = "type")]
    kind: &'a str,
    /// The request parameter at fault, if one is.
    param: Option<&'a str>,
    /// A stable machine-readable code, e.g. `invalid_api_key`, `model_not_found`, `no_available_key`.
    code: Option<&'a str>,
}

/// `{"error":{"message","type","param","code"}}`.
pub fn error_body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Bytes {
    serde_json::to_vec(&ErrorEnvelope {
        error: ErrorDetail {
            message,
            kind,
            param,
            code,
        },
    })
    .expect("error envelope serialises")
    .into()
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::ModelNotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NoKeyAvailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::AllKeysThrottled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::AuthThrottled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::UpstreamConnect(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamInvalid(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamKeyRejected(_) => StatusCode::BAD_GATEWAY,
            Self::Upstream { status, .. } => *status,
            Self::ClientLimit(limit) => limit.status(),
            Self::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            Self::Storage(fault) => {
                tracing::warn!(fault = fault.label(), "a change could not be saved")
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/json"));
        if matches!(
            self,
            Self::Unauthorized(_)
                | Self::ClientLimit(
                    LimitError::Expired { .. }
                        | LimitError::Revoked { .. }
                        | LimitError::Disabled { .. }
                )
        ) {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Self::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, *allow));
        }
        if let Self::AllKeysThrottled { retry_after_secs }
        | Self::AuthThrottled { retry_after_secs } = self
        {
            response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if let Self::ClientLimit(limit) = self {
            if let Some(secs) = limit.retry_after_secs() {
                response.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            for (name, value) in limit.rate_headers().into_iter().flat_map(|h| h.pairs()) {
                response.insert_header((name, value));
            }
        }
        if let Self::Storage(StorageFault::Busy) = self {
            // A lock held by another process is usually gone within seconds.
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.body(self.body())
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match StorageFault::of(&e) {
            Some(fault) => Self::Storage(fault),
            None => Self::Internal(e.to_string()),
        }
    }
}

impl From<AdapterError> for ApiError {
    fn from(e: AdapterError) -> Self {
        Self::BadRequest {
            message: e.message,
            param: e.param.map(str::to_owned),
        }
    }
}

/// JSON bodies for extractor failures (bad JSON, bad query, bad path), never actix's plain text.
pub fn json_extractor_error(err: actix_web::error::JsonPayloadError) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => {
            ApiError::PayloadTooLarge(err.to_string())
        }
        E::ContentType => {
            ApiError::UnsupportedMediaType("Content-Type must be application/json".into())
        }
        _ => ApiError::bad_request(format!("invalid JSON body: {err}")),
    };
    api.into()
}

pub fn query_extractor_error(err: actix_web::error::QueryPayloadError) -> actix_web::Error {
    ApiError::bad_request(format!("invalid query string: {err}")).into()
}

pub fn path_extractor_error(err: actix_web::error::PathError) -> actix_web::Error {
    ApiError::NotFound(format!("invalid path: {err}")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_are_not_returned() {
        let err = ApiError::Internal("disk I/O error at /secret/path".into());
        let body: serde_json::Value = serde_json::from_slice(&err.body()).unwrap();
        assert!(!body.to_string().contains("/secret/path"));
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn model_not_found_is_openai_shaped() {
        let err = ApiError::ModelNotFound("gpt-9".into());
        let body: serde_json::Value = serde_json::from_slice(&err.body()).unwrap();
        assert_eq!(body["error"]["code"], "model_not_found");
        assert_eq!(body["error"]["param"], "model");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(err.status_code(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn storage_faults_are_a_clear_503() {
        let busy = DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new("database is locked".to_owned()),
        ));
        let err = ApiError::from(busy);
        assert_eq!(err.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        let response = err.error_response();
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "1");
        let body: serde_json::Value = serde_json::from_slice(&err.body()).unwrap();
        assert_eq!(body["error"]["code"], "database_busy");
        assert_eq!(body["error"]["type"], "service_unavailable");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("locked by another process"));

        let err = ApiError::Storage(StorageFault::ReadOnly);
        let body: serde_json::Value = serde_json::from_slice(&err.body()).unwrap();
        assert_eq!(body["error"]["code"], "database_read_only");
        assert!(err
            .error_response()
            .headers()
            .get(header::RETRY_AFTER)
            .is_none());
        // Any other database failure stays an internal error, its details kept out of the body.
        let other = ApiError::from(DbError::Corrupt("row 7 at /data/x.db".into()));
        assert_eq!(other.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
