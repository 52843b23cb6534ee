//! Reading a proxied request body ourselves, so that the content type (415) and size limit (413)
//! give OpenAI-shaped errors and the bytes can be forwarded untouched.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::json_only::{is_json, media_type};
use crate::error::ApiError;

pub async fn read_json_body(
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
    let mut body = BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
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
