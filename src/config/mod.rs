//! Settings: the documented `config/dinero-bridge.toml` (embedded: the one source of every
//! default), then a TOML file, then `DINERO_BRIDGE__SECTION__KEY` environment variables. A bad
//! value fails at start with a message naming the key. Secrets may come from files (`*_file`
//! keys) and are never printed.
#![deny(missing_docs)]

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

/// Every setting of the service, by section as in `config/dinero-bridge.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The HTTP listener: webhook, admin API, health.
    pub http: HttpSettings,
    /// Where the inbox, ledger and tenants are kept.
    pub store: StoreSettings,
    /// Admin tokens and the key that encrypts tenant secrets.
    pub security: SecuritySettings,
    /// Where Dinero is and how it is called.
    pub dinero: DineroConfig,
    /// Retries, tolerances and shutdown of the tenant lanes.
    pub pipeline: PipelineSettings,
    /// Kafka mode (off: embedded mode).
    pub kafka: KafkaSettings,
    /// Log format and level.
    pub log: LogSettings,
    /// Without Kafka: where the platform hears of dead letters, pauses and resumes.
    pub notifications: NotificationSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// OpenTelemetry traces (off unless an OTLP endpoint is configured).
    pub traces: TraceSettings,
    /// The nightly reconciliation of every shop's ledger with Dinero (off unless a time is
    /// set).
    pub reconciliation: ReconciliationSettings,
}

/// The nightly reconciliation: at `daily_at` (in `pipeline.time_zone`) one replica compares
/// every shop's ledger with Dinero for the day before, counting what differs in the metrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationSettings {
    /// `HH:MM` (or `HH:MM:SS`); empty: no nightly run.
    pub daily_at: String,
}

impl ReconciliationSettings {
    /// The time of the nightly run, when one is set (validated at load).
    pub fn daily_at(&self) -> Option<chrono::NaiveTime> {
        let at = self.daily_at.trim();
        if at.is_empty() {
            return None;
        }
        chrono::NaiveTime::parse_from_str(at, "%H:%M:%S")
            .or_else(|_| chrono::NaiveTime::parse_from_str(at, "%H:%M"))
            .ok()
    }
}

/// OpenTelemetry traces, exported over OTLP/gRPC. The standard `OTEL_*` variables win over
/// these keys (`telemetry::traces` reads them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSettings {
    /// The collector, e.g. `http://otel-collector:4317`; empty: off unless `OTEL_EXPORTER_OTLP_*`
    /// names one.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of the traces started here that are recorded; a sampled caller is always followed.
    pub sample_ratio: f64,
}

/// Prometheus metrics, served at `/metrics` on the HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Seconds between the replica's one query for the gauges kept in the database.
    pub refresh_secs: u64,
    /// Also serve `/metrics` alone on this address (e.g. a port only Prometheus reaches);
    /// unset: the HTTP listener's `/metrics` only.
    pub listen: Option<SocketAddr>,
}

/// Without Kafka, each outbox record (an order dead-lettered, a tenant paused or resumed) is
/// POSTed as a signed CloudEvent to this URL, or to the tenant's own `notification_url`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// The deployment's receiver; empty: only tenants with their own URL are notified.
    pub url: String,
    /// `whsec_...`: signs each notification (Standard Webhooks), as the platform signs ours.
    #[serde(serialize_with = "secrets::redacted_string")]
    pub secret: String,
    /// How long one delivery may take.
    pub timeout_ms: u64,
    /// The first wait after a failed delivery; it doubles, with jitter.
    pub backoff_initial_ms: u64,
    /// The longest wait between deliveries to a failing receiver.
    pub backoff_max_ms: u64,
    /// How often the outbox is read when it was empty.
    pub poll_interval_ms: u64,
}

impl std::fmt::Debug for NotificationSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationSettings")
            .field("url", &self.url)
            .field("secret", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// The documented configuration file, embedded: every default comes from here.
pub const DEFAULTS: &str = include_str!("../../config/dinero-bridge.toml");

/// Kafka mode: the consumer group on the input topic, the dead-letter topic, the producer
/// that webhooks go through. Off by default (embedded mode).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// On: consume the input topic and send webhooks through it.
    pub enabled: bool,
    /// Brokers to start from, `host:port` separated by commas.
    pub bootstrap_servers: String,
    /// The consumer group all replicas join.
    pub group_id: String,
    /// CloudEvents order events, key = tenant id.
    pub input_topic: String,
    /// Dead letters, poison records, and the tenants' paused/resumed records.
    pub dead_letter_topic: String,
    /// Create both topics at start (brokers without auto-creation, e.g. tansu).
    pub create_topics: bool,
    /// Partitions of topics created at start.
    pub partitions: i32,
    /// Replication factor of topics created at start.
    pub replication_factor: i32,
    /// How the client talks to the brokers.
    pub security_protocol: SecurityProtocol,
    /// The SASL mechanism, with a `sasl_*` protocol.
    pub sasl_mechanism: Option<SaslMechanism>,
    /// The SASL user name.
    pub sasl_username: Option<String>,
    /// The SASL password (better from the environment or a secret).
    #[serde(serialize_with = "secrets::redacted_option")]
    pub sasl_password: Option<String>,
    /// A PEM file of the CA that signed the brokers' certificates.
    pub ssl_ca_location: Option<PathBuf>,
    /// The consumer's session timeout: a replica silent this long leaves the group.
    pub session_timeout_ms: u32,
    /// How often the consumer tells the group it is alive (at most a third of the above).
    pub heartbeat_interval_ms: u32,
    /// The storm guard: over the last `storm_window` records, more than this share refused
    /// means a bad deploy, not bad data: stop consuming and report not ready.
    pub storm_window: usize,
    /// See `storm_window`.
    pub storm_max_refused_ratio: f64,
    /// Further librdkafka properties, passed as they are.
    pub properties: std::collections::BTreeMap<String, String>,
}

/// How the Kafka client talks to the brokers (librdkafka's `security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityProtocol {
    /// No TLS, no SASL.
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL without TLS.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// librdkafka's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }
}

/// SASL mechanisms librdkafka offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaslMechanism {
    /// User name and password in the clear (over TLS only).
    #[serde(rename = "PLAIN")]
    Plain,
    /// SCRAM with SHA-256.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// SCRAM with SHA-512.
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
    /// OAuth bearer tokens.
    #[serde(rename = "OAUTHBEARER")]
    OauthBearer,
    /// Kerberos.
    #[serde(rename = "GSSAPI")]
    Gssapi,
}

impl SaslMechanism {
    /// librdkafka's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OauthBearer => "OAUTHBEARER",
            SaslMechanism::Gssapi => "GSSAPI",
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

/// The HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Where the webhook, admin API, health and metrics listen.
    pub listen: SocketAddr,
    /// Largest accepted webhook or admin body. (Webhook timestamps are accepted within the
    /// Standard Webhooks tolerance of 5 minutes, as its reference library enforces.)
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0: one per CPU core.
    pub workers: usize,
}

/// The store: SQLite for the embedded default, PostgreSQL for replicas.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://PATH` (the embedded default; folders are created) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...]` (production).
    pub url: String,
    /// Connections in the pool, per replica.
    pub max_connections: u32,
    /// Apply pending migrations at start-up; off: run `dinero-bridge migrate` first.
    pub migrate_on_start: bool,
    /// PostgreSQL: how long a caller waits for a pooled connection.
    pub acquire_timeout_secs: u64,
    /// PostgreSQL: a statement running longer is cancelled (and retried as transient).
    pub statement_timeout_secs: u64,
    /// PostgreSQL TLS; unset: the URL's `sslmode`, else prefer.
    pub tls_mode: Option<PgTlsMode>,
    /// PostgreSQL TLS: a PEM file of the CA that signed the server's certificate.
    pub tls_root_cert: Option<PathBuf>,
    /// Finished inbox rows, done orders' history, published outbox records and closed dead
    /// letters older than this are pruned; 0 keeps everything. Ledger rows are kept.
    pub retention_days: u32,
    /// How often a replica prunes.
    pub prune_interval_secs: u64,
}

/// Which database `store.url` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `sqlite://PATH`
    Sqlite,
    /// `postgres://...`
    Postgres,
}

/// PostgreSQL's TLS modes (`sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PgTlsMode {
    /// Never TLS.
    Disable,
    /// TLS if the server insists.
    Allow,
    /// TLS if the server offers it.
    Prefer,
    /// TLS, without checking the certificate.
    Require,
    /// TLS with a certificate signed by the CA (`tls_root_cert`).
    VerifyCa,
    /// As verify-ca, and the certificate names the host.
    VerifyFull,
}

impl PgTlsMode {
    /// PostgreSQL's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PgTlsMode::Disable => "disable",
            PgTlsMode::Allow => "allow",
            PgTlsMode::Prefer => "prefer",
            PgTlsMode::Require => "require",
            PgTlsMode::VerifyCa => "verify-ca",
            PgTlsMode::VerifyFull => "verify-full",
        }
    }
}

impl StoreSettings {
    /// Which database the URL names, if either.
    pub fn kind(&self) -> Option<StoreKind> {
        if self.url.starts_with("sqlite:") {
            Some(StoreKind::Sqlite)
        } else if self.url.starts_with("postgres://") || self.url.starts_with("postgresql://") {
            Some(StoreKind::Postgres)
        } else {
            None
        }
    }

    /// `acquire_timeout_secs` as a duration.
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.acquire_timeout_secs)
    }

    /// `statement_timeout_secs` as a duration.
    pub fn statement_timeout(&self) -> Duration {
        Duration::from_secs(self.statement_timeout_secs)
    }

    /// How long finished rows are kept; `None`: forever.
    pub fn retention(&self) -> Option<chrono::Duration> {
        (self.retention_days > 0).then(|| chrono::Duration::days(i64::from(self.retention_days)))
    }
}

/// Admin tokens and the key that encrypts tenant secrets at rest.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// Bearer tokens of the admin API. Empty: one is generated into `<data dir>/admin-token`.
    #[serde(serialize_with = "secrets::redacted_list")]
    pub admin_tokens: Vec<String>,
    /// A file with one admin token per line (e.g. a mounted Kubernetes secret).
    pub admin_tokens_file: Option<PathBuf>,
    /// Base64 of the 32-byte AES-256-GCM key that encrypts tenant secrets at rest.
    /// Empty: one is generated into `<data dir>/encryption-key` on first start.
    #[serde(serialize_with = "secrets::redacted_option")]
    pub encryption_key: Option<String>,
    /// A file holding `encryption_key` (e.g. a mounted Kubernetes secret).
    pub encryption_key_file: Option<PathBuf>,
    /// The id stored with each ciphertext, so keys can be rotated.
    pub encryption_key_id: String,
    /// Earlier keys by id (base64), still accepted for reading during a rotation.
    #[serde(serialize_with = "secrets::redacted_map")]
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

/// The tenant lanes: retries, the totals check, shutdown, invoice dates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    /// Attempts at a transient failure before the order is dead-lettered.
    pub max_attempts: u32,
    /// The first backoff between attempts; it doubles, with jitter.
    pub backoff_initial_ms: u64,
    /// The longest backoff between attempts.
    pub backoff_max_ms: u64,
    /// Largest accepted difference between an invoice's and its order's totals.
    pub totals_tolerance: Decimal,
    /// On SIGTERM, how long in-flight Dinero calls may take to finish.
    pub shutdown_grace_secs: u64,
    /// Time zone of invoice dates (the shop's local date of completion).
    pub time_zone: String,
    /// A lane with nothing to do ends after this long (0: lanes are kept).
    pub lane_idle_secs: u64,
    /// Seconds a shop's contact cache may go without reading Dinero's contact list
    /// (`changesSince`): while it is fresh, a customer the cache does not know is new and is
    /// created without looking it up. 0: off, each unknown customer is looked up.
    pub contact_sync_secs: u64,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `dinero_bridge=debug,info`.
    pub level: String,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people.
    Text,
    /// For log collectors.
    Json,
}

/// An absolute `http` or `https` URL.
pub fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// A configuration the service cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, or settings taken together, are wrong.
    #[error("configuration: {0}")]
    Invalid(String),
    /// One key's value is wrong.
    #[error("configuration key `{key}`: {message}")]
    Key {
        /// The key, e.g. `store.url`.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl Settings {
    /// The documented defaults alone.
    pub fn defaults() -> Settings {
        Figment::from(Toml::string(DEFAULTS))
            .extract()
            .expect("config/dinero-bridge.toml holds every setting")
    }

    /// Defaults, then the file (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
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
        if !(0.0..=1.0).contains(&self.traces.sample_ratio) {
            return key("traces.sample_ratio", "must be between 0.0 and 1.0");
        }
        if !self.traces.otlp_endpoint.is_empty() && !is_http_url(&self.traces.otlp_endpoint) {
            return key(
                "traces.otlp_endpoint",
                "must be an http(s) URL, e.g. http://otel-collector:4317",
            );
        }
        if self.metrics.refresh_secs == 0 {
            return key("metrics.refresh_secs", "must be at least 1");
        }
        if !self.reconciliation.daily_at.trim().is_empty()
            && self.reconciliation.daily_at().is_none()
        {
            return key(
                "reconciliation.daily_at",
                "must be a time of day, HH:MM or HH:MM:SS (empty: no nightly run)",
            );
        }
        let notifications = &self.notifications;
        if !notifications.url.is_empty() {
            if !is_http_url(&notifications.url) {
                return key("notifications.url", "is not an http(s) URL");
            }
            if !crate::domain::tenant::is_webhook_secret(&notifications.secret) {
                return key(
                    "notifications.secret",
                    "is required with a notification URL: whsec_ followed by base64",
                );
            }
        }
        if notifications.backoff_initial_ms == 0
            || notifications.backoff_max_ms < notifications.backoff_initial_ms
            || notifications.timeout_ms == 0
            || notifications.poll_interval_ms == 0
        {
            return key(
                "notifications.backoff_max_ms",
                "timeouts and intervals must be positive, backoff_max_ms at least backoff_initial_ms",
            );
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

    /// `pipeline.time_zone`, parsed (validated at load).
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

    /// Leaf keys of a settings tree, dotted; an empty table (a map setting) is a leaf.
    fn leaves(
        prefix: &str,
        value: &serde_json::Value,
        keys: &mut std::collections::BTreeSet<String>,
    ) {
        match value.as_object() {
            Some(fields) if !fields.is_empty() => {
                for (key, value) in fields {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    leaves(&path, value, keys);
                }
            }
            _ => {
                keys.insert(prefix.to_owned());
            }
        }
    }

    /// Keys the documented file shows commented out (`# key = ...`: optional settings with
    /// no default), by section; examples inside map tables are entries, not keys.
    fn commented_keys(text: &str) -> std::collections::BTreeSet<String> {
        let mut section = String::new();
        let mut keys = std::collections::BTreeSet::new();
        for line in text.lines().map(str::trim) {
            if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = header.to_owned();
            } else if let Some(rest) = line.strip_prefix('#') {
                let Some((key, _)) = rest.split_once('=') else {
                    continue;
                };
                let key = key.trim();
                let is_key =
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                if is_key && !section.contains('.') {
                    keys.insert(format!("{section}.{key}"));
                }
            }
        }
        keys
    }

    /// One source of defaults: every setting is in the documented file (set, or commented
    /// out when it has no default), and every key of the file is a setting.
    #[test]
    fn every_setting_is_in_the_documented_file_and_every_key_there_is_a_setting() {
        let mut settings = std::collections::BTreeSet::new();
        leaves(
            "",
            &serde_json::to_value(Settings::defaults()).unwrap(),
            &mut settings,
        );
        let file: serde_json::Value = Figment::from(Toml::string(DEFAULTS)).extract().unwrap();
        let mut documented = commented_keys(DEFAULTS);
        leaves("", &file, &mut documented);
        let undocumented: Vec<_> = settings.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&settings).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "settings missing from config/dinero-bridge.toml: {undocumented:?}; \
             keys there that are no setting: {unknown:?}"
        );
        assert!(
            settings.len() > 50,
            "the walk found the settings: {settings:?}"
        );
    }

    #[test]
    fn the_defaults_are_the_documented_file() {
        let defaults = Settings::load(None).unwrap();
        assert_eq!(defaults.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(defaults.dinero.requests_per_minute, 97);
        assert_eq!(
            defaults.kafka.security_protocol,
            SecurityProtocol::Plaintext
        );
        assert_eq!(defaults.store.tls_mode, None);
        let shown = serde_json::to_string(&defaults).unwrap();
        assert!(
            shown.contains("\"client_secret\":\"[REDACTED]\""),
            "{shown}"
        );
    }

    #[test]
    fn modes_are_enums_named_as_their_systems_name_them() {
        let settings = load(
            "[store]\ntls_mode = \"verify-full\"\n\
             [kafka]\nsecurity_protocol = \"sasl_ssl\"\nsasl_mechanism = \"SCRAM-SHA-512\"",
        )
        .unwrap();
        assert_eq!(settings.store.tls_mode, Some(PgTlsMode::VerifyFull));
        assert_eq!(settings.kafka.security_protocol, SecurityProtocol::SaslSsl);
        assert_eq!(
            settings.kafka.sasl_mechanism,
            Some(SaslMechanism::ScramSha512)
        );
        for (toml, key) in [
            ("[kafka]\nsecurity_protocol = \"tls\"", "security_protocol"),
            ("[kafka]\nsasl_mechanism = \"scram\"", "sasl_mechanism"),
        ] {
            let error = load(toml).unwrap_err().to_string();
            assert!(error.contains(key), "{toml}: '{error}' does not name {key}");
        }
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
            (
                "[notifications]\nurl = \"http://platform/hooks\"\nsecret = \"not-whsec\"",
                "notifications.secret",
            ),
            (
                "[notifications]\nurl = \"ftp://platform\"",
                "notifications.url",
            ),
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
