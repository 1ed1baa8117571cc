//! Dead letters (orders retrying cannot fix) and the outbox records that announce them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ErrorClass, UnknownValue};

/// A record waiting for the dead-letter topic.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    pub id: i64,
    pub tenant_id: String,
    pub kind: String,
    pub value: String,
    pub headers: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterStatus {
    Open,
    Retrying,
    Resolved,
    Replayed,
}

impl DeadLetterStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterStatus::Open => "open",
            DeadLetterStatus::Retrying => "retrying",
            DeadLetterStatus::Resolved => "resolved",
            DeadLetterStatus::Replayed => "replayed",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownValue> {
        Ok(match text {
            "open" => DeadLetterStatus::Open,
            "retrying" => DeadLetterStatus::Retrying,
            "resolved" => DeadLetterStatus::Resolved,
            "replayed" => DeadLetterStatus::Replayed,
            other => return Err(UnknownValue(format!("dead-letter status '{other}'"))),
        })
    }
}

pub struct NewDeadLetter {
    pub tenant_id: String,
    pub event_seq: i64,
    pub order_id: String,
    pub error_class: ErrorClass,
    pub error_code: Option<String>,
    pub message: String,
    pub attempts: u32,
    pub first_failed_at: DateTime<Utc>,
    /// The W3C `traceparent` of the transfer that failed, for the dead-letter record's headers.
    pub traceparent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub id: i64,
    pub tenant_id: String,
    pub event_seq: i64,
    pub order_id: String,
    pub error_class: String,
    pub error_code: Option<String>,
    pub message: String,
    pub attempts: u32,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
    pub status: DeadLetterStatus,
    pub resolution: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
}
