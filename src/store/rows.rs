//! Rows into records, written once for both stores. Each dialect only says how it reads a
//! column of each kind ([`Columns`]): SQLite keeps times and guids as text and every integer
//! as 64 bits; PostgreSQL has `timestamptz`, `uuid` and 32-bit `INTEGER` columns.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::records::{amount, json};
use super::{crypto, StoreError, StoreResult};
use crate::config::EncryptionKeys;
use crate::domain::transfer_job::{
    ItemState, JobItem, JobKind, JobProgress, JobStatus, TransferJob,
};
use crate::domain::{
    DeadLetter, DeadLetterStatus, DineroRefs, EventSource, EventStatus, HistoryEntry, OrderRecord,
    OrderSummary, OutboxRecord, Pause, Step, StoredEvent, Tenant, TenantCounts,
};

/// How one database's rows give up the kinds of column the store has. A column of the wrong
/// type panics, as sqlx's `Row::get` does: the migrations, not the data, decide the types.
pub(super) trait Columns {
    fn text(&self, column: &str) -> String;
    fn text_opt(&self, column: &str) -> Option<String>;
    /// A `BIGINT` (PostgreSQL) or `INTEGER` (SQLite) column.
    fn big(&self, column: &str) -> i64;
    fn big_opt(&self, column: &str) -> Option<i64>;
    /// An `INTEGER` column: 32 bits on PostgreSQL.
    fn small_opt(&self, column: &str) -> Option<i64>;
    fn bytes(&self, column: &str) -> Vec<u8>;
    fn time_opt(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn guid_opt(&self, column: &str) -> StoreResult<Option<Uuid>>;

    fn small(&self, column: &str) -> i64 {
        self.small_opt(column).unwrap_or_default()
    }

    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        self.time_opt(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is empty")))
    }
}

impl Columns for SqliteRow {
    fn text(&self, column: &str) -> String {
        self.get(column)
    }
    fn text_opt(&self, column: &str) -> Option<String> {
        self.get(column)
    }
    fn big(&self, column: &str) -> i64 {
        self.get(column)
    }
    fn big_opt(&self, column: &str) -> Option<i64> {
        self.get(column)
    }
    fn small_opt(&self, column: &str) -> Option<i64> {
        self.get(column)
    }
    fn bytes(&self, column: &str) -> Vec<u8> {
        self.get(column)
    }
    fn time_opt(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.get::<Option<&str>, _>(column)
            .map(parse_time)
            .transpose()
    }
    fn guid_opt(&self, column: &str) -> StoreResult<Option<Uuid>> {
        self.get::<Option<&str>, _>(column)
            .map(|text| {
                Uuid::parse_str(text).map_err(|_| StoreError::Corrupt(format!("guid '{text}'")))
            })
            .transpose()
    }
}

impl Columns for PgRow {
    fn text(&self, column: &str) -> String {
        self.get(column)
    }
    fn text_opt(&self, column: &str) -> Option<String> {
        self.get(column)
    }
    fn big(&self, column: &str) -> i64 {
        self.get(column)
    }
    fn big_opt(&self, column: &str) -> Option<i64> {
        self.get(column)
    }
    fn small_opt(&self, column: &str) -> Option<i64> {
        self.get::<Option<i32>, _>(column).map(i64::from)
    }
    fn bytes(&self, column: &str) -> Vec<u8> {
        self.get(column)
    }
    fn time_opt(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.get(column))
    }
    fn guid_opt(&self, column: &str) -> StoreResult<Option<Uuid>> {
        Ok(self.get(column))
    }
}

/// A time as SQLite keeps it: RFC 3339 text, which is how sqlx writes a bound `DateTime`.
fn parse_time(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("timestamp '{text}'")))
}

/// A tenant row, its secrets opened with `keys`.
pub(super) fn tenant(row: &impl Columns, keys: &EncryptionKeys) -> StoreResult<Tenant> {
    let secrets = crypto::open(keys, &row.text("secrets_key_id"), &row.bytes("secrets"))?;
    let paused = match (row.text_opt("pause_reason"), row.time_opt("paused_at")?) {
        (Some(reason), Some(at)) => Some(Pause { reason, at }),
        _ => None,
    };
    Ok(Tenant {
        id: row.text("id"),
        organization_id: row.big("organization_id"),
        settings: json("tenant settings", &row.text("settings"))?,
        account_vat: json("account VAT", &row.text("account_vat"))?,
        secrets: serde_json::from_slice(&secrets)
            .map_err(|e| StoreError::Secrets(e.to_string()))?,
        paused,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// A row of `sql::TENANT_COUNTS`: the tenant and its counts.
pub(super) fn tenant_counts(row: &impl Columns) -> (String, TenantCounts) {
    let counts = TenantCounts {
        pending_events: row.big("pending"),
        open_dead_letters: row.big("open_dead"),
    };
    (row.text("id"), counts)
}

pub(super) fn event(row: &impl Columns) -> StoreResult<StoredEvent> {
    Ok(StoredEvent {
        seq: row.big("seq"),
        tenant_id: row.text("tenant_id"),
        event_id: row.text("event_id"),
        order_id: row.text("order_id"),
        document: row.text("document"),
        payload: row.text("payload"),
        status: EventStatus::parse(&row.text("status"))?,
        received_at: row.time("received_at")?,
        source: row.text_opt("source_topic").map(|topic| EventSource {
            topic,
            partition: row.small("source_partition") as i32,
            offset: row.big_opt("source_offset").unwrap_or_default(),
        }),
        traceparent: row.text_opt("traceparent"),
    })
}

pub(super) fn order(row: &impl Columns) -> StoreResult<OrderRecord> {
    Ok(OrderRecord {
        tenant_id: row.text("tenant_id"),
        order_id: row.text("order_id"),
        document: row.text("document"),
        event_seq: row.big("event_seq"),
        step: Step::parse(&row.text("step"))?,
        in_flight: row.text_opt("in_flight"),
        in_flight_epoch: row.big_opt("in_flight_epoch"),
        contact_guid: row.guid_opt("contact_guid")?,
        invoice_guid: row.guid_opt("invoice_guid")?,
        invoice_version: row.text_opt("invoice_version"),
        invoice_number: row.big_opt("invoice_number"),
        payments_done: row.small("payments_done") as u32,
        attempts: row.small("attempts") as u32,
        error_class: row.text_opt("error_class"),
        error: row.text_opt("error"),
        amount: amount(row.text_opt("amount"))?,
        voucher_date: row
            .text_opt("voucher_date")
            .map(|d| {
                d.parse()
                    .map_err(|_| StoreError::Corrupt(format!("voucher date '{d}'")))
            })
            .transpose()?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// A row of the orders list (`sql::ORDER_SUMMARIES`).
pub(super) fn summary(row: &impl Columns) -> StoreResult<OrderSummary> {
    Ok(OrderSummary {
        seq: row.big("seq"),
        order_id: row.text("order_id"),
        status: row.text("status"),
        event_id: row.text("event_id"),
        received_at: row.time("received_at")?,
        step: row
            .text_opt("step")
            .as_deref()
            .map(Step::parse)
            .transpose()?,
        dinero: DineroRefs {
            invoice_guid: row.guid_opt("invoice_guid")?,
            invoice_number: row.big_opt("invoice_number"),
            contact_guid: row.guid_opt("contact_guid")?,
        },
        error: row.text_opt("error"),
        error_class: row.text_opt("error_class"),
        attempts: row.small("attempts") as u32,
    })
}

pub(super) fn history(row: &impl Columns) -> StoreResult<HistoryEntry> {
    Ok(HistoryEntry {
        at: row.time("at")?,
        step: row.text("step"),
        detail: row.text_opt("detail"),
    })
}

pub(super) fn dead_letter(row: &impl Columns) -> StoreResult<DeadLetter> {
    Ok(DeadLetter {
        id: row.big("id"),
        tenant_id: row.text("tenant_id"),
        event_seq: row.big("event_seq"),
        order_id: row.text("order_id"),
        error_class: row.text("error_class"),
        error_code: row.text_opt("error_code"),
        message: row.text("message"),
        attempts: row.small("attempts") as u32,
        first_failed_at: row.time("first_failed_at")?,
        last_failed_at: row.time("last_failed_at")?,
        status: DeadLetterStatus::parse(&row.text("status"))?,
        resolution: row.text_opt("resolution"),
        resolved_at: row.time_opt("resolved_at")?,
    })
}

pub(super) fn outbox_record(row: &impl Columns) -> StoreResult<OutboxRecord> {
    Ok(OutboxRecord {
        id: row.big("id"),
        tenant_id: row.text("tenant_id"),
        kind: row.text("kind"),
        value: row.text("value"),
        headers: json("outbox headers", &row.text("headers"))?,
        created_at: row.time("created_at")?,
    })
}

/// A job row, with its orders (`sql::JOB_ORDERS`) read beside it.
pub(super) fn job(row: &impl Columns, orders: Vec<JobItem>) -> StoreResult<TransferJob> {
    Ok(TransferJob {
        id: row.text("id"),
        tenant_id: row.text("tenant_id"),
        kind: JobKind::parse(&row.text("kind"))?,
        status: JobStatus::parse(&row.text("status"))?,
        overrides: row.text("overrides"),
        created_at: row.time("created_at")?,
        finished_at: row.time_opt("finished_at")?,
        progress: JobProgress::of(&orders),
        orders,
    })
}

pub(super) fn job_item(row: &impl Columns) -> StoreResult<JobItem> {
    Ok(JobItem {
        position: row.small("position"),
        order_id: row.text("order_id"),
        state: ItemState::parse(&row.text("state"))?,
        reason: row.text_opt("reason"),
    })
}

/// When a tenant's contact cache last read Dinero's contact list (`sql::CONTACTS_SYNCED_AT`).
pub(super) fn synced_at(row: &impl Columns) -> StoreResult<DateTime<Utc>> {
    row.time("synced_at")
}
