//! What both stores decide and write the same way: an event's intake status, outbox records
//! and their headers, JSON columns, erasure plans.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{Accepted, EventStatus, NewDeadLetter, NewEvent, StoreError, StoreResult, StoredEvent};
use crate::domain::erasure::{contact_cache_key, redact_event, CustomerRef};

pub(super) fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// An outbox record's headers: the caller's, plus the record kind and tenant every consumer
/// of the dead-letter topic filters on.
pub(super) fn outbox_headers(
    tenant: &str,
    kind: &str,
    headers: &BTreeMap<String, String>,
) -> String {
    let mut headers = headers.clone();
    headers.insert("dinero-bridge-record".into(), kind.into());
    headers.insert("tenant-id".into(), tenant.into());
    serde_json::to_string(&headers).expect("headers serialize")
}

/// The value of a `paused` or `resumed` record.
pub(super) fn status_record(tenant: &str, kind: &str, reason: Option<&str>) -> String {
    serde_json::json!({"tenant_id": tenant, "record": kind, "reason": reason, "at": Utc::now()})
        .to_string()
}

/// The headers of a dead letter on the dead-letter topic (design.md §4): why, how often,
/// since when, and where the event was read.
pub(super) fn dead_letter_headers(
    letter: &NewDeadLetter,
    event: &StoredEvent,
    at: DateTime<Utc>,
    pause_reason: &str,
) -> BTreeMap<String, String> {
    let mut headers = BTreeMap::from([
        ("order-id".to_owned(), letter.order_id.clone()),
        ("event-id".to_owned(), event.event_id.clone()),
        (
            "error-class".to_owned(),
            letter.error_class.as_str().to_owned(),
        ),
        ("error-message".to_owned(), letter.message.clone()),
        ("attempts".to_owned(), letter.attempts.to_string()),
        (
            "first-failure-at".to_owned(),
            letter.first_failed_at.to_rfc3339(),
        ),
        ("last-failure-at".to_owned(), at.to_rfc3339()),
        ("reason".to_owned(), pause_reason.to_owned()),
    ]);
    if let Some(code) = &letter.error_code {
        headers.insert("error-code".into(), code.clone());
    }
    // W3C trace context, as Kafka record headers carry it: the failed transfer's span.
    if let Some(traceparent) = &letter.traceparent {
        headers.insert("traceparent".into(), traceparent.clone());
    }
    if let Some(source) = &event.source {
        headers.insert("source-topic".into(), source.topic.clone());
        headers.insert("source-partition".into(), source.partition.to_string());
        headers.insert("source-offset".into(), source.offset.to_string());
    }
    headers
}

/// An erasure worked out from the tenant's candidate rows, before anything is written.
#[derive(Debug, Default)]
pub(super) struct ErasurePlan {
    /// Orders not yet transferred: when any, nothing is erased.
    pub held: Vec<String>,
    pub events: Vec<(i64, String)>,
    pub outbox: Vec<(i64, String)>,
    pub contact_keys: BTreeSet<String>,
}

/// Which of these rows are the customer's and what they become. `events` are (seq, order
/// id, status, payload), `outbox` (id, value); rows of other customers are left out.
pub(super) fn plan_erasure(
    tenant: &str,
    who: &CustomerRef,
    events: Vec<(i64, String, EventStatus, String)>,
    outbox: Vec<(i64, String)>,
) -> ErasurePlan {
    let mut plan = ErasurePlan::default();
    // Several needles may find the same row.
    let events: BTreeMap<i64, (String, EventStatus, String)> = events
        .into_iter()
        .map(|(seq, order, status, payload)| (seq, (order, status, payload)))
        .collect();
    let outbox: BTreeMap<i64, String> = outbox.into_iter().collect();
    for (seq, (order_id, status, payload)) in events {
        let Some(redacted) = redact_event(&payload, who) else {
            continue;
        };
        if matches!(
            status,
            EventStatus::Pending | EventStatus::Dead | EventStatus::Imported
        ) {
            plan.held.push(order_id);
            continue;
        }
        plan.contact_keys
            .extend(contact_cache_key(tenant, &payload));
        plan.events.push((seq, redacted));
    }
    plan.outbox = outbox
        .into_iter()
        .filter_map(|(id, value)| redact_event(&value, who).map(|v| (id, v)))
        .collect();
    plan.held.sort();
    plan.held.dedup();
    plan
}

/// A ledger row's amount, kept as decimal text in both databases.
pub(super) fn amount(text: Option<String>) -> StoreResult<Option<rust_decimal::Decimal>> {
    text.map(|t| {
        t.parse()
            .map_err(|_| StoreError::Corrupt(format!("amount '{t}'")))
    })
    .transpose()
}

/// What a new event is, given the event carrying its document's current version (its seq
/// and content hash): the first of its document, a resend of it, or a different version
/// (a conflict, unless it replaces a waiting one: `replaceable`).
pub(super) fn intake_status(current: Option<(i64, &str)>, event: &NewEvent) -> EventStatus {
    match current {
        None => fresh_status(event),
        Some((_, hash)) if hash == event.content_hash => EventStatus::Duplicate,
        Some(_) => EventStatus::Conflict,
    }
}

/// A new version of the order's document, to be transferred: by the lane, or by its
/// import job.
pub(super) fn fresh_status(event: &NewEvent) -> EventStatus {
    if event.imported {
        EventStatus::Imported
    } else {
        EventStatus::Pending
    }
}

/// Whether an event of this status may give way to a newer version of its order: its
/// invoice waits (for the lane, an import job, or a resume), so nothing may have been made
/// in Dinero from it, which `INVOICE_STARTED` then checks. Only an order's invoice is ever
/// replaced; a later document with other content stays a conflict.
pub(super) fn replaceable(event: &NewEvent, status: &str) -> bool {
    event.document == crate::domain::money_events::INVOICE
        && matches!(status, "pending" | "imported" | "dead")
}

/// What the order's history and the replaced version's dead letter say.
pub(super) fn replaced_note(event: &NewEvent) -> String {
    format!(
        "replaced before transfer by a newer version of the order (event {})",
        event.event_id
    )
}

/// The answer to an intake, once the event is written with `status` as `seq`; `current` is
/// the seq of its document's current version before it, `replaced` that version's seq when
/// this one superseded it.
pub(super) fn accepted(
    status: EventStatus,
    seq: i64,
    current: Option<i64>,
    replaced: Option<i64>,
) -> Accepted {
    match (status, current, replaced) {
        (_, _, Some(replaced_seq)) => Accepted::Replaced { seq, replaced_seq },
        (EventStatus::Duplicate, Some(first), _) => Accepted::DuplicateOrder { seq: first },
        (EventStatus::Conflict, Some(first_seq), _) => Accepted::Conflict { seq, first_seq },
        _ => Accepted::New { seq },
    }
}
