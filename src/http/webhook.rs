//! `POST /v1/webhooks/{tenant_id}`: authenticate (Standard Webhooks signature with the
//! tenant's secrets), parse (the CloudEvents body against the order's rules), one intake
//! call, render. 202 = accepted, 200 = already had it (or a recorded conflict), 4xx =
//! refused and nothing stored, 503 = the store or broker cannot take it (the sender retries).

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::problem::{ApiResult, Problem};
use super::HttpState;
use crate::domain::Accepted;
use crate::domain::TenantId;
use crate::service::checks::{self, Checked};
use crate::service::{CoreError, Origin, Receipt};

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v == "application/cloudevents+json")
}

fn unknown_tenant() -> Problem {
    Problem::not_found("unknown_tenant", "no such tenant")
}

pub async fn receive(
    request: HttpRequest,
    state: web::Data<HttpState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let answer = handle(request, &state, tenant, body).await;
    let (result, reason) = match &answer {
        Ok((_, result)) => (*result, ""),
        Err(problem) if problem.status >= 500 => ("unavailable", problem.code),
        Err(problem) => ("rejected", problem.code),
    };
    state.metrics.intake("webhook", result, reason);
    answer.map(|(response, _)| response)
}

/// The answer and the intake metric's result.
async fn handle(
    request: HttpRequest,
    state: &web::Data<HttpState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<(HttpResponse, &'static str)> {
    let tenant = TenantId::parse(&tenant).ok_or_else(unknown_tenant)?;
    if !is_json(request.headers()) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "send application/json (CloudEvents structured mode)",
        ));
    }

    // Authenticate: any of the tenant's secrets may have signed (rotation).
    let secrets = state
        .core
        .run({
            let tenant = tenant.clone();
            move |core| async move { core.webhook_secrets(&tenant).await }
        })
        .await
        .map_err(|error| match error {
            CoreError::NotFound { .. } => unknown_tenant(),
            other => other.into(),
        })?;
    verify_signature(&secrets, &body, request.headers())?;

    // Parse.
    let checked = parse_event(&body, &tenant)?;
    let traceparent = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    // One core call.
    let (receipt, checked) = state
        .core
        .run(move |core| async move {
            let origin = Origin::Webhook {
                body: &body,
                traceparent: traceparent.as_deref(),
            };
            let receipt = core.submit(&checked, origin).await?;
            Ok((receipt, checked))
        })
        .await?;

    // Render.
    let result = receipt.result();
    let event = &checked.event;
    let mut answer = json!({"tenant_id": tenant.as_str(), "order_id": event.order_id(),
        "event_id": event.id()});
    let status = match receipt {
        Receipt::Topic { partition, offset } => {
            answer["status"] = json!("accepted");
            answer["partition"] = json!(partition);
            answer["offset"] = json!(offset);
            StatusCode::ACCEPTED
        }
        Receipt::Inbox(accepted) => {
            let (status, outcome, seq) = match accepted {
                Accepted::New { seq } => (StatusCode::ACCEPTED, "accepted", seq),
                Accepted::Replaced { seq, replaced_seq } => {
                    answer["replaced_sequence"] = json!(replaced_seq);
                    (StatusCode::ACCEPTED, "replaced", seq)
                }
                Accepted::DuplicateEvent { seq } => (StatusCode::OK, "duplicate_event", seq),
                Accepted::DuplicateOrder { seq } => (StatusCode::OK, "duplicate_order", seq),
                Accepted::Conflict { seq, .. } => (StatusCode::OK, "conflict", seq),
            };
            answer["status"] = json!(outcome);
            answer["sequence"] = json!(seq);
            status
        }
    };
    Ok((HttpResponse::build(status).json(answer), result))
}

/// An order event as the webhook takes it (the preview too): the door's checks, and the
/// event's tenant must be the URL's.
pub(crate) fn parse_event(body: &[u8], tenant: &TenantId) -> Result<Checked, Problem> {
    let checked = checks::check(body).map_err(|error| {
        Problem::bad_request(error.code(), error.to_string()).with_errors(error.violations())
    })?;
    if checked.event.tenant() != tenant.as_str() {
        return Err(Problem::bad_request(
            "tenant_mismatch",
            "the event's tenantid is not the tenant of this URL",
        ));
    }
    Ok(checked)
}

/// The library checks the ±5 minute window and compares in constant time. It reads the
/// `http` crate's header map, so the three webhook headers are handed over in one.
fn verify_signature(secrets: &[String], body: &[u8], headers: &HeaderMap) -> ApiResult<()> {
    use standardwebhooks::{Webhook, WebhookError};
    let mut webhook_headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        if let Some(value) = headers.get(name) {
            if let Ok(value) = http::HeaderValue::from_bytes(value.as_bytes()) {
                webhook_headers.insert(name, value);
            }
        }
    }
    let mut last = WebhookError::InvalidSignature;
    for secret in secrets {
        let Ok(webhook) = Webhook::new(secret) else {
            continue;
        };
        match webhook.verify(body, &webhook_headers) {
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
