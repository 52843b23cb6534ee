//! Server settings from the environment (and a `.env` file, loaded by `main`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::ConfigError;
use crate::crypto::Secret;
use crate::otel::TraceConfig;

const DEFAULT_BODY_LIMIT: usize = 20 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub database_path: PathBuf,
    /// `DATABASE_URL` when it names PostgreSQL (`postgres://` or `postgresql://`): the database
    /// shared by several instances. `None`: the SQLite file at `database_path`.
    pub database_url: Option<Secret>,
    /// Holds the database, the generated master key and admin token.
    pub data_dir: PathBuf,
    pub encryption_key: Option<Secret>,
    pub log_level: String,
    pub admin_token: Option<Secret>,
    pub require_client_keys: bool,
    /// Extra `Host` names accepted besides loopback names and `host` itself (`*` accepts any).
    pub allowed_hosts: Vec<String>,
    /// Origins allowed to call the API cross-site (CORS); empty means CORS is off.
    pub cors_origins: Vec<String>,
    pub body_limit_bytes: usize,
    /// `None`: `./configs/providers` if it exists, else the files built into the binary.
    pub providers_dir: Option<PathBuf>,
    /// `None`: `./configs/model_aliases.json` if it exists, else the built-in table.
    pub model_aliases_file: Option<PathBuf>,
    pub workers: usize,
    pub connect_timeout: Duration,
    /// Extra root certificates (PEM) trusted for upstream HTTPS, besides the built-in ones.
    pub upstream_ca_file: Option<PathBuf>,
    /// How long a client connection may take to send a request's head before it gets 408 and is
    /// closed (what keeps idle and trickling connections from holding the server).
    pub client_header_timeout: Duration,
    /// How long a client may take to send a proxied request's whole body before it gets 408.
    pub client_body_timeout: Duration,
    pub log_flush_interval: Duration,
    pub shutdown_timeout: Duration,
    /// `GET /metrics` is served (`METRICS_ENABLED`, default on).
    pub metrics_enabled: bool,
    /// A token that may read `/metrics` besides the admin token (at least 16 characters).
    pub metrics_token: Option<Secret>,
    pub log_format: LogFormat,
    /// OTLP trace export; `None` (off) unless an OTLP endpoint is set.
    pub traces: Option<TraceConfig>,
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The shortest `METRICS_TOKEN` accepted (the admin token's rule).
pub const MIN_METRICS_TOKEN_CHARS: usize = 16;

impl ServerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `get`, so tests can supply their own environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let host = get("HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
        let port = parse(&get, "PORT", 3000u16)?;
        let database_path =
            PathBuf::from(get("DATABASE_PATH").unwrap_or_else(|| "./data/api-proxy.db".to_owned()));
        // Anything else in DATABASE_URL (some platforms set it for their own use) is left alone.
        let database_url = get("DATABASE_URL")
            .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
            .map(Secret::new);
        let data_dir = match get("DATA_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => database_path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(".")),
        };
        let require_client_keys = parse_bool(&get, "REQUIRE_CLIENT_KEYS", false)?;
        let metrics_token = get("METRICS_TOKEN").map(Secret::new);
        if let Some(token) = &metrics_token {
            let length = token.expose().trim().chars().count();
            if length < MIN_METRICS_TOKEN_CHARS {
                return Err(ConfigError::Env {
                    name: "METRICS_TOKEN",
                    message: format!(
                        "is {length} characters long; it must have at least {MIN_METRICS_TOKEN_CHARS}"
                    ),
                });
            }
        }
        let log_format = match get("LOG_FORMAT").map(|v| v.trim().to_ascii_lowercase()) {
            None => LogFormat::Text,
            Some(v) if v == "text" => LogFormat::Text,
            Some(v) if v == "json" => LogFormat::Json,
            Some(v) => {
                return Err(ConfigError::Env {
                    name: "LOG_FORMAT",
                    message: format!("{v:?} is not `text` or `json`"),
                })
            }
        };
        let workers = parse(
            &get,
            "WORKERS",
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        )?;
        Ok(Self {
            host,
            port,
            database_path,
            database_url,
            data_dir,
            encryption_key: get("ENCRYPTION_KEY").map(Secret::new),
            log_level: get("LOG_LEVEL").unwrap_or_else(|| "info".to_owned()),
            admin_token: get("ADMIN_TOKEN").map(Secret::new),
            require_client_keys,
            allowed_hosts: list(get("ALLOWED_HOSTS")),
            cors_origins: list(get("CORS_ORIGINS")),
            body_limit_bytes: parse(&get, "BODY_LIMIT_BYTES", DEFAULT_BODY_LIMIT)?,
            providers_dir: get("PROVIDERS_DIR").map(PathBuf::from),
            model_aliases_file: get("MODEL_ALIASES_FILE").map(PathBuf::from),
            workers: workers.max(1),
            connect_timeout: Duration::from_millis(parse(&get, "CONNECT_TIMEOUT_MS", 10_000u64)?),
            upstream_ca_file: get("UPSTREAM_CA_FILE").map(PathBuf::from),
            client_header_timeout: Duration::from_millis(parse(
                &get,
                "CLIENT_HEADER_TIMEOUT_MS",
                5_000u64,
            )?),
            client_body_timeout: Duration::from_millis(parse(
                &get,
                "CLIENT_BODY_TIMEOUT_MS",
                30_000u64,
            )?),
            log_flush_interval: Duration::from_millis(parse(&get, "LOG_FLUSH_MS", 100u64)?),
            shutdown_timeout: Duration::from_secs(parse(&get, "SHUTDOWN_TIMEOUT_SECS", 30u64)?),
            metrics_enabled: parse_bool(&get, "METRICS_ENABLED", true)?,
            metrics_token,
            log_format,
            traces: TraceConfig::from_lookup(get),
        })
    }

    /// True when the listener is only reachable from this machine.
    pub fn is_loopback(&self) -> bool {
        match self.host.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => self.host.eq_ignore_ascii_case("localhost"),
        }
    }

    /// Whether every `/v1` request needs a client key. Otherwise a request is exempt only when it
    /// comes from this machine with no forwarding header (see `api::auth::ClientAuth`). Always
    /// required when anyone but this machine can reach the listener, when forced, and when
    /// `ALLOWED_HOSTS` or `CORS_ORIGINS` is set: those are set to serve other hosts or pages.
    pub fn client_keys_required(&self) -> bool {
        self.require_client_keys
            || !self.is_loopback()
            || !self.allowed_hosts.is_empty()
            || !self.cors_origins.is_empty()
    }

    pub fn bind_address(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match get(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError::Env {
            name,
            message: format!("{raw:?} is not valid: {e}"),
        }),
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(ConfigError::Env {
            name,
            message: format!("{v:?} is not a boolean (true/false)"),
        }),
    }
}

fn list(raw: Option<String>) -> Vec<String> {
    raw.map(|r| {
        r.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<ServerConfig, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ServerConfig::from_lookup(|k| env.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_readme() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind_address(), "127.0.0.1:3000");
        assert_eq!(c.database_path, PathBuf::from("./data/api-proxy.db"));
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert!(c.database_url.is_none());
        assert_eq!(c.body_limit_bytes, 20 * 1024 * 1024);
        assert!(!c.client_keys_required());
    }

    #[test]
    fn only_a_postgres_database_url_replaces_the_sqlite_file() {
        for url in ["postgres://u@db/proxy", "postgresql://u:pw@db:5433/proxy"] {
            let c = config(&[("DATABASE_URL", url)]).unwrap();
            assert_eq!(c.database_url.as_ref().map(|u| u.expose()), Some(url));
        }
        for other in ["sqlite://x.db", "mysql://db/x", "./data/x.db"] {
            assert!(config(&[("DATABASE_URL", other)])
                .unwrap()
                .database_url
                .is_none());
        }
    }

    #[test]
    fn metrics_settings_are_read_and_checked() {
        let c = config(&[]).unwrap();
        assert!(c.metrics_enabled && c.metrics_token.is_none());
        assert_eq!(c.log_format, LogFormat::Text);
        let c = config(&[
            ("METRICS_ENABLED", "false"),
            ("METRICS_TOKEN", "scrape-token-0123456789"),
            ("LOG_FORMAT", "JSON"),
        ])
        .unwrap();
        assert!(!c.metrics_enabled);
        assert_eq!(c.metrics_token.unwrap().expose(), "scrape-token-0123456789");
        assert_eq!(c.log_format, LogFormat::Json);
        let short = config(&[("METRICS_TOKEN", "too-short")]).unwrap_err();
        assert!(short.to_string().contains("METRICS_TOKEN"), "{short}");
        assert!(config(&[("LOG_FORMAT", "xml")]).is_err());
    }

    #[test]
    fn public_bind_requires_client_keys() {
        assert!(config(&[("HOST", "0.0.0.0")])
            .unwrap()
            .client_keys_required());
        assert!(config(&[("REQUIRE_CLIENT_KEYS", "true")])
            .unwrap()
            .client_keys_required());
        assert!(!config(&[("HOST", "::1")]).unwrap().client_keys_required());
        // Opened up to other names or pages: no exemption even on loopback.
        assert!(config(&[("ALLOWED_HOSTS", "proxy.lan")])
            .unwrap()
            .client_keys_required());
        assert!(config(&[("CORS_ORIGINS", "http://localhost:5173")])
            .unwrap()
            .client_keys_required());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("PORT", "eighty")]).unwrap_err().to_string();
        assert!(err.contains("PORT"), "{err}");
        let err = config(&[("REQUIRE_CLIENT_KEYS", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("REQUIRE_CLIENT_KEYS"), "{err}");
    }
}
