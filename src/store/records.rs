//! What both stores write the same way: outbox records and their headers, JSON columns, and
//! the queries whose SQL both dialects read alike.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{EventStatus, NewDeadLetter, StoreError, StoreResult, StoredEvent};
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
        if matches!(status, EventStatus::Pending | EventStatus::Dead) {
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

/// The orders list with each order's status, computed and filtered in the database (so a
/// filter never misses what a row limit cut off). Parameters: $1 tenant, $2 held, $3 after
/// seq, $4 order id or NULL, $5 status or NULL, $6 limit. SQLite numbers `$N` parameters by
/// first appearance, which is their order here.
pub(super) const ORDER_SUMMARIES: &str = "
SELECT * FROM (
    SELECT e.seq, e.event_id, e.order_id, e.received_at, o.step, o.invoice_guid,
           o.invoice_number, o.contact_guid, o.error, o.error_class, o.attempts,
           CASE WHEN o.step = 'awaiting_payment' THEN 'awaiting_payment'
                WHEN o.step = 'cancelled' THEN 'cancelled'
                WHEN o.step = 'done' OR e.status = 'done' THEN 'done'
                WHEN e.status = 'dead' OR o.step = 'failed' THEN 'failed'
                WHEN e.status = 'resolved' THEN 'resolved'
                WHEN $2 THEN 'held'
                WHEN o.step IS NULL THEN 'pending'
                ELSE 'in_progress' END AS status
    FROM events e
    LEFT JOIN orders o
        ON o.tenant_id = e.tenant_id AND o.order_id = e.order_id AND o.document = 'invoice'
    WHERE e.tenant_id = $1 AND e.document = 'invoice'
      AND e.status NOT IN ('duplicate', 'conflict') AND e.seq > $3
      AND ($4 IS NULL OR e.order_id = $4)
) AS listed
WHERE ($5 IS NULL OR status = $5)
ORDER BY seq
LIMIT $6";

/// Waiting events and open dead letters per tenant; $1 a tenant or NULL for all, $2 the
/// page's start (ids after it), $3 its size.
pub(super) const TENANT_COUNTS: &str = "
SELECT t.id,
       (SELECT COUNT(*) FROM events e WHERE e.tenant_id = t.id AND e.status = 'pending') AS pending,
       (SELECT COUNT(*) FROM dead_letters d WHERE d.tenant_id = t.id AND d.status = 'open') AS open_dead
FROM tenants t
WHERE ($1 IS NULL OR t.id = $1) AND t.id > $2
ORDER BY t.id
LIMIT $3";
