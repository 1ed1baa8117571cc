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
    /// Same order, different content: the first event wins, this one is kept for review.
    Conflict,
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
            EventStatus::Imported => "imported",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Ok(match text {
            "pending" => EventStatus::Pending,
            "done" => EventStatus::Done,
            "dead" => EventStatus::Dead,
            "resolved" => EventStatus::Resolved,
            "duplicate" => EventStatus::Duplicate,
            "conflict" => EventStatus::Conflict,
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
    /// Another event carried the same order with different content; the first wins.
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
