//! Reading a proxied request body ourselves, so that the content type (415), size limit (413)
//! and read timeout (408) give OpenAI-shaped errors and the bytes can be forwarded untouched.
//! A declared `Content-Length` is trusted for refusing early, never for allocating: the buffer
//! grows with what arrives.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::json_only::{is_json, media_type};
use crate::error::ApiError;

/// The most a body's buffer starts with, whatever `Content-Length` says: a client declaring
/// 20 MiB and sending one byte must not hold 20 MiB.
const MAX_INITIAL_CAPACITY: usize = 64 * 1024;

/// The buffer's first size for a body declared `declared` bytes long (at most `limit`).
fn initial_capacity(declared: Option<usize>, limit: usize) -> usize {
    declared
        .unwrap_or(1024)
        .min(limit)
        .min(MAX_INITIAL_CAPACITY)
}

/// The body, read within `timeout` (else 408).
pub async fn read_json_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(timeout, read_body(req, payload, limit)).await {
        Ok(body) => body,
        Err(_) => Err(ApiError::RequestTimeout(format!(
            "the request body did not arrive within {} ms",
            timeout.as_millis()
        ))),
    }
}

async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    // The route group already refused a body that is not declared JSON; a declared type that is
    // not JSON is refused here too, whatever the route.
    if let Some(essence) = media_type(req.headers()).filter(|m| !is_json(m)) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/json, not {:?}",
            essence.to_ascii_lowercase()
        )));
    }
    let too_large =
        || ApiError::PayloadTooLarge(format!("the request body is larger than {limit} bytes"));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(initial_capacity(declared, limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_length_is_not_allocated_up_front() {
        let limit = 20 * 1024 * 1024;
        assert_eq!(initial_capacity(Some(limit), limit), MAX_INITIAL_CAPACITY);
        assert_eq!(
            initial_capacity(Some(usize::MAX), limit),
            MAX_INITIAL_CAPACITY
        );
        assert_eq!(initial_capacity(Some(300), limit), 300);
        assert_eq!(initial_capacity(None, limit), 1024);
        assert_eq!(initial_capacity(Some(5000), 100), 100);
    }
}
