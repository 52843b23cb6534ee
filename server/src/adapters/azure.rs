//! Azure OpenAI: OpenAI's body format at a deployment-scoped URL with an `api-version` query.

/// Used when the key does not name one.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// `{base}/openai/deployments/{deployment}/{operation}?api-version={version}`.
pub fn deployment_url(
    base_url: &str,
    deployment: &str,
    operation: &str,
    api_version: Option<&str>,
) -> String {
    format!(
        "{}/openai/deployments/{}/{operation}?api-version={}",
        base_url.trim_end_matches('/'),
        encode_segment(deployment),
        encode_segment(api_version.unwrap_or(DEFAULT_API_VERSION)),
    )
}

fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_deployment_urls() {
        assert_eq!(
            deployment_url("https://r.openai.azure.com/", "my gpt", "chat/completions", Some("2025-01-01-preview")),
            "https://r.openai.azure.com/openai/deployments/my%20gpt/chat/completions?api-version=2025-01-01-preview"
        );
        assert!(deployment_url("https://r", "d", "chat/completions", None)
            .ends_with("api-version=2024-10-21"));
    }
}
