//! Dead letters: list, retry one now, or resolve one by hand (kept for audit).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::existing_tenant;
use crate::http::problem::{ApiResult, Problem};
use crate::http::AppState;
use crate::pipeline::Overrides;

pub async fn list(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
) -> ApiResult<Json<Value>> {
    existing_tenant(&state, &tenant_id).await?;
    Ok(Json(
        json!({ "dead_letters": state.store.dead_letters(&tenant_id).await? }),
    ))
}

async fn letter(state: &AppState, tenant_id: &str, id: i64) -> ApiResult<crate::store::DeadLetter> {
    existing_tenant(state, tenant_id).await?;
    state
        .store
        .dead_letter(tenant_id, id)
        .await?
        .ok_or_else(|| Problem::not_found("unknown_dead_letter", format!("no dead letter {id}")))
}

/// Transfer the dead letter's order again now (the tenant may stay paused).
pub async fn retry(
    State(state): State<Arc<AppState>>,
    Path((tenant_id, id)): Path<(String, i64)>,
) -> ApiResult<Json<Value>> {
    let dead = letter(&state, &tenant_id, id).await?;
    state.store.retry_dead_letter(&tenant_id, id).await?;
    let outcome = state
        .pipeline
        .transfer_now(&tenant_id, &dead.order_id, Overrides::default())
        .await;
    let letter = letter(&state, &tenant_id, id).await?;
    Ok(Json(
        json!({ "dead_letter": letter, "transferred": outcome.is_ok_and(|r| r.step == crate::store::Step::Done) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveInput {
    reason: String,
}

pub async fn resolve(
    State(state): State<Arc<AppState>>,
    Path((tenant_id, id)): Path<(String, i64)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    letter(&state, &tenant_id, id).await?;
    let input: ResolveInput = serde_json::from_slice(&body).map_err(|_| {
        Problem::bad_request(
            "reason_required",
            "send {\"reason\": \"...\"}: why it is resolved by hand",
        )
    })?;
    if input.reason.trim().is_empty() {
        return Err(Problem::bad_request(
            "reason_required",
            "the reason must not be empty",
        ));
    }
    if !state
        .store
        .resolve_dead_letter(&tenant_id, id, input.reason.trim())
        .await?
    {
        return Err(Problem::new(
            axum::http::StatusCode::CONFLICT,
            "not_open",
            "Conflict",
            "the dead letter is already closed",
        ));
    }
    Ok(Json(
        json!({ "dead_letter": letter(&state, &tenant_id, id).await? }),
    ))
}
