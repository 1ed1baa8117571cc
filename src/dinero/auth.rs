//! Access tokens per organization: the personal-integration password grant (integrator
//! client + the organization's API key) or Visma Connect's rotating refresh token. A token is
//! cached until shortly before `expires_in`; concurrent callers share one token request.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tracing::Instrument;

use super::config::DineroConfig;
use super::error::{DineroError, ErrorBody, TenantStateReason};
use super::wire::TokenAnswer;

/// Where a Visma Connect refresh token lives. The token endpoint answers every use with a new
/// refresh token and the old one stops working, so the current one is read at each renewal
/// and the new one is kept before its access token is used: a crash, a refused request or a
/// second user of the same tenant then never holds a spent token.
#[async_trait::async_trait]
pub trait RefreshTokens: Send + Sync {
    /// The token to spend next.
    async fn current(&self) -> Result<SecretString, String>;
    /// Keep the token that replaced it; an error stops the renewal's access token being used.
    async fn rotated(&self, organization: i64, refresh_token: &SecretString) -> Result<(), String>;
}

/// A refresh token held in memory only: for a token not yet saved anywhere (a tenant being
/// checked before it is stored) and for tools.
pub struct HeldRefreshToken(parking_lot::Mutex<SecretString>);

impl HeldRefreshToken {
    pub fn new(token: impl Into<String>) -> Self {
        HeldRefreshToken(parking_lot::Mutex::new(SecretString::from(token.into())))
    }

    /// The token as it stands now (rotated, if it was used).
    pub fn get(&self) -> SecretString {
        self.0.lock().clone()
    }
}

#[async_trait::async_trait]
impl RefreshTokens for HeldRefreshToken {
    async fn current(&self) -> Result<SecretString, String> {
        Ok(self.get())
    }

    async fn rotated(
        &self,
        _organization: i64,
        refresh_token: &SecretString,
    ) -> Result<(), String> {
        *self.0.lock() = refresh_token.clone();
        Ok(())
    }
}

/// How the service authenticates for one organization.
#[derive(Clone)]
pub enum Credentials {
    /// Personal integration: the organization's API key (with the integrator client from
    /// the configuration).
    ApiKey(SecretString),
    /// Visma Connect: a refresh token, replaced on every use.
    VismaConnect(Arc<dyn RefreshTokens>),
}

impl Credentials {
    pub fn api_key(key: impl Into<String>) -> Self {
        Credentials::ApiKey(SecretString::from(key.into()))
    }

    pub fn visma_connect(tokens: Arc<dyn RefreshTokens>) -> Self {
        Credentials::VismaConnect(tokens)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::ApiKey(_) => f.write_str("Credentials::ApiKey([REDACTED])"),
            Credentials::VismaConnect(_) => f.write_str("Credentials::VismaConnect([REDACTED])"),
        }
    }
}

struct CachedToken {
    token: SecretString,
    valid_until: Instant,
}

/// One slot per organization; its async mutex is held while a token is fetched, so callers
/// that arrive meanwhile wait for that token instead of asking for their own.
#[derive(Default)]
struct Slot {
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

pub struct TokenCache {
    slots: parking_lot::Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    by_organization: HashMap<i64, Arc<Slot>>,
    /// Expired slots are dropped when the map reaches twice its size after the last sweep:
    /// the cache follows the organizations in use, at a cost spread over the inserts.
    sweep_at: usize,
}

/// The smallest map worth sweeping.
const MIN_SWEEP: usize = 64;

impl TokenCache {
    pub fn new() -> Self {
        TokenCache {
            slots: parking_lot::Mutex::new(Slots::default()),
        }
    }

    fn slot(&self, organization: i64) -> Arc<Slot> {
        let mut slots = self.slots.lock();
        if let Some(slot) = slots.by_organization.get(&organization) {
            return slot.clone();
        }
        if slots.by_organization.len() >= slots.sweep_at.max(MIN_SWEEP) {
            let now = Instant::now();
            // Kept: slots in use (a caller holds one) and slots with a token still valid.
            slots.by_organization.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot
                        .token
                        .try_lock()
                        .map_or(true, |t| t.as_ref().is_some_and(|t| t.valid_until > now))
            });
            slots.sweep_at = slots.by_organization.len() * 2;
        }
        slots
            .by_organization
            .entry(organization)
            .or_default()
            .clone()
    }

    /// A valid token, fetched if none is cached.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        config: &DineroConfig,
        organization: i64,
        credentials: &Credentials,
    ) -> Result<SecretString, DineroError> {
        let slot = self.slot(organization);
        let mut cached = slot.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.valid_until > Instant::now()) {
            return Ok(token.token.clone());
        }
        let span = tracing::info_span!("dinero.token", dinero.organization = organization);
        let (token, expires_in) = fetch(http, config, organization, credentials)
            .instrument(span)
            .await?;
        let margin = Duration::from_secs(config.token_renew_margin_secs).min(expires_in / 2);
        *cached = Some(CachedToken {
            token: token.clone(),
            valid_until: Instant::now() + expires_in - margin,
        });
        Ok(token)
    }

    /// Forget the token if it is still the one that was refused (another caller may have
    /// renewed it already).
    pub async fn invalidate(&self, organization: i64, refused: &SecretString) {
        let slot = self.slot(organization);
        let mut cached = slot.token.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.token.expose_secret() == refused.expose_secret())
        {
            *cached = None;
        }
    }

    /// Forget everything about an organization (its credentials changed).
    pub fn forget(&self, organization: i64) {
        self.slots.lock().by_organization.remove(&organization);
    }
}

const OPERATION: &str = "get access token";

async fn fetch(
    http: &reqwest::Client,
    config: &DineroConfig,
    organization: i64,
    credentials: &Credentials,
) -> Result<(SecretString, Duration), DineroError> {
    let missing = |what: &str| DineroError::TenantState {
        operation: OPERATION,
        reason: TenantStateReason::CredentialsMissing,
        status: None,
        code: None,
        message: format!("{what} is not configured"),
    };
    let request = match credentials {
        Credentials::ApiKey(key) => {
            if key.expose_secret().is_empty() {
                return Err(missing("the organization's API key"));
            }
            if config.client_id.is_empty() {
                return Err(missing("the integrator client id (dinero.client_id)"));
            }
            let form = [
                ("grant_type", "password"),
                ("scope", "read write"),
                ("username", key.expose_secret()),
                ("password", key.expose_secret()),
            ];
            http.post(&config.token_url)
                .basic_auth(
                    &config.client_id,
                    Some(config.client_secret.expose_secret()),
                )
                .form(&form)
        }
        Credentials::VismaConnect(tokens) => {
            if config.connect_client_id.is_empty() {
                return Err(missing(
                    "the Visma Connect client id (dinero.connect_client_id)",
                ));
            }
            let refresh = tokens
                .current()
                .await
                .map_err(|message| DineroError::Unavailable {
                    operation: OPERATION,
                    status: None,
                    code: None,
                    message: format!("cannot read the refresh token: {message}"),
                })?;
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.expose_secret()),
            ];
            http.post(&config.connect_token_url)
                .basic_auth(
                    &config.connect_client_id,
                    Some(config.connect_client_secret.expose_secret()),
                )
                .form(&form)
        }
    };
    let response = request
        .send()
        .await
        .map_err(|error| DineroError::Unavailable {
            operation: OPERATION,
            status: None,
            code: None,
            message: super::transport::describe(&error),
        })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(token_error(status, &body));
    }
    let answer: TokenAnswer =
        serde_json::from_str(&body).map_err(|error| DineroError::UnexpectedResponse {
            operation: OPERATION,
            reason: error.to_string(),
        })?;
    if let (Credentials::VismaConnect(tokens), Some(new)) = (credentials, answer.refresh_token) {
        // Kept before the access token is used: the spent token is worthless from now on.
        tokens
            .rotated(organization, &SecretString::from(new))
            .await
            .map_err(|message| DineroError::Unavailable {
                operation: OPERATION,
                status: None,
                code: None,
                message: format!("cannot keep the rotated refresh token: {message}"),
            })?;
    }
    // Dinero's tokens live about an hour; an answer without expires_in is treated as such.
    let expires_in = Duration::from_secs(answer.expires_in.unwrap_or(3600).max(1));
    tracing::debug!(expires_in = expires_in.as_secs(), "access token issued");
    Ok((SecretString::from(answer.access_token), expires_in))
}

/// OAuth errors (RFC 6749 §5.2): `invalid_client` blames the integrator's client,
/// `invalid_grant` the tenant's key or refresh token; 5xx is worth retrying.
fn token_error(status: u16, body: &str) -> DineroError {
    let parsed = ErrorBody::parse(body);
    let error_code = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let reason = match (status, error_code.as_str()) {
        (500..=599, _) | (408, _) | (429, _) => {
            return DineroError::Unavailable {
                operation: OPERATION,
                status: Some(status),
                code: None,
                message: parsed.message,
            }
        }
        (_, "invalid_client") | (401, _) => TenantStateReason::ClientRejected,
        _ => TenantStateReason::CredentialsRejected,
    };
    DineroError::TenantState {
        operation: OPERATION,
        reason,
        status: Some(status),
        code: None,
        message: parsed.message,
    }
}
