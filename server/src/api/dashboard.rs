//! The dashboard, built into the binary from `dashboard/dist` (a local trunk build) or else the
//! shipped `dashboard/prebuilt/dist` (see `build.rs`): static files with their content types and
//! caching, and `index.html` for any other page path (client-side routes). A binary built
//! without either says on `/` how to build it instead of answering 404.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use crate::error::ApiError;

include!(concat!(env!("OUT_DIR"), "/embedded_dashboard.rs"));

const NOT_BUILT: &str = concat!(
    "api-proxy ",
    env!("CARGO_PKG_VERSION"),
    "\n\n",
    "OpenAI-compatible endpoint: /v1 (also /api/v1)\n",
    "Admin API: /api (Authorization: Bearer <admin token>)\n",
    "Health: /api/health\n\n",
    "This binary was built without the web dashboard. Build it with\n",
    "  ./scripts/install-tools.sh && ./scripts/build-dashboard.sh\n",
    "then rebuild api-proxy (./start.sh does all of this).\n"
);

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn find(path: &str) -> Option<&'static [u8]> {
    EMBEDDED_DASHBOARD
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, bytes)| *bytes)
}

/// Whether the built-in dashboard is present.
pub fn is_built() -> bool {
    find("index.html").is_some()
}

fn file_response(path: &str, bytes: &'static [u8]) -> HttpResponse {
    // Trunk names assets `name-<hash>.ext`, so they never change under one name.
    let cache = if path.ends_with(".html") {
        "no-cache"
    } else if path.rsplit('/').next().unwrap_or(path).contains('-') {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type(path)))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(bytes)
}

/// `GET /` and any page path that is not an API route.
pub async fn serve(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = req.path().trim_start_matches('/');
    if !is_built() {
        if path.is_empty() {
            return Ok(HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .body(NOT_BUILT));
        }
        return Err(ApiError::NotFound(format!("no route for GET /{path}")));
    }
    let path = if path.is_empty() { "index.html" } else { path };
    if let Some(bytes) = find(path) {
        return Ok(file_response(path, bytes));
    }
    // A client-side route (no file extension): the app itself.
    let last = path.rsplit('/').next().unwrap_or(path);
    match find("index.html") {
        Some(index) if !last.contains('.') => Ok(file_response("index.html", index)),
        _ => Err(ApiError::NotFound(format!("no file /{path}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type("app-1a2b.wasm"), "application/wasm");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }
}
