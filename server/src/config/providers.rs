//! Provider descriptions loaded from `configs/providers/*.json`, validated at start-up.
//! An invalid file stops start-up with an error naming the file and the field.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use shared::keys::MAX_AMOUNT;
use shared::providers::{ModelSpec, ProviderFormat, ProviderSpec};

use super::ConfigError;

include!(concat!(env!("OUT_DIR"), "/embedded_providers.rs"));

/// One validated provider, with its models indexed by id.
#[derive(Debug)]
pub struct ProviderEntry {
    pub spec: ProviderSpec,
    /// foldhash, as [`crate::routing::ModelIds`]: looked up for every key at every pick.
    models: HashMap<String, ModelSpec, foldhash::fast::RandomState>,
}

impl ProviderEntry {
    pub fn model(&self, id: &str) -> Option<&ModelSpec> {
        self.models.get(id)
    }

    pub fn format(&self) -> ProviderFormat {
        self.spec.format
    }
}

/// Every configured provider, by id.
#[derive(Debug, Default)]
pub struct ProviderCatalog {
    providers: BTreeMap<String, Arc<ProviderEntry>>,
}

impl ProviderCatalog {
    /// Loads `dir`, or, when `dir` is `None`, `./configs/providers` if present, else the files built
    /// into the binary.
    pub fn load(dir: Option<&Path>) -> Result<Self, ConfigError> {
        let default_dir = Path::new("configs/providers");
        match dir {
            Some(dir) => Self::load_dir(dir),
            None if default_dir.is_dir() => Self::load_dir(default_dir),
            None => Self::from_files(EMBEDDED_PROVIDERS.iter().map(|(name, text)| {
                (
                    PathBuf::from(format!("<built-in>/{name}")),
                    text.to_string(),
                )
            })),
        }
    }

    pub fn load_dir(dir: &Path) -> Result<Self, ConfigError> {
        let io = |source| ConfigError::ProviderDir {
            dir: dir.to_owned(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "json") {
                paths.push(path);
            }
        }
        paths.sort();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(io)?;
            files.push((path, text));
        }
        Self::from_files(files)
    }

    pub fn from_files(
        files: impl IntoIterator<Item = (PathBuf, String)>,
    ) -> Result<Self, ConfigError> {
        let mut providers = BTreeMap::new();
        for (path, text) in files {
            let entry = parse_provider(&path, &text)?;
            let id = entry.spec.id.clone();
            if providers.insert(id.clone(), Arc::new(entry)).is_some() {
                return Err(field_error(
                    &path,
                    "id",
                    format!("provider {id:?} is defined twice"),
                ));
            }
        }
        Ok(Self { providers })
    }

    pub fn get(&self, id: &str) -> Option<&Arc<ProviderEntry>> {
        self.providers.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<ProviderEntry>> {
        self.providers.values()
    }
}

fn field_error(path: &Path, field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::ProviderField {
        file: path.to_owned(),
        field: field.to_owned(),
        message: message.into(),
    }
}

fn parse_provider(path: &Path, text: &str) -> Result<ProviderEntry, ConfigError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let spec: ProviderSpec = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        field_error(path, &field, e.into_inner().to_string())
    })?;
    validate(path, &spec)?;
    let models = spec
        .models
        .iter()
        .map(|m| (m.id.clone(), m.clone()))
        .collect();
    Ok(ProviderEntry { spec, models })
}

fn validate(path: &Path, spec: &ProviderSpec) -> Result<(), ConfigError> {
    let valid_id = !spec.id.is_empty()
        && spec
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid_id {
        return Err(field_error(
            path,
            "id",
            "use lowercase letters, digits, '-' or '_'",
        ));
    }
    if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
        if stem != spec.id {
            return Err(field_error(
                path,
                "id",
                format!("{:?} must match the file name {stem:?}", spec.id),
            ));
        }
    }
    if let Some(problem) = super::base_url_problem(spec.base_url.trim_end_matches('/')) {
        return Err(field_error(path, "base_url", problem));
    }
    if spec.native_responses && spec.format != ProviderFormat::Openai {
        return Err(field_error(
            path,
            "native_responses",
            "only providers of format \"openai\" can serve the Responses API natively",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, model) in spec.models.iter().enumerate() {
        if model.id.trim().is_empty() {
            return Err(field_error(
                path,
                &format!("models[{i}].id"),
                "must not be empty",
            ));
        }
        if !seen.insert(model.id.as_str()) {
            return Err(field_error(
                path,
                &format!("models[{i}].id"),
                format!("{:?} is listed twice", model.id),
            ));
        }
        let p = &model.pricing;
        let prices = [Some(p.input), Some(p.output), p.cached_input, p.cache_write];
        if prices
            .iter()
            .flatten()
            .any(|v| !(0.0..=MAX_AMOUNT).contains(v))
        {
            return Err(field_error(
                path,
                &format!("models[{i}].pricing"),
                format!("prices must be numbers from 0 to {MAX_AMOUNT:e}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_one(name: &str, text: &str) -> Result<ProviderCatalog, ConfigError> {
        ProviderCatalog::from_files([(PathBuf::from(name), text.to_owned())])
    }

    #[test]
    fn shipped_files_are_valid() {
        let catalog = ProviderCatalog::from_files(
            EMBEDDED_PROVIDERS
                .iter()
                .map(|(n, t)| (PathBuf::from(n), t.to_string())),
        )
        .unwrap();
        for id in ["openai", "anthropic", "azure"] {
            assert!(catalog.get(id).is_some(), "{id} missing");
        }
        assert!(catalog.get("openai").unwrap().model("gpt-4o").is_some());
    }

    #[test]
    fn unknown_field_names_file_and_field() {
        let err = load_one(
            "x.json",
            r#"{"id":"x","display_name":"X","format":"openai","base_url":"https://x","auth":"bearer","models":[{"id":"m","context_window":1,"max_output_tokens":1,"pricing":{"input":1,"output":1,"bogus":2}}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("x.json"), "{err}");
        assert!(err.contains("models[0].pricing"), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn id_must_match_file_name() {
        let err = load_one(
            "y.json",
            r#"{"id":"x","display_name":"X","format":"openai","base_url":"https://x","auth":"bearer","models":[]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`id`"), "{err}");
    }

    #[test]
    fn native_responses_is_for_openai_format_only() {
        let file = |format: &str| {
            format!(
                r#"{{"id":"x","display_name":"X","format":"{format}","base_url":"https://x","auth":"bearer","native_responses":true,"models":[]}}"#
            )
        };
        let catalog = load_one("x.json", &file("openai")).unwrap();
        assert!(catalog.get("x").unwrap().spec.native_responses);
        let err = load_one("x.json", &file("anthropic"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("native_responses"), "{err}");
        let shipped = ProviderCatalog::from_files(
            EMBEDDED_PROVIDERS
                .iter()
                .map(|(n, t)| (PathBuf::from(n), t.to_string())),
        )
        .unwrap();
        let native: Vec<&str> = shipped
            .iter()
            .filter(|p| p.spec.native_responses)
            .map(|p| p.spec.id.as_str())
            .collect();
        assert_eq!(native, ["openai"]);
    }

    #[test]
    fn bad_format_is_rejected() {
        let err = load_one(
            "x.json",
            r#"{"id":"x","display_name":"X","format":"cohere","base_url":"https://x","auth":"bearer","models":[]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("format"), "{err}");
    }
}
