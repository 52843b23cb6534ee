//! Cross-site protection for every route: a request whose `Host` is not one of the server's own
//! names (DNS rebinding), whose `Origin` is foreign (`null` included: sandboxed frames, `file:`
//! pages and some redirects send it), or that the browser marks as coming from another site
//! (`Sec-Fetch-Site`, which browsers send even where they send no `Origin`) gets 403. Browsers on
//! other sites therefore cannot drive the admin API or spend the keys; CORS stays off unless
//! `CORS_ORIGINS` lists them. The proxy routes and admin writes also take JSON only (see
//! [`super::json_only`]), so even a request that slipped past these checks could not be one a
//! page sends without a CORS preflight.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::state::AppState;

/// The host part of a `Host` header or an origin's authority (port and brackets removed).
fn host_only(authority: &str) -> &str {
    let authority = authority.trim();
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

pub fn host_allowed(config: &ServerConfig, host_header: &str) -> bool {
    let host = host_only(host_header);
    if config
        .allowed_hosts
        .iter()
        .any(|h| h == "*" || h.eq_ignore_ascii_case(host))
    {
        return true;
    }
    if ["localhost", "127.0.0.1", "::1"]
        .iter()
        .any(|name| name.eq_ignore_ascii_case(host))
        || host.eq_ignore_ascii_case(&config.host)
    {
        return true;
    }
    // Bound to every interface (e.g. in Docker): any IP address is a name of this server.
    let unspecified = config
        .host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    unspecified && host.parse::<std::net::IpAddr>().is_ok()
}

/// Same-origin: the origin's authority is the request's `Host`; or it is listed in `CORS_ORIGINS`.
/// The opaque origin `null` is never the server's own, and `*` does not cover it: only a
/// `CORS_ORIGINS` entry of exactly `null` admits it.
pub fn origin_allowed(config: &ServerConfig, origin: &str, host_header: Option<&str>) -> bool {
    if origin == "null" {
        return config.cors_origins.iter().any(|o| o == "null");
    }
    if config
        .cors_origins
        .iter()
        .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    host_header.is_some_and(|h| h.eq_ignore_ascii_case(authority))
}

/// Whether the browser's `Sec-Fetch-*` headers mark a request from another site (or another
/// port of this host: `same-site`) that no allowed `Origin` vouches for. A top-level navigation
/// (`GET`/`HEAD` with `Sec-Fetch-Mode: navigate`: a link to the dashboard followed from another
/// site) is let through: its answer is shown to the user, never to the page that linked.
pub fn foreign_fetch(
    method: &Method,
    fetch_site: Option<&str>,
    fetch_mode: Option<&str>,
    origin_ok: bool,
) -> bool {
    let foreign = fetch_site.is_some_and(|site| {
        site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site")
    });
    let navigation = (method == Method::GET || method == Method::HEAD)
        && fetch_mode.is_some_and(|m| m.eq_ignore_ascii_case("navigate"));
    foreign && !origin_ok && !navigation
}

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");

/// Request headers larger than this in total are refused (431).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

pub async fn check_host_and_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let verdict = match req.app_data::<web::Data<AppState>>() {
        None => None,
        Some(state) => {
            let config = &state.config;
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok());
            // By `HeaderName`: looking a non-standard name up by `&str` allocates it each time.
            let text = |name: &HeaderName| req.headers().get(name).and_then(|h| h.to_str().ok());
            let origin = text(&header::ORIGIN);
            let origin_ok = origin.is_some_and(|o| origin_allowed(config, o, host));
            let header_bytes: usize = req
                .headers()
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len())
                .sum();
            if header_bytes > MAX_HEADER_BYTES {
                Some(ApiError::HeadersTooLarge(format!(
                    "request headers total {header_bytes} bytes; the limit is {MAX_HEADER_BYTES}"
                )))
            } else if host.is_some_and(|h| !host_allowed(config, h)) {
                Some(ApiError::Forbidden(
                    "this Host is not one of api-proxy's names (set ALLOWED_HOSTS to add it)"
                        .into(),
                ))
            } else if (origin.is_some() && !origin_ok)
                || foreign_fetch(
                    req.method(),
                    text(&SEC_FETCH_SITE),
                    text(&SEC_FETCH_MODE),
                    origin_ok,
                )
            {
                Some(ApiError::Forbidden(
                    "cross-site requests are refused (set CORS_ORIGINS to allow an origin)".into(),
                ))
            } else {
                None
            }
        }
    };
    match verdict {
        Some(error) => {
            let response = error.error_response();
            Ok(req.into_response(response).map_into_right_body())
        }
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(host: &str, allowed: &[&str]) -> ServerConfig {
        let mut c = ServerConfig::from_lookup(|_| None).unwrap();
        c.host = host.into();
        c.allowed_hosts = allowed.iter().map(|s| s.to_string()).collect();
        c
    }

    #[test]
    fn loopback_names_pass_and_rebinding_names_fail() {
        let c = config("127.0.0.1", &[]);
        assert!(host_allowed(&c, "127.0.0.1:3000"));
        assert!(host_allowed(&c, "localhost:3000"));
        assert!(host_allowed(&c, "[::1]:3000"));
        assert!(!host_allowed(&c, "evil.example:3000"));
        assert!(host_allowed(
            &config("127.0.0.1", &["proxy.lan"]),
            "proxy.lan:3000"
        ));
        assert!(host_allowed(&config("0.0.0.0", &[]), "192.168.1.5:3000"));
        assert!(!host_allowed(&config("0.0.0.0", &[]), "evil.example"));
    }

    #[test]
    fn only_same_origin_passes() {
        let c = config("127.0.0.1", &[]);
        assert!(origin_allowed(
            &c,
            "http://127.0.0.1:3000",
            Some("127.0.0.1:3000")
        ));
        assert!(!origin_allowed(
            &c,
            "http://evil.example",
            Some("127.0.0.1:3000")
        ));
        let mut c = c;
        c.cors_origins = vec!["http://localhost:5173".into()];
        assert!(origin_allowed(
            &c,
            "http://localhost:5173",
            Some("127.0.0.1:3000")
        ));
    }

    #[test]
    fn the_opaque_origin_is_never_same_origin() {
        let mut c = config("127.0.0.1", &[]);
        assert!(!origin_allowed(&c, "null", Some("127.0.0.1:3000")));
        assert!(
            !origin_allowed(&c, "null", Some("null")),
            "not even as a Host"
        );
        c.cors_origins = vec!["*".into()];
        assert!(!origin_allowed(&c, "null", Some("127.0.0.1:3000")));
        c.cors_origins = vec!["null".into()];
        assert!(origin_allowed(&c, "null", Some("127.0.0.1:3000")));
    }

    #[test]
    fn fetches_from_other_sites_are_foreign_unless_their_origin_is_allowed() {
        let post = Method::POST;
        for site in ["cross-site", "same-site"] {
            assert!(
                foreign_fetch(&post, Some(site), Some("no-cors"), false),
                "{site}"
            );
            assert!(
                !foreign_fetch(&post, Some(site), Some("cors"), true),
                "{site}: allowed"
            );
            // A followed link opens the dashboard; a POST form is no navigation that is let in.
            assert!(!foreign_fetch(
                &Method::GET,
                Some(site),
                Some("navigate"),
                false
            ));
            assert!(foreign_fetch(&post, Some(site), Some("navigate"), false));
        }
        for site in [Some("same-origin"), Some("none"), None] {
            assert!(!foreign_fetch(&post, site, Some("cors"), false), "{site:?}");
        }
    }
}
