//! The inbox: events as received, per tenant in order, and what became of each.

use chrono::{DateTime, Utc};

use super::UnknownValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Waiting for its lane (held while the tenant is paused).
    Pending,
    Done,
    /// Dead-lettered.
    Dead,
    /// An operator resolved its dead letter by hand.
    Resolved,
    /// Same order, same content as an earlier event.
    Duplicate,
    /// Same order, different content, after an invoice was made from the version before:
    /// kept for review until an operator resolves it (keep the booked one, or rebook).
    Conflict,
    /// A newer version of the order (different content) replaced this one before anything
    /// was made in Dinero, or a rebook credited the invoice made from it.
    Superseded,
    /// A conflicting version the operator set aside, keeping the booked invoice.
    SetAside,
    /// From a history import: transferred by its import job, after live orders, never by
    /// the lane's automatic drain.
    Imported,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Done => "done",
            EventStatus::Dead => "dead",
            EventStatus::Resolved => "resolved",
            EventStatus::Duplicate => "duplicate",
            EventStatus::Conflict => "conflict",
            EventStatus::Superseded => "superseded",
            EventStatus::SetAside => "set_aside",
            EventStatus::Imported => "imported",
        }
    }

    /// The event carries the order's version that counts: not a resend, an open conflict,
    /// or a version replaced or set aside.
    pub fn is_current_version(self) -> bool {
        !matches!(
            self,
            EventStatus::Duplicate
                | EventStatus::Conflict
                | EventStatus::Superseded
                | EventStatus::SetAside
        )
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Ok(match text {
            "pending" => EventStatus::Pending,
            "done" => EventStatus::Done,
            "dead" => EventStatus::Dead,
            "resolved" => EventStatus::Resolved,
            "duplicate" => EventStatus::Duplicate,
            "conflict" => EventStatus::Conflict,
            "superseded" => EventStatus::Superseded,
            "set_aside" => EventStatus::SetAside,
            "imported" => EventStatus::Imported,
            other => return Err(UnknownValue(format!("event status '{other}'"))),
        })
    }
}

/// Where a Kafka-borne event was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSource {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

pub struct NewEvent {
    pub tenant_id: String,
    pub event_id: String,
    pub order_id: String,
    /// The ledger document the event makes (`invoice`, `refund:<id>`, `cancel`, `paid:<id>`):
    /// duplicates and conflicts are told per order and document.
    pub document: String,
    pub payload: String,
    /// Hash of the order data, to tell a resend from a changed order.
    pub content_hash: String,
    pub source: Option<EventSource>,
    /// The W3C `traceparent` of the span that accepted it, when tracing is on.
    pub traceparent: Option<String>,
    /// Part of a history import (`EventStatus::Imported` when new).
    pub imported: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    New {
        seq: i64,
    },
    /// This event id was accepted before.
    DuplicateEvent {
        seq: i64,
    },
    /// Another event carried the same order with the same content.
    DuplicateOrder {
        seq: i64,
    },
    /// A newer version of a waiting order: it takes the place of `replaced_seq`, which is
    /// superseded (nothing was made in Dinero from it yet).
    Replaced {
        seq: i64,
        replaced_seq: i64,
    },
    /// Another event carried the same order with different content after an invoice was
    /// made from it: kept as a conflict for an operator to resolve.
    Conflict {
        seq: i64,
        first_seq: i64,
    },
}

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub tenant_id: String,
    pub event_id: String,
    pub order_id: String,
    pub document: String,
    pub payload: String,
    pub status: EventStatus,
    pub received_at: DateTime<Utc>,
    pub source: Option<EventSource>,
    /// The W3C `traceparent` it was accepted under: the parent of its transfer's span.
    pub traceparent: Option<String>,
}
