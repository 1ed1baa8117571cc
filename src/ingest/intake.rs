//! The checks every event passes before the inbox: JSON, `schemas/order-event.schema.json`,
//! the order's own rules; then the inbox write with duplicate and conflict recognition.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::order::OrderEvent;
use crate::store::{Accepted, EventSource, NewEvent, Store, StoreResult};

/// The published schema, compiled once.
static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(include_str!("../../schemas/order-event.schema.json"))
        .expect("the order schema is JSON");
    jsonschema::validator_for(&schema).expect("the order schema compiles")
});

/// Why an event is refused at the door.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntakeError {
    #[error("the body is not JSON: {0}")]
    MalformedJson(String),
    #[error("the event does not match the order event schema")]
    Schema(BTreeMap<String, String>),
    #[error("the order breaks the event's rules")]
    Invalid(BTreeMap<String, String>),
}

impl IntakeError {
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::MalformedJson(_) => "malformed_json",
            IntakeError::Schema(_) => "schema_violation",
            IntakeError::Invalid(_) => "invalid_order",
        }
    }

    pub fn violations(&self) -> BTreeMap<String, String> {
        match self {
            IntakeError::MalformedJson(_) => BTreeMap::new(),
            IntakeError::Schema(v) | IntakeError::Invalid(v) => v.clone(),
        }
    }

    /// One line with every violation, for dead-letter headers and logs.
    pub fn describe(&self) -> String {
        let violations: Vec<String> = self
            .violations()
            .iter()
            .map(|(at, why)| format!("{at}: {why}"))
            .collect();
        if violations.is_empty() {
            self.to_string()
        } else {
            format!("{}: {}", self, violations.join("; "))
        }
    }
}

/// Violations by JSON pointer (at most 20, for a readable answer).
fn schema_violations(body: &Value) -> BTreeMap<String, String> {
    SCHEMA
        .iter_errors(body)
        .take(20)
        .map(|error| {
            let pointer = error.instance_path().to_string();
            (
                if pointer.is_empty() {
                    "/".to_owned()
                } else {
                    pointer
                },
                error.to_string(),
            )
        })
        .collect()
}

/// A checked event and its JSON.
pub struct Checked {
    pub event: OrderEvent,
    pub json: Value,
}

pub fn check(body: &[u8]) -> Result<Checked, IntakeError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| IntakeError::MalformedJson(e.to_string()))?;
    check_json(json)
}

pub fn check_json(json: Value) -> Result<Checked, IntakeError> {
    let violations = schema_violations(&json);
    if !violations.is_empty() {
        return Err(IntakeError::Schema(violations));
    }
    let event: OrderEvent = serde_json::from_value(json.clone())
        .map_err(|e| IntakeError::Schema(BTreeMap::from([("/".to_owned(), e.to_string())])))?;
    event.validate().map_err(IntakeError::Invalid)?;
    Ok(Checked { event, json })
}

/// Into the inbox; the payload is the event as received (structured JSON).
pub async fn accept(
    store: &dyn Store,
    checked: &Checked,
    source: Option<EventSource>,
) -> StoreResult<Accepted> {
    let data = serde_json::to_vec(&checked.json["data"]).expect("JSON serializes");
    let content_hash: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    store
        .accept_event(NewEvent {
            tenant_id: checked.event.tenantid.clone(),
            event_id: checked.event.id.clone(),
            order_id: checked.event.data.order_id.clone(),
            payload: checked.json.to_string(),
            content_hash,
            source,
        })
        .await
}
