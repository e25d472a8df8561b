//! The configuration of `shelfsync serve` (issue 5): a TOML file, then `SHELFSYNC_…` environment
//! overrides, then command-line flags, validated at start with errors that name the bad key and
//! where it came from. Every setting has a default, so the service starts with no file at all.
//!
//! The layers are merged by figment; the keys are the fields of [`Settings`] (no table of them is
//! kept beside it: the environment names and the "known keys" of an error are derived from it),
//! and each field's type says how its text is read and which values it takes ([`Setting`]), so a
//! value is checked the same way whichever layer gave it.
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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format as _, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

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
        Settings::default().into()
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The environment variable of a key.
pub fn env_name(key: &str) -> String {
    format!("SHELFSYNC_{}", key.replace('.', "_").to_uppercase())
}

/// `SHELFSYNC_…` variables that are not settings: secrets and the log filter have their own.
const NOT_SETTINGS: [&str; 3] = [
    "SHELFSYNC_ADMIN_TOKEN",
    "SHELFSYNC_MASTER_KEY",
    "SHELFSYNC_LOG",
];

/// A command-line flag, the last layer: `--listen` sets `listen`, `--data-dir` sets `data_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The key it sets.
    pub key: &'static str,
    /// Its value, as text.
    pub value: String,
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

    /// Loads the file (when given), then the environment (`env` yields the process's variables;
    /// tests pass their own), and validates every value.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Config::load_with_flags(file, env, [])
    }

    /// As [`Config::load`], with the command line's `flags` over both.
    pub fn load_with_flags(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: impl IntoIterator<Item = Flag>,
    ) -> Result<Config, ConfigError> {
        let keys = Settings::keys();
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            figment = figment.merge(Layer::file(path)?);
        }
        let mut env: Vec<(String, String)> = env.into_iter().collect();
        env.sort();
        for (name, text) in env {
            if !name.starts_with("SHELFSYNC_") || NOT_SETTINGS.contains(&name.as_str()) {
                continue;
            }
            let Some(key) = keys.iter().find(|key| env_name(key) == name) else {
                return Err(ConfigError::UnknownKey {
                    origin: "environment".into(),
                    key: name,
                    known: keys
                        .iter()
                        .map(|key| env_name(key))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            figment = figment.merge(Layer::value(format!("environment {name}"), key, text));
        }
        for flag in flags {
            let origin = format!("flag --{}", flag.key.replace('_', "-"));
            figment = figment.merge(Layer::value(origin, flag.key, flag.value));
        }
        let settings: Settings = figment
            .extract()
            .map_err(|error| named(&figment, &keys, error))?;
        Ok(settings.into())
    }
}

/// One layer of the configuration with the name of where it came from (the file's path,
/// `environment NAME`, `flag --listen`), which an error about one of its values quotes.
struct Layer {
    origin: String,
    data: Map<Profile, Dict>,
}

impl Layer {
    /// The TOML file at `path`.
    fn file(path: &Path) -> Result<Layer, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let data = Toml::string(&text)
            .data()
            .map_err(|error| ConfigError::Syntax {
                path: path.into(),
                message: error.kind.to_string(),
            })?;
        Ok(Layer {
            origin: path.display().to_string(),
            data,
        })
    }

    /// One key's value as text (a variable's, a flag's): read like the file's.
    fn value(origin: String, key: &str, text: String) -> Layer {
        let data = Serialized::default(key, text)
            .data()
            .expect("a string serializes");
        Layer { origin, data }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(self.data.clone())
    }
}

/// figment's error as ours: the dotted key, and the layer that set it.
fn named(figment: &Figment, keys: &[String], error: figment::Error) -> ConfigError {
    // The path ends with the key, an unknown field's included.
    let key = error.path.join(".");
    let origin = figment
        .find_metadata(&key)
        .or(error.metadata.as_ref())
        .map_or_else(|| "configuration".to_string(), |m| m.name.to_string());
    match error.kind {
        figment::error::Kind::UnknownField(..) => ConfigError::UnknownKey {
            origin,
            key,
            known: keys.join(", "),
        },
        figment::error::Kind::Message(message) => ConfigError::BadValue {
            origin,
            key,
            message,
        },
        kind => ConfigError::BadValue {
            origin,
            key,
            message: kind.to_string(),
        },
    }
}

/// The settings as the layers spell them: one field a key, sections as tables.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    listen: Text<SocketAddr>,
    data_dir: Text<DataDir>,
    api: ApiSettings,
    engine: EngineSettings,
    metrics: MetricsSettings,
    shutdown: ShutdownSettings,
    security: SecuritySettings,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiSettings {
    max_body_bytes: Text<Within<1024, { 256 * 1024 * 1024 }>>,
    header_timeout_ms: Text<Within<100, 600_000>>,
    body_timeout_ms: Text<Within<100, 3_600_000>>,
    max_connections: Text<Within<1, 1_000_000>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineSettings {
    cache_mb: Text<Within<8, { 64 * 1024 }>>,
    arbiters: Text<Within<0, 256>>,
    reconcile_secs: Text<Within<10, 86_400>>,
    stall_warning_secs: Text<Within<1, 86_400>>,
    request_timeout_ms: Text<Within<50, 600_000>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSettings {
    per_client_labels: Text<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShutdownSettings {
    drain_secs: Text<Within<0, 3600>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecuritySettings {
    base_urls: Text<BaseUrls>,
    allow_private_networks: Text<bool>,
}

impl Default for Settings {
    fn default() -> Settings {
        let edge = EdgeLimits::default();
        Settings {
            listen: Text(SocketAddr::from(([127, 0, 0, 1], 8080))),
            data_dir: Text(DataDir(PathBuf::from("./shelfsync-data"))),
            api: ApiSettings {
                max_body_bytes: within(4 * 1024 * 1024),
                header_timeout_ms: within(duration_ms(edge.header_timeout)),
                body_timeout_ms: within(duration_ms(edge.body_timeout)),
                max_connections: within(edge.max_connections as u64),
            },
            engine: EngineSettings {
                cache_mb: within(128),
                arbiters: within(0),
                reconcile_secs: within(300),
                stall_warning_secs: within(60),
                request_timeout_ms: within(duration_ms(crate::service::DEFAULT_REQUEST_TIMEOUT)),
            },
            metrics: MetricsSettings {
                per_client_labels: Text(true),
            },
            shutdown: ShutdownSettings {
                drain_secs: within(10),
            },
            security: SecuritySettings {
                base_urls: Text(EgressPolicy::default().base_urls),
                allow_private_networks: Text(EgressPolicy::default().allow_private_networks),
            },
        }
    }
}

impl Settings {
    /// Every key, dotted, in the order of the fields.
    fn keys() -> Vec<String> {
        fn leaves(prefix: &str, dict: &Dict, keys: &mut Vec<String>) {
            for (name, value) in dict {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                match value {
                    Value::Dict(_, inner) => leaves(&key, inner, keys),
                    _ => keys.push(key),
                }
            }
        }
        let data = Serialized::defaults(Settings::default())
            .data()
            .expect("the defaults serialize");
        let mut keys = Vec::new();
        if let Some(dict) = data.get(&Profile::Default) {
            leaves("", dict, &mut keys);
        }
        keys
    }
}

impl From<Settings> for Config {
    fn from(settings: Settings) -> Config {
        let Settings {
            listen,
            data_dir,
            api,
            engine,
            metrics,
            shutdown,
            security,
        } = settings;
        Config {
            listen: listen.0,
            data_dir: data_dir.0 .0,
            max_body_bytes: size(api.max_body_bytes),
            cache_mb: engine.cache_mb.0 .0,
            arbiters: size(engine.arbiters),
            reconcile_secs: engine.reconcile_secs.0 .0,
            stall_warning_secs: engine.stall_warning_secs.0 .0,
            drain_secs: shutdown.drain_secs.0 .0,
            egress: EgressPolicy {
                base_urls: security.base_urls.0,
                allow_private_networks: security.allow_private_networks.0,
            },
            header_timeout_ms: api.header_timeout_ms.0 .0,
            body_timeout_ms: api.body_timeout_ms.0 .0,
            max_connections: size(api.max_connections),
            request_timeout_ms: engine.request_timeout_ms.0 .0,
            per_client_labels: metrics.per_client_labels.0,
        }
    }
}

/// How a setting is read from text and written back: the file's strings, whole numbers and
/// booleans and the environment's text are all read through it, so one rule checks a value
/// whichever layer gave it; the message says what is wrong.
trait Setting: Sized {
    fn parse(text: &str) -> Result<Self, String>;
    fn text(&self) -> String;
}

/// A setting's value as the layers hold it (see [`Setting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Text<T>(T);

impl<T: Setting> Serialize for Text<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.text())
    }
}

impl<'de, T: Setting> Deserialize<'de> for Text<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<T: Setting> Visitor<T> {
            fn read<E: serde::de::Error>(text: &str) -> Result<Text<T>, E> {
                T::parse(text).map(Text).map_err(E::custom)
            }
        }
        impl<T: Setting> serde::de::Visitor<'_> for Visitor<T> {
            type Value = Text<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("must be a string, a whole number or a boolean")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Text<T>, E> {
                Self::read(text)
            }
            fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<Text<T>, E> {
                Self::read(&number.to_string())
            }
            fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<Text<T>, E> {
                Self::read(&number.to_string())
            }
            fn visit_bool<E: serde::de::Error>(self, flag: bool) -> Result<Text<T>, E> {
                Self::read(&flag.to_string())
            }
        }
        deserializer.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

/// A whole number within `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Within<const MIN: u64, const MAX: u64>(u64);

/// A default within its bounds.
fn within<const MIN: u64, const MAX: u64>(value: u64) -> Text<Within<MIN, MAX>> {
    Text(Within(value))
}

/// A count as a `usize`.
fn size<const MIN: u64, const MAX: u64>(Text(Within(value)): Text<Within<MIN, MAX>>) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

impl<const MIN: u64, const MAX: u64> Setting for Within<MIN, MAX> {
    fn parse(text: &str) -> Result<Self, String> {
        let value: u64 = text
            .trim()
            .parse()
            .map_err(|_| format!("must be a whole number, not {text:?}"))?;
        if (MIN..=MAX).contains(&value) {
            Ok(Within(value))
        } else {
            Err(format!("must be within {MIN}..={MAX}, not {value}"))
        }
    }

    fn text(&self) -> String {
        self.0.to_string()
    }
}

impl Setting for SocketAddr {
    fn parse(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("must be an address like 127.0.0.1:8080, not {text:?}"))
    }

    fn text(&self) -> String {
        self.to_string()
    }
}

impl Setting for bool {
    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("must be true or false, not {text:?}")),
        }
    }

    fn text(&self) -> String {
        self.to_string()
    }
}

impl Setting for BaseUrls {
    fn parse(text: &str) -> Result<Self, String> {
        BaseUrls::parse(text)
            .ok_or_else(|| format!("must be \"any\" or \"official\", not {text:?}"))
    }

    fn text(&self) -> String {
        self.as_str().to_string()
    }
}

/// A directory path, not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DataDir(PathBuf);

impl Setting for DataDir {
    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "" => Err("must not be empty".into()),
            path => Ok(DataDir(PathBuf::from(path))),
        }
    }

    fn text(&self) -> String {
        self.0.display().to_string()
    }
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
