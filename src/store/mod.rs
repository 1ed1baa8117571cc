//! The store contract: tenants, the inbox of events, the per-order ledger, cached contacts
//! and dead letters. `sqlite` implements it for the embedded default, `postgres` for
//! production with several replicas; `tests/store_contract.rs` runs one suite against both.

mod crypto;
mod group_commit;
mod observed;
mod postgres;
mod records;
mod rows;
mod sql;
mod sqlite;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::config::{EncryptionKeys, StoreKind, StoreSettings};
use crate::domain::erasure::CustomerRef;
use crate::domain::transfer_job::{ItemState, JobItem, NewJob, TransferJob};
use crate::domain::{
    Accepted, DeadLetter, ErrorClass, EventStatus, HistoryEntry, NewDeadLetter, NewEvent,
    OrderRecord, OrderSummary, OutboxRecord, Reached, Step, StoredEvent, Tenant, TenantCounts,
    UnknownValue,
};
pub use observed::{ObservedStore, StoreObserver};
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
    /// A newer version of the order replaced the event being transferred: the lane leaves
    /// it (the newer one waits) and makes nothing from it.
    #[error("order {0}: a newer version replaced this one before its invoice was made")]
    Superseded(String),
    /// The shared transaction of a group commit failed; this write with it.
    #[error("database (group commit): {0}")]
    GroupCommit(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}

impl From<UnknownValue> for StoreError {
    fn from(error: UnknownValue) -> Self {
        StoreError::Corrupt(error.to_string())
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
            StoreError::Database(_) | StoreError::Migration(_) | StoreError::GroupCommit(_) => {
                ErrorClass::Transient
            }
            StoreError::Secrets(_) | StoreError::Corrupt(_) | StoreError::NotFound(_) => {
                ErrorClass::Permanent
            }
            // Not a failure: the lane moves on to the newer version.
            StoreError::Superseded(_) => ErrorClass::TenantState,
            // Not a failure of the order: the lane hands the tenant over and stops.
            StoreError::Fenced(_) => ErrorClass::TenantState,
        }
    }

    /// What went wrong, as one word for a metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Database(_) | StoreError::GroupCommit(_) => "database",
            StoreError::Migration(_) => "migration",
            StoreError::Secrets(_) => "secrets",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::NotFound(_) => "not_found",
            StoreError::Fenced(_) => "fenced",
            StoreError::Superseded(_) => "superseded",
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

/// The store's state as the metrics report it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct StoreGauges {
    /// Events waiting for a live tenant's lane.
    pub waiting_events: i64,
    /// Events held: their tenant is paused.
    pub held_events: i64,
    /// Seconds the oldest waiting or held event has waited.
    pub oldest_waiting_seconds: f64,
    pub paused_tenants: i64,
    pub open_dead_letters: i64,
    /// Outbox records not yet published (dead-letter topic or notification).
    pub outbox_pending: i64,
    pub outbox_oldest_seconds: f64,
    /// This replica's pool: connections open, and idle among them.
    pub connections_open: i64,
    pub connections_idle: i64,
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
    /// Transfer and import jobs through or cancelled, with their orders.
    pub jobs: u64,
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

/// How an operator resolves an order's conflict (a version that arrived after its invoice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictResolution {
    /// The booked invoice stands; the conflicting versions are set aside.
    KeepBooked,
    /// Credit the booked invoice and invoice the newest conflicting version instead.
    Rebook,
}

/// What resolving an order's conflicts changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictResolved {
    /// Event ids of the versions set aside.
    pub set_aside: Vec<String>,
    /// The event id of the version to rebook, now waiting for its lane.
    pub rebook: Option<String>,
}

/// Tenants: their settings, secrets and pause.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    async fn put_tenant(&self, tenant: &Tenant) -> StoreResult<()>;

    async fn tenant(&self, id: &str) -> StoreResult<Option<Tenant>>;

    /// Read, change and write a tenant in one transaction, so a concurrent change is never
    /// overwritten with what was read before it (a rotated refresh token, above all). The
    /// tenant as written; `None` when there is no such tenant.
    async fn update_tenant(
        &self,
        id: &str,
        change: &(dyn for<'t> Fn(&'t mut Tenant) + Send + Sync),
    ) -> StoreResult<Option<Tenant>>;

    /// A page of tenants by id: those after `after` (all from the start for ""), at most
    /// `limit`.
    async fn tenants(&self, after: &str, limit: i64) -> StoreResult<Vec<Tenant>>;

    /// Pause with a reason (a paused tenant keeps its first one); `resume` lifts it.
    async fn pause(&self, tenant: &str, reason: &str) -> StoreResult<()>;

    /// Waiting events and open dead letters per tenant (one tenant, or all), in one query.
    async fn tenant_counts(
        &self,
        tenant: Option<&str>,
        after: &str,
        limit: i64,
    ) -> StoreResult<BTreeMap<String, TenantCounts>>;
}

/// The inbox: events per tenant, in order, deduplicated, and where they were read.
#[async_trait]
pub trait InboxStore: Send + Sync + 'static {
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

    /// Tenants with any events read from these partitions of the topic.
    async fn tenants_on(&self, topic: &str, partitions: &[i32]) -> StoreResult<Vec<String>>;

    /// Tenants with waiting events read from these partitions of the topic.
    async fn tenants_pending_on(&self, topic: &str, partitions: &[i32])
        -> StoreResult<Vec<String>>;
}

/// The ledger: each order's steps in Dinero, its history, cached contacts, the orders list.
#[async_trait]
pub trait LedgerStore: Send + Sync + 'static {
    /// The order's invoice row.
    async fn order(&self, tenant: &str, order_id: &str) -> StoreResult<Option<OrderRecord>> {
        self.document(tenant, order_id, crate::domain::money_events::INVOICE)
            .await
    }

    /// One document's row (`invoice`, `refund:<id>`, `cancel`, `paid:<id>`).
    async fn document(
        &self,
        tenant: &str,
        order_id: &str,
        document: &str,
    ) -> StoreResult<Option<OrderRecord>>;

    /// Every document row of the order, in the order of their events.
    async fn documents(&self, tenant: &str, order_id: &str) -> StoreResult<Vec<OrderRecord>>;

    /// Upsert the ledger row and append its history rows (step, detail); fenced.
    async fn save_order(
        &self,
        order: &OrderRecord,
        history: &[Reached<'_>],
        fence: &Fence,
    ) -> StoreResult<()>;

    /// The document's last write, in one transaction: its row and history, its event
    /// `done`, and the event's dead letter (if any) replayed; fenced.
    async fn complete_order(
        &self,
        order: &OrderRecord,
        history: &[Reached<'_>],
        event_seq: i64,
        fence: &Fence,
    ) -> StoreResult<()>;

    async fn order_history(&self, tenant: &str, order_id: &str) -> StoreResult<Vec<HistoryEntry>>;

    async fn orders(
        &self,
        tenant: &str,
        step: Option<Step>,
        limit: i64,
    ) -> StoreResult<Vec<OrderRecord>>;

    /// The tenant's ledger rows holding a Dinero voucher (invoices, credit notes, and the
    /// invoice a late payment went to) dated in `dates` (both included), and those without a
    /// date first written in `written` (`[from, to)`).
    async fn ledger_vouchers(
        &self,
        tenant: &str,
        dates: (NaiveDate, NaiveDate),
        written: (DateTime<Utc>, DateTime<Utc>),
    ) -> StoreResult<Vec<OrderRecord>>;

    async fn contact(&self, tenant: &str, key: &str) -> StoreResult<Option<Uuid>>;

    async fn put_contact(&self, tenant: &str, key: &str, guid: Uuid) -> StoreResult<()>;

    /// When the tenant's contact cache last read Dinero's contact list.
    async fn contacts_synced_at(&self, tenant: &str) -> StoreResult<Option<DateTime<Utc>>>;

    /// What a read of Dinero's contact list found, as cache entries (key, guid; an entry
    /// already there stands), and the read's time, in one transaction.
    async fn sync_contacts(
        &self,
        tenant: &str,
        entries: &[(String, Uuid)],
        synced_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Orders with their status, filtered and paged in the query.
    async fn order_summaries(&self, filter: &OrderFilter<'_>) -> StoreResult<Vec<OrderSummary>>;

    /// Resolve the order's open conflicts in one transaction; `None` when it has none. A
    /// rebook makes the newest conflicting version the order's current one (waiting), sets
    /// the others aside, supersedes the booked version and opens the rebook's credit-note
    /// row (`correction:<seq>`), with `note` in the order's history.
    async fn resolve_conflict(
        &self,
        tenant: &str,
        order_id: &str,
        resolution: ConflictResolution,
        note: &str,
    ) -> StoreResult<Option<ConflictResolved>>;

    /// A rebook's credit note is booked: the credited invoice's row moves aside (to
    /// `invoice@<its event seq>`) and `fresh` becomes the order's invoice row; fenced.
    async fn move_invoice_aside(
        &self,
        credited: &OrderRecord,
        fresh: &OrderRecord,
        history: &[Reached<'_>],
        fence: &Fence,
    ) -> StoreResult<()>;
}

/// Dead letters, pause and resume, and the outbox that announces them.
#[async_trait]
pub trait DeadLetterStore: Send + Sync + 'static {
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
}

/// Transfers of selected orders: jobs and what became of each of their orders.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// The job and its orders, all `waiting`, together.
    async fn create_job(&self, job: &NewJob) -> StoreResult<()>;

    async fn job(&self, tenant: &str, id: &str) -> StoreResult<Option<TransferJob>>;

    /// The job's first order still waiting; none once it is cancelled or through.
    async fn next_job_order(&self, job_id: &str) -> StoreResult<Option<JobItem>>;

    async fn set_job_order(
        &self,
        job_id: &str,
        position: i64,
        state: ItemState,
        reason: Option<&str>,
    ) -> StoreResult<()>;

    /// A running job is through: every order was tried.
    async fn finish_job(&self, job_id: &str) -> StoreResult<()>;

    /// Stop a running job: its waiting orders are `cancelled`. False when it was not running.
    async fn cancel_job(&self, tenant: &str, id: &str) -> StoreResult<bool>;

    /// Jobs not through, oldest first, as (tenant, job id): picked up again after a restart.
    async fn running_jobs(&self) -> StoreResult<Vec<(String, String)>>;
}

/// Which lane works a tenant: claims and their fencing epochs.
#[async_trait]
pub trait OwnershipStore: Send + Sync + 'static {
    /// Claim a tenant's lane for `owner`; every claim raises the epoch.
    async fn claim_tenant(&self, tenant: &str, owner: &str) -> StoreResult<Fence>;
}

/// Health, retention and erasure.
#[async_trait]
pub trait UpkeepStore: Send + Sync + 'static {
    /// What the metrics report as gauges, in one round trip; it reads only waiting events,
    /// open dead letters, unpublished outbox records (partial indexes) and the tenants.
    async fn gauges(&self) -> StoreResult<StoreGauges>;

    async fn ping(&self) -> StoreResult<()>;

    /// Claim the scheduled run `name` for `day` for `owner`: true for the first replica to
    /// ask, false for every later one, so each day's run is made once.
    async fn claim_run(&self, name: &str, day: NaiveDate, owner: &str) -> StoreResult<bool>;

    /// Remove what is finished and older than `before` (at most `batch` rows per table per
    /// call): completed inbox rows, done orders' history, published outbox records, closed
    /// dead letters, finished jobs. Ledger rows stay: they are what makes a late resend a
    /// duplicate.
    async fn prune(&self, before: DateTime<Utc>, batch: i64) -> StoreResult<Pruned>;

    /// Erase a customer's personal data from the tenant's stored events, outbox records and
    /// contact cache, keeping every ledger row and amount.
    async fn erase_customer(&self, tenant: &str, who: &CustomerRef) -> StoreResult<Erasure>;
}

/// Everything the service keeps, one trait per concern. Implementations must make each
/// method atomic. A part of the pipeline that needs one concern takes that trait alone.
pub trait Store:
    TenantStore + InboxStore + LedgerStore + DeadLetterStore + JobStore + OwnershipStore + UpkeepStore
{
}

impl<T> Store for T where
    T: TenantStore
        + InboxStore
        + LedgerStore
        + DeadLetterStore
        + JobStore
        + OwnershipStore
        + UpkeepStore
{
}
