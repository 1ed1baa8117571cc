//! Simulator settings: command-line flags, and the same struct for tests that start it in-process.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};

/// Everything `dinero-sim` can be told at start. Every Dinero behaviour that
/// `dinero-api.md` marks as uncertain is a flag here, so a test can pin either reading.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "dinero-sim",
    version,
    about = "A stateful simulator of the Dinero REST API (api.dinero.dk), its token endpoints and \
             Visma Connect, for testing dinero-bridge.",
    long_about = "A stateful simulator of the Dinero REST API (api.dinero.dk), its personal-\
integration token endpoint and the Visma Connect token endpoint.\n\n\
All hosts are served from one listener:\n  \
POST /dineroapi/oauth/token   personal integration (password grant)\n  \
POST /connect/token           Visma Connect (authorization_code, refresh_token)\n  \
/v1/..., /v1.1/..., /v1.2/..., /v2/...  the Dinero API\n  \
/_sim/...                     admin: seeding, faults, request log, state (no auth)\n\n\
Without --scenario a demo world is seeded: organization 1000 (Pro, API key \
'demo-api-key'), organization 2000 (not Pro, API key 'nopro-api-key'), integrator client \
'dinero-bridge-dev' / 'dev-secret', Visma Connect client 'isv_dinero_bridge' / 'isv-secret'."
)]
pub struct SimConfig {
    /// Address to listen on (use port 0 for any free port).
    #[arg(long, default_value = "127.0.0.1:8090", env = "DINERO_SIM_LISTEN")]
    pub listen: SocketAddr,

    /// JSON scenario file seeding clients, organizations, accounts, contacts and used invoice
    /// numbers (see dinero-sim/scenarios/demo.json). Without it the demo world is seeded.
    #[arg(long)]
    pub scenario: Option<PathBuf>,

    /// Lifetime of issued access tokens (`expires_in`).
    #[arg(long, default_value_t = 3600)]
    pub token_lifetime_secs: u64,

    /// Requests per rate-limit window per organization; 0 switches the limit off.
    #[arg(long, default_value_t = 100)]
    pub rate_limit: u32,

    /// Length of the fixed rate-limit window (Dinero: one minute).
    #[arg(long, default_value_t = 60_000)]
    pub rate_limit_window_ms: u64,

    /// Do not send `Retry-After` on 429 (real Dinero's behaviour is undocumented).
    #[arg(long)]
    pub no_retry_after: bool,

    /// Spelling of JSON error bodies (undocumented by Dinero).
    #[arg(long, value_enum, default_value_t = ErrorStyle::Camel)]
    pub error_style: ErrorStyle,

    /// HTTP status for a write with an outdated Timestamp (ERR says 400; one client saw 409).
    #[arg(long, default_value_t = 400)]
    pub stale_timestamp_status: u16,

    /// Error code sent with 403 when an organization has no Pro subscription (ERR: 90, OLD: 48).
    #[arg(long, default_value_t = 90)]
    pub no_pro_error_code: i64,

    /// HTTP status when booking with a `Number` that is already used (undocumented; likely 400).
    #[arg(long, default_value_t = 400)]
    pub number_taken_status: u16,

    /// Rounding of amounts to two decimals (undocumented; .NET's default would be half-even).
    #[arg(long, value_enum, default_value_t = Rounding::HalfAwayFromZero)]
    pub rounding: Rounding,

    /// Validate every request and response of the Dinero API against the schemas of the
    /// bundled OpenAPI document; request violations get 400, response violations are recorded
    /// (GET /_sim/stats) and logged.
    #[arg(long)]
    pub validate_spec: bool,

    /// How many requests the request log keeps (oldest dropped first).
    #[arg(long, default_value_t = 10_000)]
    pub request_log_capacity: usize,

    /// Faults injected from the start (also settable with PUT /_sim/faults).
    #[command(flatten)]
    pub faults: FaultConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig::parse_from(["dinero-sim"])
    }
}

impl SimConfig {
    /// Defaults for tests: any free port, everything else as documented.
    pub fn for_tests() -> Self {
        SimConfig {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            ..Self::default()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorStyle {
    /// `{"code": 42, "message": "...", "validationErrors": {...}}` (what PHP clients parse).
    Camel,
    /// `{"ErrorCode": 42, "Message": "...", "ValidationErrors": {...}}`.
    Pascal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rounding {
    HalfAwayFromZero,
    HalfEven,
}

/// Injected faults. Rates are fractions of requests to the Dinero API (0.0 to 1.0); the
/// token endpoints and /_sim are never faulted.
#[derive(Clone, Debug, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Fixed latency added to every API request.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Uniform random latency added on top of `latency_ms`.
    #[arg(long, default_value_t = 0)]
    pub latency_jitter_ms: u64,
    /// Fraction of requests answered 500 before doing anything.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Fraction of writes (POST, PUT, DELETE) that are committed, after which the connection is
    /// dropped without a response.
    #[arg(long, default_value_t = 0.0)]
    pub ambiguous_rate: f64,
    /// Fraction of requests answered 429 regardless of the rate limit (1.0 = a 429 storm).
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Fraction of requests answered 480 (Dinero's brownout of deprecated endpoints).
    #[arg(long, default_value_t = 0.0)]
    pub brownout_rate: f64,
    /// Faults apply only to this organization when set.
    #[arg(long)]
    pub only_organization: Option<i64>,
    /// Faults apply only to this route template when set, e.g.
    /// `/v1/{organizationId}/invoices/{guid}/book`.
    #[arg(long)]
    pub only_route: Option<String>,
    /// Reset all faults to none after this many milliseconds (admin endpoint only: a storm).
    #[arg(skip)]
    pub for_ms: Option<u64>,
}
