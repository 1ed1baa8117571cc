//! The store contract: tenants, the inbox of events, the per-order ledger, cached contacts
//! and dead letters. `sqlite` implements it for the embedded default, `postgres` for
//! production with several replicas; `tests/store_contract.rs` runs one suite against both.

mod crypto;
mod postgres;
mod records;
mod sqlite;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::{EncryptionKeys, StoreKind, StoreSettings};
use crate::domain::erasure::CustomerRef;
use crate::domain::mapping::AccountMapping;
use crate::domain::ErrorClass;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // Not `#[from]`: sqlx's message already holds its cause, and a source would print it
    // two more times in an error chain.
    #[error("database: {0}")]
    Database(sqlx::Error),
    #[error("migrations: {0}")]
    Migration(sqlx::migrate::MigrateError),
    #[error("tenant secrets: {0}")]
    Secrets(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Another replica claimed the tenant: this lane must stop.
    #[error("tenant {0} is now worked by another owner")]
    Fenced(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(error)
    }
}

impl StoreError {
    /// A store that cannot answer is worth retrying; unreadable data is not.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Database(_) | StoreError::Migration(_) => ErrorClass::Transient,
            StoreError::Secrets(_) | StoreError::Corrupt(_) | StoreError::NotFound(_) => {
                ErrorClass::Permanent
            }
            // Not a failure of the order: the lane hands the tenant over and stops.
            StoreError::Fenced(_) => ErrorClass::TenantState,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Open the store `settings.url` names, migrating it when `migrate` is set.
pub async fn open(
    settings: &StoreSettings,
    keys: EncryptionKeys,
    migrate: bool,
) -> StoreResult<Arc<dyn Store>> {
    Ok(match settings.kind() {
        Some(StoreKind::Postgres) => Arc::new(PgStore::connect(settings, keys, migrate).await?),
        // Validated settings name one of the two; anything else is taken for a SQLite path.
        Some(StoreKind::Sqlite) | None => Arc::new(
            SqliteStore::connect(&settings.url, settings.max_connections, keys, migrate).await?,
        ),
    })
}

/// A lane's claim on its tenant: writes made under it fail once a later claim exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub tenant: String,
    pub epoch: i64,
}

/// How a tenant's orders are transferred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSettings {
    /// Transfer every order as it arrives; off: only by manual transfer.
    pub auto_transfer: bool,
    /// Book with the shop's own invoice number.
    pub lock_voucher_number: bool,
    /// Book the invoice; off: leave it as a draft.
    pub book: bool,
    /// Register the payment (and gift cards) on the booked invoice.
    pub register_payment: bool,
    pub accounts: AccountMapping,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            auto_transfer: true,
            lock_voucher_number: false,
            book: true,
            register_payment: false,
            accounts: AccountMapping::default(),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DineroCredentials {
    ApiKey { api_key: String },
    VismaConnect { refresh_token: String },
}

/// Write-only secrets of a tenant; encrypted at rest, never shown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSecrets {
    pub dinero: DineroCredentials,
    /// `whsec_...`; several while one is rotated.
    pub webhook_secrets: Vec<String>,
}

impl fmt::Debug for TenantSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TenantSecrets([REDACTED])")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    pub organization_id: i64,
    pub settings: TenantSettings,
    /// VAT percent of each entry account in Dinero, read when the tenant was saved.
    pub account_vat: BTreeMap<i32, Decimal>,
    pub secrets: TenantSecrets,
    pub paused: Option<Pause>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

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
        }
    }

    pub fn parse(text: &str) -> StoreResult<Self> {
        Ok(match text {
            "pending" => EventStatus::Pending,
            "done" => EventStatus::Done,
            "dead" => EventStatus::Dead,
            "resolved" => EventStatus::Resolved,
            "duplicate" => EventStatus::Duplicate,
            "conflict" => EventStatus::Conflict,
            other => return Err(StoreError::Corrupt(format!("event status '{other}'"))),
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
    pub payload: String,
    /// Hash of the order data, to tell a resend from a changed order.
    pub content_hash: String,
    pub source: Option<EventSource>,
}

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
    pub payload: String,
    pub status: EventStatus,
    pub received_at: DateTime<Utc>,
    pub source: Option<EventSource>,
}

/// Where an order stands in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Received,
    Contact,
    InvoiceCreated,
    Booked,
    Paid,
    Done,
    Failed,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Received => "received",
            Step::Contact => "contact",
            Step::InvoiceCreated => "invoice_created",
            Step::Booked => "booked",
            Step::Paid => "paid",
            Step::Done => "done",
            Step::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> StoreResult<Self> {
        Ok(match text {
            "received" => Step::Received,
            "contact" => Step::Contact,
            "invoice_created" => Step::InvoiceCreated,
            "booked" => Step::Booked,
            "paid" => Step::Paid,
            "done" => Step::Done,
            "failed" => Step::Failed,
            other => return Err(StoreError::Corrupt(format!("ledger step '{other}'"))),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub tenant_id: String,
    pub order_id: String,
    pub event_seq: i64,
    pub step: Step,
    /// A Dinero write sent whose answer was not recorded: look it up before sending again.
    pub in_flight: Option<String>,
    /// The owner epoch that sent it.
    pub in_flight_epoch: Option<i64>,
    pub contact_guid: Option<Uuid>,
    pub invoice_guid: Option<Uuid>,
    pub invoice_version: Option<String>,
    pub invoice_number: Option<i64>,
    pub payments_done: u32,
    pub attempts: u32,
    pub error_class: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderRecord {
    pub fn new(tenant_id: &str, order_id: &str, event_seq: i64) -> Self {
        let now = Utc::now();
        OrderRecord {
            tenant_id: tenant_id.into(),
            order_id: order_id.into(),
            event_seq,
            step: Step::Received,
            in_flight: None,
            in_flight_epoch: None,
            contact_guid: None,
            invoice_guid: None,
            invoice_version: None,
            invoice_number: None,
            payments_done: 0,
            attempts: 0,
            error_class: None,
            error: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub step: String,
    pub detail: Option<String>,
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

    fn parse(text: &str) -> StoreResult<Self> {
        Ok(match text {
            "open" => DeadLetterStatus::Open,
            "retrying" => DeadLetterStatus::Retrying,
            "resolved" => DeadLetterStatus::Resolved,
            "replayed" => DeadLetterStatus::Replayed,
            other => return Err(StoreError::Corrupt(format!("dead-letter status '{other}'"))),
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

/// A tenant's waiting events and open dead letters, for its view.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TenantCounts {
    pub pending_events: i64,
    pub open_dead_letters: i64,
}

/// Which orders of a tenant to list: the first event of each order (not duplicates or
/// conflicts) with its ledger row, oldest first, after a cursor.
#[derive(Debug, Clone)]
pub struct OrderFilter<'a> {
    pub tenant: &'a str,
    /// The tenant is paused or transfers by hand only: its waiting orders are `held`.
    pub held: bool,
    /// One of `ORDER_STATUSES`.
    pub status: Option<&'a str>,
    pub order_id: Option<&'a str>,
    /// Only orders whose event came after this sequence number (the cursor).
    pub after_seq: i64,
    pub limit: i64,
}

/// Where an order stands, as the orders list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderSummary {
    /// The sequence number of its event: the list's cursor.
    #[serde(skip)]
    pub seq: i64,
    pub order_id: String,
    /// done, failed, resolved, held, pending or in_progress.
    pub status: String,
    pub event_id: String,
    pub received_at: DateTime<Utc>,
    pub step: Option<Step>,
    pub dinero: DineroRefs,
    pub error: Option<String>,
    pub error_class: Option<String>,
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DineroRefs {
    pub invoice_guid: Option<Uuid>,
    pub invoice_number: Option<i64>,
    pub contact_guid: Option<Uuid>,
}

/// What a retention pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Inbox rows of transferred, duplicate, conflicting or resolved events.
    pub events: u64,
    /// History rows of orders that are done.
    pub history: u64,
    /// Published outbox records.
    pub outbox: u64,
    /// Dead letters that were resolved or replayed.
    pub dead_letters: u64,
}

/// What a GDPR erasure changed, or why it changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Erasure {
    Erased {
        events: u64,
        outbox_records: u64,
        contacts: u64,
    },
    /// Orders of this customer not yet transferred (waiting or dead-lettered): Dinero still
    /// needs their data. Nothing was changed; transfer or resolve them, then erase.
    Held { orders: Vec<String> },
}

/// Everything the service keeps. Implementations must make each method atomic.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn ping(&self) -> StoreResult<()>;

    async fn put_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn tenant(&self, id: &str) -> StoreResult<Option<Tenant>>;
    async fn tenants(&self) -> StoreResult<Vec<Tenant>>;
    /// Pause with a reason (a paused tenant keeps its first one); `resume` lifts it.
    async fn pause(&self, tenant: &str, reason: &str) -> StoreResult<()>;

    /// Write an event to the inbox, recognising duplicates by event id and by order id.
    async fn accept_event(&self, event: NewEvent) -> StoreResult<Accepted>;
    /// The oldest event of the tenant still waiting for its lane.
    async fn next_pending_event(&self, tenant: &str) -> StoreResult<Option<StoredEvent>>;
    async fn pending_event_for_order(
        &self,
        tenant: &str,
        order_id: &str,
    ) -> StoreResult<Option<StoredEvent>>;
    async fn events_for_order(&self, tenant: &str, order_id: &str)
        -> StoreResult<Vec<StoredEvent>>;
    async fn set_event_status(
        &self,
        seq: i64,
        status: EventStatus,
        fence: &Fence,
    ) -> StoreResult<()>;
    async fn tenants_with_pending_events(&self) -> StoreResult<Vec<String>>;
    async fn count_pending(&self, tenant: &str) -> StoreResult<i64>;
    /// Waiting events and open dead letters per tenant (one tenant, or all), in one query.
    async fn tenant_counts(
        &self,
        tenant: Option<&str>,
    ) -> StoreResult<BTreeMap<String, TenantCounts>>;
    /// Orders with their status, filtered and paged in the query.
    async fn order_summaries(&self, filter: &OrderFilter<'_>) -> StoreResult<Vec<OrderSummary>>;

    async fn order(&self, tenant: &str, order_id: &str) -> StoreResult<Option<OrderRecord>>;
    /// Upsert the ledger row and, with a step name, append to its history.
    /// Claim a tenant's lane for `owner`; every claim raises the epoch.
    async fn claim_tenant(&self, tenant: &str, owner: &str) -> StoreResult<Fence>;
    /// Upsert the ledger row and, with a step name, append to its history; fenced.
    async fn save_order(
        &self,
        order: &OrderRecord,
        history: Option<(&str, Option<String>)>,
        fence: &Fence,
    ) -> StoreResult<()>;
    async fn order_history(&self, tenant: &str, order_id: &str) -> StoreResult<Vec<HistoryEntry>>;
    async fn orders(
        &self,
        tenant: &str,
        step: Option<Step>,
        limit: i64,
    ) -> StoreResult<Vec<OrderRecord>>;

    async fn contact(&self, tenant: &str, key: &str) -> StoreResult<Option<Uuid>>;
    async fn put_contact(&self, tenant: &str, key: &str, guid: Uuid) -> StoreResult<()>;

    /// Dead-letter the event and pause its tenant, together or not at all.
    async fn dead_letter_and_pause(
        &self,
        letter: NewDeadLetter,
        pause_reason: &str,
        fence: &Fence,
    ) -> StoreResult<i64>;
    async fn dead_letters(&self, tenant: &str) -> StoreResult<Vec<DeadLetter>>;
    async fn dead_letter(&self, tenant: &str, id: i64) -> StoreResult<Option<DeadLetter>>;
    /// Queue an open dead letter's event again (status `retrying`).
    async fn retry_dead_letter(&self, tenant: &str, id: i64) -> StoreResult<bool>;
    /// Close a dead letter by hand; its event is skipped, the reason kept for audit.
    async fn resolve_dead_letter(&self, tenant: &str, id: i64, reason: &str) -> StoreResult<bool>;
    /// Lift the pause and queue every open dead letter again, in their original order.
    async fn resume(&self, tenant: &str) -> StoreResult<u64>;
    /// A dead-lettered event went through after all (resume, retry or manual transfer).
    async fn mark_replayed(&self, event_seq: i64, fence: &Fence) -> StoreResult<()>;
    /// Tenants with any events read from these partitions of the topic.
    async fn tenants_on(&self, topic: &str, partitions: &[i32]) -> StoreResult<Vec<String>>;

    /// Record a record for the dead-letter topic (a poison record, refused at the door).
    async fn add_outbox(
        &self,
        tenant: &str,
        kind: &str,
        value: &str,
        headers: &BTreeMap<String, String>,
    ) -> StoreResult<i64>;
    /// Records not yet published, oldest first.
    async fn unpublished(&self, limit: i64) -> StoreResult<Vec<OutboxRecord>>;
    async fn mark_published(&self, id: i64) -> StoreResult<()>;
    /// Tenants with waiting events read from these partitions of the topic.
    async fn tenants_pending_on(&self, topic: &str, partitions: &[i32])
        -> StoreResult<Vec<String>>;

    /// Remove what is finished and older than `before` (at most `batch` rows per table per
    /// call): completed inbox rows, done orders' history, published outbox records, closed
    /// dead letters. Ledger rows stay: they are what makes a late resend a duplicate.
    async fn prune(&self, before: DateTime<Utc>, batch: i64) -> StoreResult<Pruned>;
    /// Erase a customer's personal data from the tenant's stored events, outbox records and
    /// contact cache, keeping every ledger row and amount.
    async fn erase_customer(&self, tenant: &str, who: &CustomerRef) -> StoreResult<Erasure>;
}
