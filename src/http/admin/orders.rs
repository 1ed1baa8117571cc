//! Orders: the per-order log that operators and merchants read, and the manual transfer.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::existing_tenant;
use crate::http::problem::{ApiResult, Problem};
use crate::http::AppState;
use crate::pipeline::{ManualError, Overrides, PipelineError};
use crate::store::{EventStatus, OrderRecord, Step, StoredEvent, Tenant};

/// One word for where an order stands, for people and for `?status=`.
fn status(tenant: &Tenant, event: &StoredEvent, record: Option<&OrderRecord>) -> &'static str {
    match (event.status, record.map(|r| r.step)) {
        (_, Some(Step::Done)) | (EventStatus::Done, _) => "done",
        (EventStatus::Dead, _) | (_, Some(Step::Failed)) => "failed",
        (EventStatus::Resolved, _) => "resolved",
        (EventStatus::Pending, _) if tenant.paused.is_some() || !tenant.settings.auto_transfer => {
            "held"
        }
        (EventStatus::Pending, None) => "pending",
        (EventStatus::Pending, Some(_)) => "in_progress",
        (EventStatus::Duplicate, _) => "duplicate",
        (EventStatus::Conflict, _) => "conflict",
    }
}

fn summary(tenant: &Tenant, event: &StoredEvent, record: Option<&OrderRecord>) -> Value {
    json!({
        "order_id": event.order_id,
        "status": status(tenant, event, record),
        "event_id": event.event_id,
        "received_at": event.received_at,
        "step": record.map(|r| r.step),
        "dinero": {
            "invoice_guid": record.and_then(|r| r.invoice_guid),
            "invoice_number": record.and_then(|r| r.invoice_number),
            "contact_guid": record.and_then(|r| r.contact_guid),
        },
        "error": record.and_then(|r| r.error.clone()),
        "error_class": record.and_then(|r| r.error_class.clone()),
        "attempts": record.map(|r| r.attempts).unwrap_or(0),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    500
}

const STATUSES: &[&str] = &[
    "pending",
    "held",
    "in_progress",
    "done",
    "failed",
    "resolved",
];

pub async fn list(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let tenant = existing_tenant(&state, &tenant_id).await?;
    if let Some(wanted) = &query.status {
        if !STATUSES.contains(&wanted.as_str()) {
            return Err(Problem::bad_request(
                "invalid_status",
                format!("status is one of {}", STATUSES.join(", ")),
            ));
        }
    }
    let mut orders = Vec::new();
    for event in state
        .store
        .primary_events(&tenant_id, query.limit.clamp(1, 5_000))
        .await?
    {
        let record = state.store.order(&tenant_id, &event.order_id).await?;
        let row = summary(&tenant, &event, record.as_ref());
        if query
            .status
            .as_deref()
            .is_none_or(|wanted| row["status"] == wanted)
        {
            orders.push(row);
        }
    }
    Ok(Json(json!({ "orders": orders })))
}

pub async fn get_one(
    State(state): State<Arc<AppState>>,
    Path((tenant_id, order_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let tenant = existing_tenant(&state, &tenant_id).await?;
    let events = state.store.events_for_order(&tenant_id, &order_id).await?;
    let primary = events
        .iter()
        .find(|e| !matches!(e.status, EventStatus::Duplicate | EventStatus::Conflict))
        .ok_or_else(|| {
            Problem::not_found(
                "unknown_order",
                format!("no order '{order_id}' for this tenant"),
            )
        })?;
    let record = state.store.order(&tenant_id, &order_id).await?;
    let mut answer = summary(&tenant, primary, record.as_ref());
    answer["history"] = json!(state.store.order_history(&tenant_id, &order_id).await?);
    answer["events"] = json!(events
        .iter()
        .map(|e| json!({
            "event_id": e.event_id,
            "sequence": e.seq,
            "status": e.status.as_str(),
            "received_at": e.received_at,
            "payload": serde_json::from_str::<Value>(&e.payload).unwrap_or(Value::Null),
        }))
        .collect::<Vec<_>>());
    answer["dead_letters"] = json!(state
        .store
        .dead_letters(&tenant_id)
        .await?
        .into_iter()
        .filter(|d| d.order_id == order_id)
        .collect::<Vec<_>>());
    if let Some(paused) = &tenant.paused {
        answer["tenant_paused"] = json!({"reason": paused.reason, "at": paused.at});
    }
    Ok(Json(answer))
}

/// The shop's "transfer" button: one order now, also while the tenant is paused.
pub async fn transfer(
    State(state): State<Arc<AppState>>,
    Path((tenant_id, order_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let tenant = existing_tenant(&state, &tenant_id).await?;
    let overrides: Overrides = if body.is_empty() {
        Overrides::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| Problem::bad_request("invalid_body", e.to_string()))?
    };
    let record = state
        .pipeline
        .transfer_now(&tenant_id, &order_id, overrides)
        .await
        .map_err(|error| match error {
            PipelineError::Manual(ManualError::NotReceived(_)) => {
                Problem::not_found("unknown_order", error.to_string())
            }
            PipelineError::Manual(ManualError::Store(store)) => Problem::from(store),
            PipelineError::ShuttingDown => Problem::unavailable("shutting down; retry later"),
        })?;
    let events = state.store.events_for_order(&tenant_id, &order_id).await?;
    let event = events
        .iter()
        .find(|e| e.seq == record.event_seq)
        .or(events.first())
        .ok_or_else(|| Problem::not_found("unknown_order", format!("no order '{order_id}'")))?;
    let tenant = state.store.tenant(&tenant_id).await?.unwrap_or(tenant);
    let answer = summary(&tenant, event, Some(&record));
    let status = if record.step == Step::Done {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(answer)))
}
