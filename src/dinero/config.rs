//! Where Dinero is and how the client treats it: URLs, integrator credentials, timeouts and
//! the request budget per organization. Its defaults are the `[dinero]` section of
//! `config/dinero-bridge.toml`.
#![deny(missing_docs)]

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

/// The `[dinero]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DineroConfig {
    /// Base URL of the API (paths carry their own version: /v1/, /v1.2/, /v2/).
    pub api_url: String,
    /// Personal-integration token endpoint (password grant).
    pub token_url: String,
    /// Visma Connect token endpoint (refresh_token grant).
    pub connect_token_url: String,
    /// Integrator client id for the personal-integration grant.
    pub client_id: String,
    /// Integrator client secret for the personal-integration grant.
    #[serde(serialize_with = "redacted")]
    pub client_secret: SecretString,
    /// Visma Connect client id (`isv_...`), for tenants that connect by OAuth.
    pub connect_client_id: String,
    /// Visma Connect client secret.
    #[serde(serialize_with = "redacted")]
    pub connect_client_secret: SecretString,
    /// Time to open a connection to Dinero.
    pub connect_timeout_ms: u64,
    /// Total time for one HTTP exchange, including reading the body.
    pub request_timeout_ms: u64,
    /// Steady request rate per organization; 0 switches the limiter off. Dinero allows 100 a
    /// minute; 97 with a burst of 3 never exceeds 100 in any 60 seconds.
    pub requests_per_minute: u32,
    /// Requests allowed at once on top of the steady rate.
    pub burst: u32,
    /// How long one call may wait out 429s before it gives up as `Throttled`.
    pub max_throttle_wait_secs: u64,
    /// Renew a token this long before `expires_in` runs out (at most half its lifetime).
    pub token_renew_margin_secs: u64,
}

/// Secrets are shown as `[REDACTED]` when settings are printed.
fn redacted<S: Serializer>(_: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str("[REDACTED]")
}

impl DineroConfig {
    /// This configuration with all three endpoints at one base URL, as `dinero-sim` serves
    /// them, and the integrator client given.
    pub fn for_simulator(self, base_url: &str, client_id: &str, client_secret: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        DineroConfig {
            api_url: base.to_owned(),
            token_url: format!("{base}/dineroapi/oauth/token"),
            connect_token_url: format!("{base}/connect/token"),
            client_id: client_id.to_owned(),
            client_secret: SecretString::from(client_secret.to_owned()),
            ..self
        }
    }

    /// `connect_timeout_ms` as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// `request_timeout_ms` as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The API's host name, for the client spans' `server.address`.
    pub fn api_host(&self) -> String {
        reqwest::Url::parse(&self.api_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default()
    }
}
