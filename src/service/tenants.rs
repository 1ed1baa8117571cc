//! Tenant onboarding and state: create or replace (checked against Dinero first), read,
//! list, pause, resume. Secrets are write-only: views say which kind is configured, never the
//! value. Resume and the admin API's PUT share the chart check.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::{Core, CoreError, CoreResult};
use crate::dinero::{Credentials, HeldRefreshToken, OrganizationClient};
use crate::domain::tenant::is_webhook_secret;
use crate::domain::TenantId;
use crate::domain::{DineroCredentials, Tenant, TenantCounts, TenantSecrets, TenantSettings};
use crate::pipeline::stored_credentials;

/// A tenant as the platform sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantInput {
    pub organization_id: i64,
    /// `{"api_key": "..."}` or `{"refresh_token": "..."}`; may be left out on a replace.
    #[serde(default)]
    pub credentials: Option<CredentialsInput>,
    /// `whsec_...` secrets; may be left out on a replace.
    #[serde(default)]
    pub webhook_secrets: Option<Vec<String>>,
    #[serde(default)]
    pub settings: TenantSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsInput {
    api_key: Option<String>,
    refresh_token: Option<String>,
}

impl std::fmt::Debug for CredentialsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialsInput([REDACTED])")
    }
}

/// What the admin API shows of a tenant.
#[derive(Debug, Serialize)]
pub struct TenantView {
    pub id: String,
    pub organization_id: i64,
    pub credentials: CredentialsKind,
    /// How many webhook secrets are configured.
    pub webhook_secrets: usize,
    pub settings: TenantSettings,
    pub paused: bool,
    pub pause_reason: Option<String>,
    pub paused_at: Option<DateTime<Utc>>,
    pub pending_events: i64,
    pub open_dead_letters: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Resume only: dead letters queued again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requeued_dead_letters: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct CredentialsKind {
    pub kind: &'static str,
}

fn view(tenant: &Tenant, counts: TenantCounts) -> TenantView {
    TenantView {
        id: tenant.id.clone(),
        organization_id: tenant.organization_id,
        credentials: CredentialsKind {
            kind: match tenant.secrets.dinero {
                DineroCredentials::ApiKey { .. } => "api_key",
                DineroCredentials::VismaConnect { .. } => "visma_connect",
            },
        },
        webhook_secrets: tenant.secrets.webhook_secrets.len(),
        settings: tenant.settings.clone(),
        paused: tenant.paused.is_some(),
        pause_reason: tenant.paused.as_ref().map(|p| p.reason.clone()),
        paused_at: tenant.paused.as_ref().map(|p| p.at),
        pending_events: counts.pending_events,
        open_dead_letters: counts.open_dead_letters,
        created_at: tenant.created_at,
        updated_at: tenant.updated_at,
        requeued_dead_letters: None,
    }
}

/// Check the credentials reach the organization with Pro, and read its chart: the VAT
/// percent of each entry account, which the mapping is checked against.
async fn read_chart(
    client: &OrganizationClient,
    settings: &TenantSettings,
) -> CoreResult<BTreeMap<i32, Decimal>> {
    let dinero = |e| CoreError::from_dinero(&e);
    client.verify_access().await.map_err(dinero)?;
    let vat_types = client.vat_types().await.map_err(dinero)?;
    let accounts = client.entry_accounts().await.map_err(dinero)?;
    let deposit = client.deposit_accounts().await.map_err(dinero)?;
    let rate_of = |code: &Option<String>| {
        code.as_ref()
            .and_then(|code| vat_types.iter().find(|v| &v.code == code))
            .map(|v| (v.rate * Decimal::ONE_HUNDRED).normalize())
            .unwrap_or(Decimal::ZERO)
    };
    let chart: BTreeMap<i32, Decimal> = accounts
        .iter()
        .filter(|a| !a.hidden)
        .map(|a| (a.number, rate_of(&a.vat_code)))
        .collect();
    let mapping = &settings.accounts;
    let is_deposit = |n: i32| deposit.iter().any(|d| d.number == n);
    // Each problem named exactly: an account of the wrong kind is not "unknown".
    let mut problems: Vec<String> = mapping
        .entry_accounts()
        .into_iter()
        .filter(|n| !chart.contains_key(n))
        .map(|n| {
            if is_deposit(n) {
                format!("{n} is a deposit account, not an entry account")
            } else {
                format!("entry account {n} is not in the chart")
            }
        })
        .collect();
    let deposits = mapping
        .deposit_accounts
        .values()
        .chain(&mapping.default_deposit_account)
        .chain(&mapping.gift_card_deposit_account);
    problems.extend(deposits.filter(|n| !is_deposit(**n)).map(|n| {
        if accounts.iter().any(|a| a.number == *n) {
            format!("{n} is in the chart, but is not a deposit account")
        } else {
            format!("deposit account {n} is not in the chart")
        }
    }));
    if !problems.is_empty() {
        problems.sort();
        problems.dedup();
        return Err(CoreError::Refused {
            code: "unknown_accounts",
            message: format!(
                "the account mapping does not fit the organization: {}",
                problems.join("; ")
            ),
        });
    }
    Ok(chart)
}

/// Which credentials a PUT leaves the tenant with.
enum NewCredentials {
    /// Sent with this request; not stored anywhere until the check passes.
    Given(DineroCredentials),
    /// The stored ones, unchanged.
    Kept,
}

fn credentials_input(
    input: Option<CredentialsInput>,
    existing: bool,
) -> CoreResult<NewCredentials> {
    let invalid = |message: &str| Err(CoreError::bad_input("invalid_body", message));
    match input {
        Some(CredentialsInput {
            api_key: Some(api_key),
            refresh_token: None,
        }) if !api_key.is_empty() => {
            Ok(NewCredentials::Given(DineroCredentials::ApiKey { api_key }))
        }
        Some(CredentialsInput {
            api_key: None,
            refresh_token: Some(refresh_token),
        }) if !refresh_token.is_empty() => {
            Ok(NewCredentials::Given(DineroCredentials::VismaConnect {
                refresh_token,
            }))
        }
        Some(_) => invalid("credentials take exactly one of api_key or refresh_token"),
        None if existing => Ok(NewCredentials::Kept),
        None => invalid("credentials are required for a new tenant"),
    }
}

/// Credentials sent with a PUT, as checked: a refresh token is held in memory while the
/// check renews it, and stored only if the check passes (as renewed).
enum GivenCredentials {
    ApiKey(String),
    RefreshToken(Arc<HeldRefreshToken>),
}

impl GivenCredentials {
    /// What is stored once the check passed.
    fn after_check(self) -> DineroCredentials {
        match self {
            GivenCredentials::ApiKey(api_key) => DineroCredentials::ApiKey { api_key },
            GivenCredentials::RefreshToken(held) => DineroCredentials::VismaConnect {
                refresh_token: held.get().expose_secret().to_owned(),
            },
        }
    }
}

/// The client's credentials for checking `given`, and what to store after the check.
fn checkable(given: DineroCredentials) -> (Credentials, GivenCredentials) {
    match given {
        DineroCredentials::ApiKey { api_key } => (
            Credentials::api_key(api_key.clone()),
            GivenCredentials::ApiKey(api_key),
        ),
        DineroCredentials::VismaConnect { refresh_token } => {
            let held = Arc::new(HeldRefreshToken::new(refresh_token));
            (
                Credentials::visma_connect(held.clone()),
                GivenCredentials::RefreshToken(held),
            )
        }
    }
}

/// The most tenants one page holds.
pub const MAX_TENANT_PAGE: i64 = 1_000;

/// A page of the tenant list.
#[derive(Debug, Serialize)]
pub struct TenantPage {
    pub tenants: Vec<TenantView>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

impl Core {
    async fn view_of(&self, tenant: &Tenant) -> CoreResult<TenantView> {
        let counts = self
            .store
            .tenant_counts(Some(&tenant.id), "", 1)
            .await?
            .remove(&tenant.id)
            .unwrap_or_default();
        Ok(view(tenant, counts))
    }

    pub async fn tenant(&self, id: &TenantId) -> CoreResult<TenantView> {
        let tenant = self.existing(id).await?;
        self.view_of(&tenant).await
    }

    /// A page of tenants by id with their counts: two queries, whatever the page's size.
    /// `next_after` is the cursor of the next page, absent on the last.
    pub async fn tenants(&self, after: Option<String>, limit: i64) -> CoreResult<TenantPage> {
        if !(1..=MAX_TENANT_PAGE).contains(&limit) {
            return Err(CoreError::bad_input(
                "invalid_limit",
                format!("limit is 1 to {MAX_TENANT_PAGE}"),
            ));
        }
        let after = after.unwrap_or_default();
        let tenants = self.store.tenants(&after, limit).await?;
        let mut counts = self.store.tenant_counts(None, &after, limit).await?;
        let next_after = (tenants.len() as i64 == limit)
            .then(|| tenants.last().map(|t| t.id.clone()))
            .flatten();
        Ok(TenantPage {
            tenants: tenants
                .iter()
                .map(|t| view(t, counts.remove(&t.id).unwrap_or_default()))
                .collect(),
            next_after,
        })
    }

    /// Create or replace a tenant, after Dinero confirmed the credentials, Pro and every
    /// account of the mapping. `true` with the view when it was created.
    pub async fn put_tenant(
        &self,
        id: &TenantId,
        input: TenantInput,
    ) -> CoreResult<(TenantView, bool)> {
        if input.organization_id <= 0 || input.organization_id > i64::from(i32::MAX) {
            return Err(CoreError::bad_input(
                "invalid_body",
                "organization_id must be a positive Dinero organization id",
            ));
        }
        if let Some(url) = &input.settings.notification_url {
            if !crate::config::is_http_url(url) || url.len() > 2000 {
                return Err(CoreError::bad_input(
                    "invalid_body",
                    "settings.notification_url is an http(s) URL of at most 2000 characters",
                ));
            }
        }
        if input.settings.payment_terms_days > crate::domain::order::MAX_TERMS_DAYS {
            return Err(CoreError::bad_input(
                "invalid_body",
                "settings.payment_terms_days is at most 365",
            ));
        }
        let problems = input.settings.accounts.key_problems();
        if !problems.is_empty() {
            return Err(CoreError::bad_input("invalid_body", problems.join("; ")));
        }
        let impossible = input.settings.accounts.impossible_accounts();
        if !impossible.is_empty() {
            return Err(CoreError::bad_input(
                "invalid_body",
                format!("account numbers are positive: {impossible:?}"),
            ));
        }
        let existing = self.store.tenant(id.as_str()).await?;
        let credentials = credentials_input(input.credentials, existing.is_some())?;
        let webhook_secrets = match (input.webhook_secrets, &existing) {
            (Some(secrets), _) => secrets,
            (None, Some(existing)) => existing.secrets.webhook_secrets.clone(),
            (None, None) => {
                return Err(CoreError::bad_input(
                    "invalid_body",
                    "webhook_secrets are required for a new tenant",
                ))
            }
        };
        if webhook_secrets.is_empty() || !webhook_secrets.iter().all(|s| is_webhook_secret(s)) {
            return Err(CoreError::bad_input(
                "invalid_webhook_secret",
                "webhook secrets are whsec_ followed by base64",
            ));
        }
        let same_organization = existing
            .as_ref()
            .is_some_and(|t| t.organization_id == input.organization_id);
        if !(same_organization && matches!(credentials, NewCredentials::Kept)) {
            // Other credentials: a cached access token proves nothing about them.
            self.dinero.forget_token(input.organization_id);
        }
        let (client_credentials, given) = match (credentials, &existing) {
            (NewCredentials::Given(given), _) => {
                let (client, given) = checkable(given);
                (client, Some(given))
            }
            (NewCredentials::Kept, Some(existing)) => {
                (stored_credentials(self.store.clone(), existing), None)
            }
            (NewCredentials::Kept, None) => {
                return Err(CoreError::bad_input(
                    "invalid_body",
                    "credentials are required for a new tenant",
                ))
            }
        };
        let client = self
            .dinero
            .organization(input.organization_id, client_credentials);
        let account_vat = read_chart(&client, &input.settings).await?;
        let now = Utc::now();
        let given = given.map(GivenCredentials::after_check);
        let tenant = match given {
            Some(dinero) => {
                let tenant = Tenant {
                    id: id.to_string(),
                    organization_id: input.organization_id,
                    settings: input.settings,
                    account_vat,
                    secrets: TenantSecrets {
                        dinero,
                        webhook_secrets,
                    },
                    paused: existing.as_ref().and_then(|t| t.paused.clone()),
                    created_at: existing.as_ref().map(|t| t.created_at).unwrap_or(now),
                    updated_at: now,
                };
                self.store.put_tenant(&tenant).await?;
                tenant
            }
            // The stored credentials stay as they are in the store, a refresh token renewed
            // meanwhile (by this check or by the lane) included.
            None => self
                .store
                .update_tenant(id.as_str(), &|tenant| {
                    tenant.organization_id = input.organization_id;
                    tenant.settings = input.settings.clone();
                    tenant.account_vat = account_vat.clone();
                    tenant.secrets.webhook_secrets = webhook_secrets.clone();
                    tenant.updated_at = now;
                })
                .await?
                .ok_or_else(|| CoreError::unknown_tenant(id))?,
        };
        // New settings apply to what waits; a new tenant has nothing waiting (no event is
        // taken for a tenant before it exists), so it gets no lane until its first event.
        if existing.is_some() {
            self.pipeline.wake(id.as_str());
        }
        Ok((self.view_of(&tenant).await?, existing.is_none()))
    }

    pub async fn pause(&self, id: &TenantId, reason: Option<String>) -> CoreResult<TenantView> {
        self.existing(id).await?;
        let reason = reason.unwrap_or_else(|| "paused by an operator".into());
        self.store.pause(id.as_str(), &reason).await?;
        self.metrics.pauses.with_label_values(&["operator"]).inc();
        self.tenant(id).await
    }

    /// Dead letters first, then the held events, then live: all in the lane's inbox order.
    /// The chart is read again, since the fix may have been a new account in Dinero.
    pub async fn resume(&self, id: &TenantId) -> CoreResult<TenantView> {
        let tenant = self.existing(id).await?;
        let client = self.dinero.organization(
            tenant.organization_id,
            stored_credentials(self.store.clone(), &tenant),
        );
        match read_chart(&client, &tenant.settings).await {
            Ok(chart) => {
                let now = Utc::now();
                self.store
                    .update_tenant(id.as_str(), &|tenant| {
                        tenant.account_vat = chart.clone();
                        tenant.updated_at = now;
                    })
                    .await?;
            }
            // The lane meets the same trouble and says so; resume anyway.
            Err(error) => {
                tracing::warn!(tenant = %id, %error, "resume: the chart could not be read again")
            }
        }
        let requeued = self.store.resume(id.as_str()).await?;
        self.metrics.resumes.inc();
        self.pipeline.wake(id.as_str());
        let mut answer = self.tenant(id).await?;
        answer.requeued_dead_letters = Some(requeued);
        Ok(answer)
    }
}
