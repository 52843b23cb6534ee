//! What a base URL must be for the upstream paths to be appended to it, for a key's `base_url`
//! and a provider file's alike: checked when it is saved or loaded, so a typo is an error that
//! names the field instead of an upstream that fails every call.

/// Why `url` (without a trailing `/`) is not an `http(s)://host[:port][/path]`, if it is not.
pub fn base_url_problem(url: &str) -> Option<&'static str> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Some("must be an http:// or https:// URL");
    }
    if url.contains(char::is_whitespace) || url.contains(['?', '#']) {
        return Some("must not contain spaces, a query or a fragment");
    }
    // Parsed as the upstream call will be: base URL plus an endpoint path.
    let Ok(uri) = format!("{url}/chat/completions").parse::<actix_web::http::Uri>() else {
        return Some("is not a valid URL");
    };
    match uri.authority() {
        None => Some("has no host"),
        Some(a) if a.host().is_empty() || a.host() == "[]" => Some("has no host"),
        // Credentials in the URL would be shown wherever the settings are.
        Some(a) if a.as_str().contains('@') => {
            Some("must not contain credentials; put the secret in api_key")
        }
        Some(a) if !valid_port(a.as_str()) => Some("has an invalid port"),
        Some(_) => None,
    }
}

/// Whether the port after the host, if there is one, is 1–65535 (`Authority::port` is silently
/// `None` for one that is not a u16).
fn valid_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        Some((_, port)) if !port.contains(']') => port.parse::<u16>().is_ok_and(|p| p != 0),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::base_url_problem;

    #[test]
    fn only_http_urls_with_a_host_and_a_valid_port_pass() {
        for bad in [
            "ftp://x",
            "http://[",
            "http://",
            "https://:443",
            "http://h:99999",
            "http://h:port",
            "http://h/v1?x=1",
            "http://h/v1#f",
            "http://h /v1",
        ] {
            assert!(base_url_problem(bad).is_some(), "{bad} was accepted");
        }
        assert_eq!(
            base_url_problem("http://user:pw@h"),
            Some("must not contain credentials; put the secret in api_key")
        );
        for good in [
            "http://127.0.0.1:8080",
            "https://[::1]:9/v1",
            "https://api.x.ai/v1",
        ] {
            assert_eq!(base_url_problem(good), None, "{good} was refused");
        }
    }
}
