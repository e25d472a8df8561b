//! The configuration of `shelfsync serve` (issue 5): a TOML file, then `SHELFSYNC_…` environment
//! overrides, then command-line flags, validated at start with errors that name the bad key and
//! where it came from. Every setting has a default, so the service starts with no file at all.
//!
//! Keys (TOML path → environment variable):
//!
//! | key | env | default | meaning |
//! |---|---|---|---|
//! | `listen` | `SHELFSYNC_LISTEN` | `127.0.0.1:8080` | the API's address |
//! | `data_dir` | `SHELFSYNC_DATA_DIR` | `./shelfsync-data` | sled database, key file |
//! | `api.max_body_bytes` | `SHELFSYNC_API_MAX_BODY_BYTES` | 4 MiB | largest request body (a catalog) |
//! | `api.header_timeout_ms` | `SHELFSYNC_API_HEADER_TIMEOUT_MS` | 5000 | time to send a request head, else 408 and closed (slow headers) |
//! | `api.body_timeout_ms` | `SHELFSYNC_API_BODY_TIMEOUT_MS` | 30000 | time to send a whole body, else 408 `body_timeout` and closed (slow bodies) |
//! | `api.max_connections` | `SHELFSYNC_API_MAX_CONNECTIONS` | 1024 | open connections at most; more wait in the accept backlog |
//! | `engine.cache_mb` | `SHELFSYNC_ENGINE_CACHE_MB` | 128 | sled page cache |
//! | `engine.arbiters` | `SHELFSYNC_ENGINE_ARBITERS` | 0 (one per core) | actor threads |
//! | `engine.reconcile_secs` | `SHELFSYNC_ENGINE_RECONCILE_SECS` | 300 | the longest a listing goes without being read back (as the read budget allows) |
//! | `engine.stall_warning_secs` | `SHELFSYNC_ENGINE_STALL_WARNING_SECS` | 60 | a change pending longer is logged at `warn` with why the channel waits, and counted |
//! | `engine.request_timeout_ms` | `SHELFSYNC_ENGINE_REQUEST_TIMEOUT_MS` | 4000 | how long an API call waits for the engine, else 503 `engine_timeout` with `Retry-After`, nothing changed |
//! | `metrics.per_client_labels` | `SHELFSYNC_METRICS_PER_CLIENT_LABELS` | `true` | `false` reports every client as `client="__all__"`, for deployments with too many clients for a series each |
//! | `shutdown.drain_secs` | `SHELFSYNC_SHUTDOWN_DRAIN_SECS` | 10 | how long SIGTERM waits for work in flight |
//! | `security.base_urls` | `SHELFSYNC_SECURITY_BASE_URLS` | `any` | `official`: channels may connect only to each platform's documented API hosts over https |
//! | `security.allow_private_networks` | `SHELFSYNC_SECURITY_ALLOW_PRIVATE_NETWORKS` | `false` | `true` lets channels connect to loopback, private, link-local and unique-local addresses (mocks on this machine), and over plain http there only |
//!
//! The `security.*` defaults are the safe ones (`platforms::egress`): a deployment that runs its
//! mock marketplaces on loopback says so explicitly.
//!
//! Secrets are not configuration: the admin token and the master key come only from their own
//! environment variables (`SHELFSYNC_ADMIN_TOKEN`, `SHELFSYNC_MASTER_KEY`), never from the file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::server::EdgeLimits;

use crate::platforms::egress::{BaseUrls, EgressPolicy};

/// Errors of loading the configuration, each naming the key and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A key no setting has (a typo).
    #[error("{origin}: unknown key `{key}` (known: {known})")]
    UnknownKey {
        /// Where it came from.
        origin: String,
        /// The key.
        key: String,
        /// The known keys.
        known: String,
    },
    /// A value of the wrong type or out of range.
    #[error("{origin}: `{key}` {message}")]
    BadValue {
        /// Where it came from.
        origin: String,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The stable code of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "config_read",
            ConfigError::Syntax { .. } => "config_syntax",
            ConfigError::UnknownKey { .. } => "config_unknown_key",
            ConfigError::BadValue { .. } => "config_bad_value",
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The API's address.
    pub listen: SocketAddr,
    /// Where the database and the key file live.
    pub data_dir: PathBuf,
    /// The largest request body.
    pub max_body_bytes: usize,
    /// sled's page cache, MiB.
    pub cache_mb: u64,
    /// Actor threads (0: one per core).
    pub arbiters: usize,
    /// The longest a listing goes without the marketplace showing its quantity before it is
    /// read back, seconds.
    pub reconcile_secs: u64,
    /// A change pending longer than this is logged at `warn` and counted, seconds.
    pub stall_warning_secs: u64,
    /// How long a SIGTERM waits for work in flight, seconds.
    pub drain_secs: u64,
    /// Where connectors may send credentials (`security.*`).
    pub egress: EgressPolicy,
    /// Time to send a request head, milliseconds.
    pub header_timeout_ms: u64,
    /// Time to send a whole request body, milliseconds.
    pub body_timeout_ms: u64,
    /// Open connections at most.
    pub max_connections: usize,
    /// How long an API call waits for the engine, milliseconds.
    pub request_timeout_ms: u64,
    /// Whether metrics carry each client's code (`false`: every client is `__all__`).
    pub per_client_labels: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./shelfsync-data"),
            max_body_bytes: 4 * 1024 * 1024,
            cache_mb: 128,
            arbiters: 0,
            reconcile_secs: 300,
            stall_warning_secs: 60,
            drain_secs: 10,
            egress: EgressPolicy::default(),
            header_timeout_ms: duration_ms(EdgeLimits::default().header_timeout),
            body_timeout_ms: duration_ms(EdgeLimits::default().body_timeout),
            max_connections: EdgeLimits::default().max_connections,
            request_timeout_ms: duration_ms(crate::service::DEFAULT_REQUEST_TIMEOUT),
            per_client_labels: true,
        }
    }
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("must be true or false, not {text:?}")),
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Every key, as its TOML path ([`Config::set`] knows how each is parsed).
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "api.max_body_bytes",
    "api.header_timeout_ms",
    "api.body_timeout_ms",
    "api.max_connections",
    "engine.cache_mb",
    "engine.arbiters",
    "engine.reconcile_secs",
    "engine.stall_warning_secs",
    "metrics.per_client_labels",
    "engine.request_timeout_ms",
    "shutdown.drain_secs",
    "security.base_urls",
    "security.allow_private_networks",
];

/// The environment variable of a key.
pub fn env_name(key: &str) -> String {
    format!("SHELFSYNC_{}", key.replace('.', "_").to_uppercase())
}

fn parse_in_range<T>(text: &str, range: std::ops::RangeInclusive<T>) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let value: T = text
        .trim()
        .parse()
        .map_err(|_| format!("must be a whole number, not {text:?}"))?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "must be within {}..={}, not {value}",
            range.start(),
            range.end()
        ))
    }
}

impl Config {
    /// The bounds of the HTTP edge.
    pub fn edge_limits(&self) -> EdgeLimits {
        EdgeLimits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            max_connections: self.max_connections,
        }
    }

    /// How long an API call waits for the engine.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Sets `key` from `text`; the message says what is wrong.
    fn set(&mut self, key: &str, text: &str) -> Result<(), String> {
        match key {
            "listen" => {
                self.listen = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("must be an address like 127.0.0.1:8080, not {text:?}"))?
            }
            "data_dir" => {
                if text.trim().is_empty() {
                    return Err("must not be empty".into());
                }
                self.data_dir = PathBuf::from(text.trim());
            }
            "api.max_body_bytes" => {
                self.max_body_bytes = parse_in_range(text, 1024..=256 * 1024 * 1024)?
            }
            "api.header_timeout_ms" => {
                self.header_timeout_ms = parse_in_range(text, 100..=600_000)?
            }
            "api.body_timeout_ms" => self.body_timeout_ms = parse_in_range(text, 100..=3_600_000)?,
            "api.max_connections" => self.max_connections = parse_in_range(text, 1..=1_000_000)?,
            "engine.request_timeout_ms" => {
                self.request_timeout_ms = parse_in_range(text, 50..=600_000)?
            }
            "engine.cache_mb" => self.cache_mb = parse_in_range(text, 8..=64 * 1024)?,
            "engine.arbiters" => self.arbiters = parse_in_range(text, 0..=256)?,
            "engine.reconcile_secs" => self.reconcile_secs = parse_in_range(text, 10..=86_400)?,
            "engine.stall_warning_secs" => {
                self.stall_warning_secs = parse_in_range(text, 1..=86_400)?
            }
            "shutdown.drain_secs" => self.drain_secs = parse_in_range(text, 0..=3600)?,
            "security.base_urls" => {
                self.egress.base_urls = BaseUrls::parse(text)
                    .ok_or_else(|| format!("must be \"any\" or \"official\", not {text:?}"))?
            }
            "security.allow_private_networks" => {
                self.egress.allow_private_networks = parse_bool(text)?
            }
            "metrics.per_client_labels" => self.per_client_labels = parse_bool(text)?,
            other => return Err(format!("is not a setting ({other})")),
        }
        Ok(())
    }

    /// Loads the file (when given), then the environment (`env` yields the process's variables;
    /// tests pass their own), and validates every value.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.into(),
                source,
            })?;
            let table: toml::Table =
                text.parse()
                    .map_err(|error: toml::de::Error| ConfigError::Syntax {
                        path: path.into(),
                        message: error.to_string(),
                    })?;
            let origin = path.display().to_string();
            for (key, value) in flatten(&table) {
                if !KEYS.contains(&key.as_str()) {
                    return Err(ConfigError::UnknownKey {
                        origin,
                        key,
                        known: KEYS.join(", "),
                    });
                }
                let text = match value {
                    toml::Value::String(text) => text.clone(),
                    toml::Value::Integer(number) => number.to_string(),
                    toml::Value::Boolean(flag) => flag.to_string(),
                    other => {
                        return Err(ConfigError::BadValue {
                            origin,
                            key,
                            message: format!(
                                "must be a string, a whole number or a boolean, not {}",
                                other.type_str()
                            ),
                        })
                    }
                };
                config
                    .set(&key, &text)
                    .map_err(|message| ConfigError::BadValue {
                        origin: origin.clone(),
                        key,
                        message,
                    })?;
            }
        }
        let env: BTreeMap<String, String> = env.into_iter().collect();
        for key in KEYS {
            let name = env_name(key);
            if let Some(text) = env.get(&name) {
                config
                    .set(key, text)
                    .map_err(|message| ConfigError::BadValue {
                        origin: format!("environment {name}"),
                        key: key.to_string(),
                        message,
                    })?;
            }
        }
        let reserved = [
            "SHELFSYNC_ADMIN_TOKEN",
            "SHELFSYNC_MASTER_KEY",
            "SHELFSYNC_LOG",
        ];
        if let Some(name) = env.keys().find(|name| {
            name.starts_with("SHELFSYNC_")
                && !reserved.contains(&name.as_str())
                && !KEYS.iter().any(|key| env_name(key) == **name)
        }) {
            return Err(ConfigError::UnknownKey {
                origin: "environment".into(),
                key: name.clone(),
                known: KEYS
                    .iter()
                    .map(|key| env_name(key))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(config)
    }
}

/// The leaves of a TOML table as dotted keys.
fn flatten(table: &toml::Table) -> Vec<(String, &toml::Value)> {
    let mut leaves = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(inner) => leaves.extend(
                flatten(inner)
                    .into_iter()
                    .map(|(sub, value)| (format!("{key}.{sub}"), value)),
            ),
            value => leaves.push((key.clone(), value)),
        }
    }
    leaves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn no_file_no_env_gives_the_defaults() {
        assert_eq!(Config::load(None, env(&[])).unwrap(), Config::default());
    }

    #[test]
    fn per_client_metric_labels_are_a_setting() {
        assert!(Config::default().per_client_labels);
        let toml = file("[metrics]\nper_client_labels = false\n");
        assert!(
            !Config::load(Some(toml.path()), env(&[]))
                .unwrap()
                .per_client_labels
        );
        let from_env = Config::load(
            None,
            env(&[("SHELFSYNC_METRICS_PER_CLIENT_LABELS", "false")]),
        );
        assert!(!from_env.unwrap().per_client_labels);
        let bad = Config::load(None, env(&[("SHELFSYNC_METRICS_PER_CLIENT_LABELS", "no")]));
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("metrics.per_client_labels"));
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let toml = file("listen = \"127.0.0.1:9000\"\ndata_dir = \"/var/lib/shelfsync\"\n[engine]\ncache_mb = 256\n");
        let config = Config::load(
            Some(toml.path()),
            env(&[("SHELFSYNC_ENGINE_CACHE_MB", "512"), ("PATH", "/bin")]),
        )
        .unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/shelfsync"));
        assert_eq!(config.cache_mb, 512);
    }

    #[test]
    fn security_defaults_are_safe_and_both_keys_are_set_by_file_or_environment() {
        let defaults = Config::default().egress;
        assert_eq!(
            (defaults.base_urls, defaults.allow_private_networks),
            (BaseUrls::Any, false)
        );
        let toml = file("[security]\nbase_urls = \"official\"\nallow_private_networks = true\n");
        let config = Config::load(Some(toml.path()), env(&[])).unwrap();
        assert_eq!(
            config.egress,
            EgressPolicy {
                base_urls: BaseUrls::Official,
                allow_private_networks: true
            }
        );
        let config = Config::load(
            Some(toml.path()),
            env(&[
                ("SHELFSYNC_SECURITY_ALLOW_PRIVATE_NETWORKS", "false"),
                ("SHELFSYNC_SECURITY_BASE_URLS", "any"),
            ]),
        )
        .unwrap();
        assert_eq!(config.egress, EgressPolicy::default());
        let error = Config::load(
            None,
            env(&[("SHELFSYNC_SECURITY_ALLOW_PRIVATE_NETWORKS", "yes")]),
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`security.allow_private_networks` must be true or false"),
            "{error}"
        );
        let error = Config::load(
            Some(file("[security]\nbase_urls = \"shopify\"\n").path()),
            env(&[]),
        )
        .unwrap_err();
        assert_eq!(error.kind(), "config_bad_value");
        assert!(
            error.to_string().contains("`security.base_urls`"),
            "{error}"
        );
    }

    #[test]
    fn errors_name_the_key_and_where_it_came_from() {
        let typo = file("[engine]\ncache_mbs = 256\n");
        let error = Config::load(Some(typo.path()), env(&[])).unwrap_err();
        assert_eq!(error.kind(), "config_unknown_key");
        assert!(error.to_string().contains("`engine.cache_mbs`"), "{error}");
        let range = file("[shutdown]\ndrain_secs = 99999\n");
        let error = Config::load(Some(range.path()), env(&[])).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`shutdown.drain_secs` must be within 0..=3600"),
            "{error}"
        );
        let error = Config::load(None, env(&[("SHELFSYNC_LISTEN", "localhost")])).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("environment SHELFSYNC_LISTEN: `listen`"),
            "{error}"
        );
        let error = Config::load(None, env(&[("SHELFSYNC_LISTN", "127.0.0.1:1")])).unwrap_err();
        assert!(error.to_string().contains("SHELFSYNC_LISTN"), "{error}");
        let error = Config::load(Some(file("listen = [1]").path()), env(&[])).unwrap_err();
        assert_eq!(error.kind(), "config_bad_value");
        let error = Config::load(Some(file("listen = ").path()), env(&[])).unwrap_err();
        assert_eq!(error.kind(), "config_syntax");
        assert!(Config::load(
            None,
            env(&[
                ("SHELFSYNC_ADMIN_TOKEN", "x"),
                ("SHELFSYNC_MASTER_KEY", "y")
            ])
        )
        .is_ok());
    }

    #[test]
    fn the_edge_bounds_are_read_and_checked() {
        let toml = file("[api]\nheader_timeout_ms = 2000\nbody_timeout_ms = 9000\nmax_connections = 64\n[engine]\nrequest_timeout_ms = 1500\n");
        let config = Config::load(Some(toml.path()), env(&[])).unwrap();
        assert_eq!(
            config.edge_limits(),
            EdgeLimits {
                header_timeout: Duration::from_secs(2),
                body_timeout: Duration::from_secs(9),
                max_connections: 64,
            }
        );
        assert_eq!(config.request_timeout(), Duration::from_millis(1500));
        assert_eq!(Config::default().edge_limits(), EdgeLimits::default());
        let error = Config::load(None, env(&[("SHELFSYNC_API_BODY_TIMEOUT_MS", "0")])).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`api.body_timeout_ms` must be within"),
            "{error}"
        );
        let error = Config::load(None, env(&[("SHELFSYNC_API_MAX_CONNECTIONS", "0")])).unwrap_err();
        assert_eq!(error.kind(), "config_bad_value");
    }
}
