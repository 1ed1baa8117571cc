//! GDPR erasure of one customer's personal data from what the service keeps.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::existing_tenant;
use crate::domain::erasure::CustomerRef;
use crate::http::problem::{ApiResult, Problem};
use crate::http::AppState;
use crate::store::Erasure;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureInput {
    customer_id: Option<String>,
    email: Option<String>,
}

/// Erase the customer's name, address, e-mail, phone and ids from the tenant's stored events
/// and dead-letter records, and forget their cached Dinero contact. Ledger rows, order
/// numbers and amounts stay. Refused (409, nothing changed) while an order of the customer
/// is still waiting or dead-lettered: Dinero has not received it yet.
pub async fn erase(
    State(state): State<Arc<AppState>>,
    Path(tenant_id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    existing_tenant(&state, &tenant_id).await?;
    let input: ErasureInput = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(
            "invalid_erasure",
            format!("send {{\"customer_id\": ...}} and/or {{\"email\": ...}}: {e}"),
        )
    })?;
    let who = CustomerRef {
        customer_id: input.customer_id.filter(|s| !s.trim().is_empty()),
        email: input.email.filter(|s| !s.trim().is_empty()),
    };
    if who.is_empty() {
        return Err(Problem::bad_request(
            "invalid_erasure",
            "name the customer by customer_id, email or both",
        ));
    }
    match state.store.erase_customer(&tenant_id, &who).await? {
        Erasure::Erased {
            events,
            outbox_records,
            contacts,
        } => {
            tracing::info!(tenant = %tenant_id, events, outbox_records, contacts, "customer data erased");
            Ok(Json(json!({
                "erased": { "events": events, "outbox_records": outbox_records, "contacts": contacts }
            })))
        }
        Erasure::Held { orders } => {
            let errors: BTreeMap<String, String> = orders
                .into_iter()
                .map(|order| (order, "not yet transferred".to_owned()))
                .collect();
            Err(Problem::new(
                StatusCode::CONFLICT,
                "orders_not_transferred",
                "Conflict",
                "orders of this customer are still waiting or dead-lettered; transfer or resolve them, then erase",
            )
            .with_errors(errors))
        }
    }
}
