//! Where Dinero is and how the client treats it: URLs, integrator credentials, timeouts and
//! the request budget per organization.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    pub client_secret: SecretString,
    /// Visma Connect client id (`isv_...`), for tenants that connect by OAuth.
    pub connect_client_id: String,
    pub connect_client_secret: SecretString,
    pub connect_timeout_ms: u64,
    /// Total time for one HTTP exchange, including reading the body.
    pub request_timeout_ms: u64,
    /// Steady request rate per organization; 0 switches the limiter off. Dinero allows 100 a
    /// minute; 90 plus a burst of 10 never exceeds 100 in any 60 seconds.
    pub requests_per_minute: u32,
    pub burst: u32,
    /// How long one call may wait out 429s before it gives up as `Throttled`.
    pub max_throttle_wait_secs: u64,
    /// Renew a token this long before `expires_in` runs out (at most half its lifetime).
    pub token_renew_margin_secs: u64,
}

impl Default for DineroConfig {
    fn default() -> Self {
        DineroConfig {
            api_url: "https://api.dinero.dk".into(),
            token_url: "https://authz.dinero.dk/dineroapi/oauth/token".into(),
            connect_token_url: "https://connect.visma.com/connect/token".into(),
            client_id: String::new(),
            client_secret: SecretString::from(String::new()),
            connect_client_id: String::new(),
            connect_client_secret: SecretString::from(String::new()),
            connect_timeout_ms: 5_000,
            request_timeout_ms: 30_000,
            requests_per_minute: 90,
            burst: 10,
            max_throttle_wait_secs: 300,
            token_renew_margin_secs: 60,
        }
    }
}

impl DineroConfig {
    /// All three endpoints at one base URL, as `dinero-sim` serves them.
    pub fn for_simulator(base_url: &str, client_id: &str, client_secret: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        DineroConfig {
            api_url: base.to_owned(),
            token_url: format!("{base}/dineroapi/oauth/token"),
            connect_token_url: format!("{base}/connect/token"),
            client_id: client_id.to_owned(),
            client_secret: SecretString::from(client_secret.to_owned()),
            ..Self::default()
        }
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}
