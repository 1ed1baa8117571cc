//! Tenants: create or replace (checked against Dinero first), read, list, pause, resume.
//! Secrets are write-only: answers say which kind is configured, never the value.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{existing_tenant, tenant_path};
use crate::dinero::{Credentials, DineroError, OrganizationClient};
use crate::domain::ErrorClass;
use crate::http::problem::{ApiResult, Problem};
use crate::http::AppState;
use crate::store::{DineroCredentials, Tenant, TenantSecrets, TenantSettings};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantInput {
    organization_id: i64,
    /// `{"api_key": "..."}` or `{"refresh_token": "..."}`; may be left out on a replace.
    #[serde(default)]
    credentials: Option<CredentialsInput>,
    /// `whsec_...` secrets; may be left out on a replace.
    #[serde(default)]
    webhook_secrets: Option<Vec<String>>,
    #[serde(default)]
    settings: TenantSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsInput {
    api_key: Option<String>,
    refresh_token: Option<String>,
}

pub async fn view(state: &AppState, tenant: &Tenant) -> ApiResult<Value> {
    let pending = state.store.count_pending(&tenant.id).await?;
    let open_dead_letters = state
        .store
        .dead_letters(&tenant.id)
        .await?
        .iter()
        .filter(|d| d.status == crate::store::DeadLetterStatus::Open)
        .count();
    let kind = match tenant.secrets.dinero {
        DineroCredentials::ApiKey { .. } => "api_key",
        DineroCredentials::VismaConnect { .. } => "visma_connect",
    };
    Ok(json!({
        "id": tenant.id,
        "organization_id": tenant.organization_id,
        "credentials": {"kind": kind},
        "webhook_secrets": tenant.secrets.webhook_secrets.len(),
        "settings": tenant.settings,
        "paused": tenant.paused.is_some(),
        "pause_reason": tenant.paused.as_ref().map(|p| p.reason.clone()),
        "paused_at": tenant.paused.as_ref().map(|p| p.at),
        "pending_events": pending,
        "open_dead_letters": open_dead_letters,
        "created_at": tenant.created_at,
        "updated_at": tenant.updated_at,
    }))
}

fn dinero_problem(error: &DineroError) -> Problem {
    match error.class() {
        ErrorClass::TenantState | ErrorClass::Permanent => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "dinero_refused",
            "Dinero refused the tenant's set-up",
            error.to_string(),
        ),
        _ => Problem::new(
            StatusCode::BAD_GATEWAY,
            "dinero_unavailable",
            "Dinero is unavailable",
            error.to_string(),
        ),
    }
}

/// Check the credentials reach the organization with Pro, and read its chart: the VAT
/// percent of each entry account, which the mapping is checked against.
pub async fn read_chart(
    client: &OrganizationClient,
    settings: &TenantSettings,
) -> ApiResult<BTreeMap<i32, Decimal>> {
    client
        .verify_access()
        .await
        .map_err(|e| dinero_problem(&e))?;
    let vat_types = client.vat_types().await.map_err(|e| dinero_problem(&e))?;
    let accounts = client
        .entry_accounts()
        .await
        .map_err(|e| dinero_problem(&e))?;
    let deposit = client
        .deposit_accounts()
        .await
        .map_err(|e| dinero_problem(&e))?;
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
    let mut unknown: Vec<String> = settings
        .accounts
        .entry_accounts()
        .into_iter()
        .filter(|n| !chart.contains_key(n))
        .map(|n| format!("entry account {n}"))
        .collect();
    let mapping = &settings.accounts;
    let deposits = mapping
        .deposit_accounts
        .values()
        .chain(&mapping.default_deposit_account)
        .chain(&mapping.gift_card_deposit_account);
    unknown.extend(
        deposits
            .filter(|n| !deposit.iter().any(|d| d.number == **n))
            .map(|n| format!("deposit account {n}")),
    );
    if !unknown.is_empty() {
        unknown.sort();
        unknown.dedup();
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_accounts",
            "The account mapping names accounts Dinero does not have",
            format!("not in the organization's chart: {}", unknown.join(", ")),
        ));
    }
    Ok(chart)
}

pub async fn put(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    tenant_path(&tenant_id)?;
    let input: TenantInput = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request("invalid_body", format!("the tenant is not valid: {e}"))
    })?;
    if input.organization_id <= 0 || input.organization_id > i64::from(i32::MAX) {
        return Err(Problem::bad_request(
            "invalid_body",
            "organization_id must be a positive Dinero organization id",
        ));
    }
    let existing = state.store.tenant(&tenant_id).await?;
    let dinero = match (input.credentials, &existing) {
        (
            Some(CredentialsInput {
                api_key: Some(key),
                refresh_token: None,
            }),
            _,
        ) if !key.is_empty() => DineroCredentials::ApiKey { api_key: key },
        (
            Some(CredentialsInput {
                api_key: None,
                refresh_token: Some(token),
            }),
            _,
        ) if !token.is_empty() => DineroCredentials::VismaConnect {
            refresh_token: token,
        },
        (Some(_), _) => {
            return Err(Problem::bad_request(
                "invalid_body",
                "credentials take exactly one of api_key or refresh_token",
            ))
        }
        (None, Some(existing)) => existing.secrets.dinero.clone(),
        (None, None) => {
            return Err(Problem::bad_request(
                "invalid_body",
                "credentials are required for a new tenant",
            ))
        }
    };
    let webhook_secrets = match (input.webhook_secrets, &existing) {
        (Some(secrets), _) => secrets,
        (None, Some(existing)) => existing.secrets.webhook_secrets.clone(),
        (None, None) => {
            return Err(Problem::bad_request(
                "invalid_body",
                "webhook_secrets are required for a new tenant",
            ))
        }
    };
    if webhook_secrets.is_empty()
        || webhook_secrets
            .iter()
            .any(|s| !s.starts_with("whsec_") || standardwebhooks::Webhook::new(s).is_err())
    {
        return Err(Problem::bad_request(
            "invalid_webhook_secret",
            "webhook secrets are whsec_ followed by base64",
        ));
    }
    let credentials = match &dinero {
        DineroCredentials::ApiKey { api_key } => Credentials::api_key(api_key.clone()),
        DineroCredentials::VismaConnect { refresh_token } => {
            Credentials::visma_connect(refresh_token.clone(), None)
        }
    };
    state.dinero.forget_token(input.organization_id);
    let client = state
        .dinero
        .organization(input.organization_id, credentials.clone());
    let account_vat = read_chart(&client, &input.settings).await?;
    // A Visma Connect check rotated the refresh token: keep the new one.
    let dinero = match (&credentials, dinero) {
        (
            Credentials::VismaConnect { refresh_token, .. },
            DineroCredentials::VismaConnect { .. },
        ) => {
            use secrecy::ExposeSecret;
            DineroCredentials::VismaConnect {
                refresh_token: refresh_token.lock().expose_secret().to_owned(),
            }
        }
        (_, other) => other,
    };
    let now = Utc::now();
    let tenant = Tenant {
        id: tenant_id.clone(),
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
    state.store.put_tenant(&tenant).await?;
    state.pipeline.wake(&tenant_id);
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(view(&state, &tenant).await?)).into_response())
}

pub async fn get_one(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let tenant = existing_tenant(&state, &tenant_id).await?;
    Ok(Json(view(&state, &tenant).await?))
}

pub async fn list(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    let mut views = Vec::new();
    for tenant in state.store.tenants().await? {
        views.push(view(&state, &tenant).await?);
    }
    Ok(Json(json!({ "tenants": views })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PauseInput {
    reason: Option<String>,
}

pub async fn pause(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    existing_tenant(&state, &tenant_id).await?;
    let input: PauseInput = if body.is_empty() {
        PauseInput::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Problem::bad_request("invalid_body", e.to_string()))?
    };
    let reason = input
        .reason
        .unwrap_or_else(|| "paused by an operator".into());
    state.store.pause(&tenant_id, &reason).await?;
    let tenant = existing_tenant(&state, &tenant_id).await?;
    Ok(Json(view(&state, &tenant).await?))
}

/// Dead letters first, then the held events, then live: all in the lane's inbox order.
/// The chart is read again, since the fix may have been a new account in Dinero.
pub async fn resume(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let mut tenant = existing_tenant(&state, &tenant_id).await?;
    let credentials = match &tenant.secrets.dinero {
        DineroCredentials::ApiKey { api_key } => Credentials::api_key(api_key.clone()),
        DineroCredentials::VismaConnect { refresh_token } => {
            Credentials::visma_connect(refresh_token.clone(), None)
        }
    };
    // Re-reading the chart with Visma Connect would rotate the refresh token outside the
    // lane, which owns its rotation; those tenants keep the chart read when they were saved.
    if matches!(credentials, Credentials::ApiKey(_)) {
        let client = state
            .dinero
            .organization(tenant.organization_id, credentials);
        if let Ok(chart) = read_chart(&client, &tenant.settings).await {
            tenant.account_vat = chart;
            tenant.updated_at = Utc::now();
            state.store.put_tenant(&tenant).await?;
        }
    }
    let requeued = state.store.resume(&tenant_id).await?;
    state.pipeline.wake(&tenant_id);
    let tenant = existing_tenant(&state, &tenant_id).await?;
    let mut answer = view(&state, &tenant).await?;
    answer["requeued_dead_letters"] = json!(requeued);
    Ok(Json(answer))
}
