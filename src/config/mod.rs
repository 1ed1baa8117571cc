//! Settings: defaults, then a TOML file, then `DINERO_BRIDGE__SECTION__KEY` environment
//! variables. A bad value fails at start with a message naming the key. Secrets may come from
//! files (`*_file` keys) and are never printed.

mod secrets;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::dinero::DineroConfig;
pub use secrets::{AdminTokens, EncryptionKeys};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default)]
    pub store: StoreSettings,
    #[serde(default)]
    pub security: SecuritySettings,
    #[serde(default)]
    pub dinero: DineroConfig,
    #[serde(default)]
    pub pipeline: PipelineSettings,
    #[serde(default)]
    pub kafka: KafkaSettings,
    #[serde(default)]
    pub log: LogSettings,
}

/// Kafka mode: the consumer group on the input topic, the dead-letter topic, the producer
/// that webhooks go through. Off by default (embedded mode).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSettings {
    pub enabled: bool,
    pub bootstrap_servers: String,
    pub group_id: String,
    /// CloudEvents order events, key = tenant id.
    pub input_topic: String,
    /// Dead letters, poison records, and the tenants' paused/resumed records.
    pub dead_letter_topic: String,
    /// Create both topics at start (brokers without auto-creation, e.g. tansu).
    pub create_topics: bool,
    pub partitions: i32,
    pub replication_factor: i32,
    /// plaintext | ssl | sasl_plaintext | sasl_ssl
    pub security_protocol: String,
    pub sasl_mechanism: Option<String>,
    pub sasl_username: Option<String>,
    pub sasl_password: Option<String>,
    pub ssl_ca_location: Option<PathBuf>,
    pub session_timeout_ms: u32,
    pub heartbeat_interval_ms: u32,
    /// The storm guard: over the last `storm_window` records, more than this share refused
    /// means a bad deploy, not bad data: stop consuming and report not ready.
    pub storm_window: usize,
    pub storm_max_refused_ratio: f64,
    /// Further librdkafka properties, passed as they are.
    pub properties: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            enabled: false,
            bootstrap_servers: "127.0.0.1:9092".into(),
            group_id: "dinero-bridge".into(),
            input_topic: "shop.orders".into(),
            dead_letter_topic: "shop.orders.dead-letter".into(),
            create_topics: false,
            partitions: 6,
            replication_factor: 1,
            security_protocol: "plaintext".into(),
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            ssl_ca_location: None,
            session_timeout_ms: 6_000,
            heartbeat_interval_ms: 2_000,
            storm_window: 50,
            storm_max_refused_ratio: 0.5,
            properties: Default::default(),
        }
    }
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("enabled", &self.enabled)
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("group_id", &self.group_id)
            .field("input_topic", &self.input_topic)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field(
                "sasl_password",
                &self.sasl_password.as_ref().map(|_| "[REDACTED]"),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Where the webhook, admin API, health and metrics listen.
    pub listen: SocketAddr,
    /// Largest accepted webhook or admin body. (Webhook timestamps are accepted within the
    /// Standard Webhooks tolerance of 5 minutes, as its reference library enforces.)
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0: one per CPU core.
    pub workers: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: "127.0.0.1:8080".parse().expect("valid default"),
            max_body_bytes: 256 * 1024,
            workers: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://PATH` (the embedded default; folders are created) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...]` (production).
    pub url: String,
    pub max_connections: u32,
    /// Apply pending migrations at start-up; off: run `dinero-bridge migrate` first.
    pub migrate_on_start: bool,
    /// PostgreSQL: how long a caller waits for a pooled connection.
    pub acquire_timeout_secs: u64,
    /// PostgreSQL: a statement running longer is cancelled (and retried as transient).
    pub statement_timeout_secs: u64,
    /// PostgreSQL TLS: disable, allow, prefer, require, verify-ca or verify-full; unset:
    /// the URL's `sslmode`, else prefer.
    pub tls_mode: Option<String>,
    /// PostgreSQL TLS: a PEM file of the CA that signed the server's certificate.
    pub tls_root_cert: Option<PathBuf>,
    /// Finished inbox rows, done orders' history, published outbox records and closed dead
    /// letters older than this are pruned; 0 keeps everything. Ledger rows are kept.
    pub retention_days: u32,
    /// How often a replica prunes.
    pub prune_interval_secs: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: "sqlite://./data/dinero-bridge.db".into(),
            max_connections: 8,
            migrate_on_start: true,
            acquire_timeout_secs: 10,
            statement_timeout_secs: 30,
            tls_mode: None,
            tls_root_cert: None,
            retention_days: 90,
            prune_interval_secs: 3600,
        }
    }
}

/// Which database `store.url` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

const TLS_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

impl StoreSettings {
    pub fn kind(&self) -> Option<StoreKind> {
        if self.url.starts_with("sqlite:") {
            Some(StoreKind::Sqlite)
        } else if self.url.starts_with("postgres://") || self.url.starts_with("postgresql://") {
            Some(StoreKind::Postgres)
        } else {
            None
        }
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.acquire_timeout_secs)
    }

    pub fn statement_timeout(&self) -> Duration {
        Duration::from_secs(self.statement_timeout_secs)
    }

    /// How long finished rows are kept; `None`: forever.
    pub fn retention(&self) -> Option<chrono::Duration> {
        (self.retention_days > 0).then(|| chrono::Duration::days(i64::from(self.retention_days)))
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Bearer tokens of the admin API. Empty: one is generated into `<data dir>/admin-token`.
    pub admin_tokens: Vec<String>,
    /// A file with one admin token per line (e.g. a mounted Kubernetes secret).
    pub admin_tokens_file: Option<PathBuf>,
    /// Base64 of the 32-byte AES-256-GCM key that encrypts tenant secrets at rest.
    /// Empty: one is generated into `<data dir>/encryption-key` on first start.
    pub encryption_key: Option<String>,
    pub encryption_key_file: Option<PathBuf>,
    /// The id stored with each ciphertext, so keys can be rotated.
    pub encryption_key_id: String,
    /// Earlier keys by id (base64), still accepted for reading during a rotation.
    pub previous_encryption_keys: std::collections::BTreeMap<String, String>,
}

/// Secrets never show in debug output.
impl std::fmt::Debug for SecuritySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecuritySettings")
            .field(
                "admin_tokens",
                &format!("[{} REDACTED]", self.admin_tokens.len()),
            )
            .field("admin_tokens_file", &self.admin_tokens_file)
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "[REDACTED]"),
            )
            .field("encryption_key_file", &self.encryption_key_file)
            .field("encryption_key_id", &self.encryption_key_id)
            .finish_non_exhaustive()
    }
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            admin_tokens: Vec::new(),
            admin_tokens_file: None,
            encryption_key: None,
            encryption_key_file: None,
            encryption_key_id: "k1".into(),
            previous_encryption_keys: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineSettings {
    /// Attempts at a transient failure before the order is dead-lettered.
    pub max_attempts: u32,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// Largest accepted difference between an invoice's and its order's totals.
    pub totals_tolerance: Decimal,
    /// On SIGTERM, how long in-flight Dinero calls may take to finish.
    pub shutdown_grace_secs: u64,
    /// Time zone of invoice dates (the shop's local date of completion).
    pub time_zone: String,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            max_attempts: 8,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
            totals_tolerance: Decimal::new(1, 2),
            shutdown_grace_secs: 20,
            time_zone: "Europe/Copenhagen".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `dinero_bridge=debug,info`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration key `{key}`: {message}")]
    Key { key: &'static str, message: String },
}

impl Settings {
    /// Defaults, then the file (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        // Every section and key has a serde default, so an empty figment gives the defaults.
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("DINERO_BRIDGE__").split("__"));
        let settings: Settings = figment.extract().map_err(|error| {
            // figment names the key path (e.g. `http.listen`) in its message.
            ConfigError::Invalid(error.to_string())
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let key = |key, message: &str| {
            Err(ConfigError::Key {
                key,
                message: message.into(),
            })
        };
        if self.store.kind().is_none() {
            return key(
                "store.url",
                "must be sqlite://PATH or postgres://USER@HOST:PORT/DATABASE",
            );
        }
        if let Some(mode) = &self.store.tls_mode {
            if !TLS_MODES.contains(&mode.as_str()) {
                return key(
                    "store.tls_mode",
                    "must be disable, allow, prefer, require, verify-ca or verify-full",
                );
            }
        }
        if self.store.acquire_timeout_secs == 0 || self.store.statement_timeout_secs == 0 {
            return key(
                "store.acquire_timeout_secs",
                "timeouts must be at least 1 second",
            );
        }
        if self.store.prune_interval_secs == 0 {
            return key("store.prune_interval_secs", "must be at least 1");
        }
        if self.store.max_connections == 0 {
            return key("store.max_connections", "must be at least 1");
        }
        if self.http.max_body_bytes < 1024 {
            return key("http.max_body_bytes", "must be at least 1024");
        }
        if self.pipeline.max_attempts == 0 {
            return key("pipeline.max_attempts", "must be at least 1");
        }
        if self.pipeline.backoff_initial_ms == 0
            || self.pipeline.backoff_max_ms < self.pipeline.backoff_initial_ms
        {
            return key(
                "pipeline.backoff_max_ms",
                "must be at least backoff_initial_ms (> 0)",
            );
        }
        if self.pipeline.totals_tolerance < Decimal::ZERO {
            return key("pipeline.totals_tolerance", "must not be negative");
        }
        if self.pipeline.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return key(
                "pipeline.time_zone",
                "is not an IANA time zone (e.g. Europe/Copenhagen)",
            );
        }
        if self.store.kind() == Some(StoreKind::Postgres) {
            // Replicas share one database: each must read the tenant secrets the others wrote
            // and accept the same admin tokens, so nothing may be generated per pod.
            let security = &self.security;
            let mut missing = Vec::new();
            if security.encryption_key.is_none() && security.encryption_key_file.is_none() {
                missing.push("security.encryption_key (or security.encryption_key_file)");
            }
            if security.admin_tokens.iter().all(String::is_empty)
                && security.admin_tokens_file.is_none()
            {
                missing.push("security.admin_tokens (or security.admin_tokens_file)");
            }
            if !missing.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "a PostgreSQL store is shared by replicas, so their secrets must be configured, \
                     not generated: set {} (e.g. DINERO_BRIDGE__SECURITY__ENCRYPTION_KEY and \
                     DINERO_BRIDGE__SECURITY__ADMIN_TOKENS from a Kubernetes Secret)",
                    missing.join(" and ")
                )));
            }
        }
        if self.security.encryption_key_id.is_empty() {
            return key("security.encryption_key_id", "must not be empty");
        }
        let kafka = &self.kafka;
        if kafka.enabled {
            if kafka.bootstrap_servers.trim().is_empty() {
                return key("kafka.bootstrap_servers", "is required in Kafka mode");
            }
            if kafka.input_topic.is_empty()
                || kafka.dead_letter_topic.is_empty()
                || kafka.input_topic == kafka.dead_letter_topic
            {
                return key(
                    "kafka.dead_letter_topic",
                    "input and dead-letter topics must be set and differ",
                );
            }
            if !["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"]
                .contains(&kafka.security_protocol.as_str())
            {
                return key(
                    "kafka.security_protocol",
                    "is one of plaintext, ssl, sasl_plaintext, sasl_ssl",
                );
            }
            if kafka.partitions < 1 || kafka.replication_factor < 1 {
                return key(
                    "kafka.partitions",
                    "partitions and replication_factor must be at least 1",
                );
            }
            if kafka.heartbeat_interval_ms * 3 > kafka.session_timeout_ms {
                return key(
                    "kafka.heartbeat_interval_ms",
                    "must be at most a third of session_timeout_ms",
                );
            }
            if !(0.0..=1.0).contains(&kafka.storm_max_refused_ratio) || kafka.storm_window == 0 {
                return key(
                    "kafka.storm_max_refused_ratio",
                    "must be within 0..1 with a window of at least 1",
                );
            }
        }
        if reqwest::Url::parse(&self.dinero.api_url).is_err() {
            return key("dinero.api_url", "is not a URL");
        }
        if reqwest::Url::parse(&self.dinero.token_url).is_err() {
            return key("dinero.token_url", "is not a URL");
        }
        Ok(())
    }

    /// Where generated secrets live when none are configured: beside the SQLite file.
    pub fn data_dir(&self) -> PathBuf {
        let path = self
            .store
            .url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        Path::new(path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.pipeline
            .time_zone
            .parse()
            .unwrap_or(chrono_tz::Europe::Copenhagen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, toml).unwrap();
        Settings::load(Some(&path))
    }

    #[test]
    fn the_shipped_file_documents_every_key_with_its_default() {
        let shipped = Settings::load(Some(Path::new("config/dinero-bridge.toml"))).unwrap();
        let defaults = Settings::load(None).unwrap();
        assert_eq!(shipped.http.listen, defaults.http.listen);
        assert_eq!(shipped.store.url, defaults.store.url);
        assert_eq!(
            shipped.pipeline.totals_tolerance,
            defaults.pipeline.totals_tolerance
        );
        assert_eq!(shipped.dinero.requests_per_minute, 90);
    }

    #[test]
    fn bad_values_fail_at_start_naming_the_key() {
        let cases = [
            ("[http]\nlisten = \"not an address\"", "listen"),
            ("[pipeline]\nmax_attempts = 0", "pipeline.max_attempts"),
            (
                "[pipeline]\ntime_zone = \"Mars/Olympus\"",
                "pipeline.time_zone",
            ),
            ("[store]\nurl = \"mysql://x\"", "store.url"),
            ("[store]\ntls_mode = \"sometimes\"", "store.tls_mode"),
            (
                "[store]\nstatement_timeout_secs = 0",
                "store.acquire_timeout_secs",
            ),
            (
                "[store]\nprune_interval_secs = 0",
                "store.prune_interval_secs",
            ),
            ("[http]\nlisten_port = 8080", "listen_port"),
            ("[dinero]\napi_url = \"not a url\"", "dinero.api_url"),
        ];
        for (toml, key) in cases {
            let error = load(toml).unwrap_err().to_string();
            assert!(error.contains(key), "{toml}: '{error}' does not name {key}");
        }
    }

    /// Replicas on one database need one key and the same tokens; generating them per pod
    /// would leave each unable to read what another wrote.
    #[test]
    fn a_postgres_store_needs_both_secrets_configured_and_names_them() {
        let error = load("[store]\nurl = \"postgres://bridge@db:5432/bridge\"")
            .unwrap_err()
            .to_string();
        for key in ["security.encryption_key", "security.admin_tokens"] {
            assert!(error.contains(key), "'{error}' does not name {key}");
        }
        let only_key = load(
            "[store]\nurl = \"postgres://bridge@db:5432/bridge\"\n\
             [security]\nencryption_key_file = \"/run/secrets/key\"",
        )
        .unwrap_err()
        .to_string();
        assert!(
            only_key.contains("security.admin_tokens")
                && !only_key.contains("security.encryption_key ")
        );
        assert!(load(
            "[store]\nurl = \"postgres://bridge@db:5432/bridge\"\n\
             [security]\nencryption_key_file = \"/run/secrets/key\"\n\
             admin_tokens_file = \"/run/secrets/tokens\""
        )
        .is_ok());
        // The embedded default still generates its own.
        assert!(load("[store]\nurl = \"sqlite://./data/x.db\"").is_ok());
    }

    #[test]
    fn postgres_urls_are_accepted_and_retention_zero_keeps_everything() {
        let settings = load(
            "[store]\nurl = \"postgresql://bridge@db:5432/bridge\"\nretention_days = 0\n\
             [security]\nencryption_key_file = \"/k\"\nadmin_tokens_file = \"/t\"",
        )
        .unwrap();
        assert_eq!(settings.store.kind(), Some(StoreKind::Postgres));
        assert_eq!(settings.store.retention(), None);
        assert_eq!(
            Settings::load(None).unwrap().store.retention(),
            Some(chrono::Duration::days(90))
        );
    }

    #[test]
    fn a_missing_file_is_an_error() {
        assert!(Settings::load(Some(Path::new("/nonexistent/dinero-bridge.toml"))).is_err());
    }
}
