//! Model equivalents from `configs/model_aliases.json`: when no key serves the requested model, a
//! key serving its equivalent may answer (e.g. `gpt-4o` on an Anthropic-only setup). Aliases set in
//! `/api/settings` take precedence over these.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ConfigError;

const BUILT_IN: &str = include_str!("../../../configs/model_aliases.json");

/// Loads `path`, or `./configs/model_aliases.json` if present, else the built-in table.
pub fn load_aliases(path: Option<&Path>) -> Result<BTreeMap<String, String>, ConfigError> {
    let default_path = Path::new("configs/model_aliases.json");
    let (file, text) = match path {
        Some(p) => (p.to_owned(), read(p)?),
        None if default_path.is_file() => (default_path.to_owned(), read(default_path)?),
        None => (
            PathBuf::from("<built-in>/model_aliases.json"),
            BUILT_IN.to_owned(),
        ),
    };
    let aliases: BTreeMap<String, String> =
        serde_json::from_str(&text).map_err(|e| ConfigError::ProviderField {
            file: file.clone(),
            field: "(root)".into(),
            message: format!("expected an object of model -> model: {e}"),
        })?;
    if let Some((alias, _)) = aliases
        .iter()
        .find(|(a, t)| a.trim().is_empty() || t.trim().is_empty() || a == t)
    {
        return Err(ConfigError::ProviderField {
            file,
            field: alias.clone(),
            message: "an alias and its target must be different, non-empty model names".into(),
        });
    }
    Ok(aliases)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::ProviderDir {
        dir: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table_is_valid() {
        let aliases = load_aliases(Some(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/model_aliases.json"),
        ))
        .unwrap();
        assert_eq!(
            aliases.get("gpt-4o").map(String::as_str),
            Some("claude-sonnet-4-5")
        );
        let built_in: BTreeMap<String, String> = serde_json::from_str(BUILT_IN).unwrap();
        assert_eq!(built_in, aliases);
    }

    #[test]
    fn invalid_tables_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("aliases.json");
        std::fs::write(&path, r#"{"a": "a"}"#).unwrap();
        let err = load_aliases(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("aliases.json") && err.contains("`a`"), "{err}");
        std::fs::write(&path, r#"["nope"]"#).unwrap();
        assert!(load_aliases(Some(&path)).is_err());
    }
}
