//! `POST /v1/webhooks/{tenant_id}`: Standard Webhooks signature, the CloudEvents body checked
//! against `schemas/order-event.schema.json` and the order's own rules, then the inbox.
//! 202 = accepted, 200 = already had it (or a recorded conflict), 4xx = rejected, nothing
//! stored; 503 = the store cannot take it, the sender retries.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::problem::{ApiResult, Problem};
use super::AppState;
use crate::domain::order::is_identifier;
use crate::ingest::intake::{self, IntakeError};
use crate::store::Accepted;

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v == "application/cloudevents+json")
}

pub async fn receive(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    if !is_identifier(&tenant_id) {
        return Err(Problem::not_found("unknown_tenant", "no such tenant"));
    }
    if !is_json(&headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "send application/json (CloudEvents structured mode)",
        ));
    }
    let limit = state.settings.http.max_body_bytes;
    let body = to_bytes(body, limit).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "Payload too large",
            format!("the body exceeds {limit} bytes"),
        )
    })?;
    let tenant = state
        .store
        .tenant(&tenant_id)
        .await?
        .ok_or_else(|| Problem::not_found("unknown_tenant", "no such tenant"))?;
    verify_signature(&tenant.secrets.webhook_secrets, &body, &headers)?;

    let checked = intake::check(&body).map_err(|error: IntakeError| {
        Problem::bad_request(error.code(), error.to_string()).with_errors(error.violations())
    })?;
    let event = &checked.event;
    if event.tenantid != tenant_id {
        return Err(Problem::bad_request(
            "tenant_mismatch",
            "the event's tenantid is not the tenant of this URL",
        ));
    }
    if let Some(kafka) = &state.kafka {
        // Kafka mode: one ordered stream per tenant; the consumer writes the inbox.
        let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
        let (partition, offset) = kafka
            .producer
            .send_event(&tenant_id, &body, traceparent)
            .await
            .map_err(|error| {
                Problem::unavailable(format!("the broker did not take the event: {error}"))
            })?;
        let body = json!({"status": "accepted", "tenant_id": tenant_id, "order_id": event.data.order_id,
            "event_id": event.id, "partition": partition, "offset": offset});
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    let accepted = intake::accept(state.store.as_ref(), &checked, None).await?;
    let (status, outcome, seq) = match accepted {
        Accepted::New { seq } => {
            state.pipeline.wake(&tenant_id);
            (StatusCode::ACCEPTED, "accepted", seq)
        }
        Accepted::DuplicateEvent { seq } => (StatusCode::OK, "duplicate_event", seq),
        Accepted::DuplicateOrder { seq } => (StatusCode::OK, "duplicate_order", seq),
        Accepted::Conflict { seq, first_seq } => {
            tracing::warn!(tenant = %tenant_id, order = %event.data.order_id, seq, first_seq,
                "the same order arrived with different content; the first is kept, this one recorded as a conflict");
            (StatusCode::OK, "conflict", seq)
        }
    };
    let body = json!({"status": outcome, "tenant_id": tenant_id, "order_id": event.data.order_id, "event_id": event.id, "sequence": seq});
    Ok((status, Json(body)).into_response())
}

/// Any of the tenant's secrets may have signed (rotation); the library checks the ±5 minute
/// window and compares in constant time.
fn verify_signature(secrets: &[String], body: &[u8], headers: &HeaderMap) -> ApiResult<()> {
    use standardwebhooks::{Webhook, WebhookError};
    let mut last = WebhookError::InvalidSignature;
    for secret in secrets {
        let Ok(webhook) = Webhook::new(secret) else {
            continue;
        };
        match webhook.verify(body, headers) {
            Ok(()) => return Ok(()),
            Err(error) => last = error,
        }
    }
    let detail = match last {
        WebhookError::MissingHeader(name) => format!("the webhook-{name} header is missing"),
        WebhookError::InvalidHeader(name) => format!("the webhook-{name} header is unreadable"),
        WebhookError::InvalidTimestamp => "webhook-timestamp is not a Unix time".into(),
        WebhookError::TimestampTooOldError => "webhook-timestamp is more than 5 minutes old".into(),
        WebhookError::FutureTimestampError => {
            "webhook-timestamp is more than 5 minutes ahead".into()
        }
        _ => "no signature matches".into(),
    };
    Err(Problem::unauthorized("invalid_signature", detail))
}
