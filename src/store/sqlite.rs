//! The store on SQLite (WAL, one file): the embedded default. Its statements are in `sql`,
//! shared with PostgreSQL; what is SQLite's own here is the single writer (`BEGIN
//! IMMEDIATE`), lists bound as JSON (`json_each`), and the gauges, pruning and erasure.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;

use futures::future::BoxFuture;

use super::records::{dead_letter_headers, outbox_headers, plan_erasure, status_record};
use super::*;
use crate::config::EncryptionKeys;

pub struct SqliteStore {
    /// Readers: WAL lets them run beside the writer.
    pool: SqlitePool,
    /// The one writer connection. SQLite allows one writer at a time; queueing writers here
    /// (asynchronously) beats letting them collide in SQLite, whose busy handler sleeps up to
    /// 100 ms between retries.
    writer: SqlitePool,
    keys: EncryptionKeys,
    /// Inbox writes, committed together when they arrive together.
    intake: group_commit::GroupCommit<NewEvent, Accepted>,
    /// Ledger writes of all lanes, committed together likewise.
    ledger: group_commit::GroupCommit<LedgerWrite, ()>,
}

/// The most inbox writes, and ledger writes, one shared transaction takes.
const MAX_INTAKE_BATCH: usize = 256;
const MAX_LEDGER_BATCH: usize = 256;

/// Guids are kept as text: sqlx would bind a `Uuid` as 16 bytes.
fn guid_text(guid: Option<Uuid>) -> Option<String> {
    guid.map(|g| g.to_string())
}

/// A list of numbers as SQLite reads it: a JSON array, unpacked with `json_each`.
fn json_list<T: serde::Serialize>(values: &[T]) -> String {
    serde_json::to_string(values).expect("numbers serialize")
}

/// The database file is made readable by the service's user only; SQLite gives its WAL and
/// shared-memory files the database file's mode.
fn create_private(path: &std::path::Path) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Corrupt(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

impl SqliteStore {
    /// Open (creating the file and its folder), migrating when `migrate` is set.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        keys: EncryptionKeys,
        migrate: bool,
    ) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(dir) = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        create_private(options.get_filename())?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        if migrate {
            sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await?;
        // One writer: one batch at a time of each kind, taking turns on its connection.
        let intake = group_commit::GroupCommit::start(1, MAX_INTAKE_BATCH, {
            let writer = writer.clone();
            move |events: Vec<NewEvent>| {
                let writer = writer.clone();
                async move {
                    together(&writer, &events, |conn, event| {
                        Box::pin(accept_in(conn, event))
                    })
                    .await
                }
            }
        });
        let ledger = group_commit::GroupCommit::start(1, MAX_LEDGER_BATCH, {
            let writer = writer.clone();
            move |writes: Vec<LedgerWrite>| {
                let writer = writer.clone();
                async move {
                    together(&writer, &writes, |conn, write| {
                        Box::pin(ledger_in(conn, write))
                    })
                    .await
                }
            }
        });
        Ok(SqliteStore {
            pool,
            writer,
            keys,
            intake,
            ledger,
        })
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock at once: a deferred
    /// transaction that reads first and then writes fails with SQLITE_BUSY when another writer
    /// got in between, which `busy_timeout` cannot wait out.
    async fn write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// A write transaction that only proceeds while `fence` is the tenant's latest claim;
    /// checked inside the transaction, so no claim can slip in between.
    async fn write_fenced(
        &self,
        fence: &Fence,
    ) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        let mut tx = self.write().await?;
        check_fence(&mut tx, fence).await?;
        Ok(tx)
    }

    /// Insert or replace a tenant (its pause is kept) on `conn`.
    async fn upsert_tenant(&self, conn: &mut SqliteConnection, tenant: &Tenant) -> StoreResult<()> {
        let secrets = serde_json::to_vec(&tenant.secrets).expect("secrets serialize");
        let (sealed, key_id) = crypto::seal(&self.keys, &secrets);
        sqlx::query(sql::UPSERT_TENANT)
            .bind(&tenant.id)
            .bind(tenant.organization_id)
            .bind(serde_json::to_string(&tenant.settings).expect("settings serialize"))
            .bind(serde_json::to_string(&tenant.account_vat).expect("map serializes"))
            .bind(sealed)
            .bind(key_id)
            .bind(tenant.paused.as_ref().map(|p| p.reason.clone()))
            .bind(tenant.paused.as_ref().map(|p| p.at))
            .bind(tenant.created_at)
            .bind(tenant.updated_at)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// Write a record for the dead-letter topic inside the caller's transaction.
async fn outbox(
    conn: &mut SqliteConnection,
    tenant: &str,
    kind: &str,
    value: &str,
    headers: &BTreeMap<String, String>,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(sql::INSERT_OUTBOX)
        .bind(tenant)
        .bind(kind)
        .bind(value)
        .bind(outbox_headers(tenant, kind, headers))
        .bind(Utc::now())
        .fetch_one(conn)
        .await?)
}

#[async_trait]
impl TenantStore for SqliteStore {
    async fn put_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        self.upsert_tenant(&mut conn, tenant).await
    }

    async fn update_tenant(
        &self,
        id: &str,
        change: &(dyn for<'t> Fn(&'t mut Tenant) + Send + Sync),
    ) -> StoreResult<Option<Tenant>> {
        // The write lock, taken before the read, keeps every other writer out.
        let mut tx = self.write().await?;
        let row = sqlx::query(sql::TENANT)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(mut tenant) = row.map(|row| rows::tenant(&row, &self.keys)).transpose()? else {
            return Ok(None);
        };
        change(&mut tenant);
        self.upsert_tenant(&mut tx, &tenant).await?;
        tx.commit().await?;
        Ok(Some(tenant))
    }

    async fn tenant(&self, id: &str) -> StoreResult<Option<Tenant>> {
        let row = sqlx::query(sql::TENANT)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| rows::tenant(&row, &self.keys)).transpose()
    }

    async fn tenants(&self, after: &str, limit: i64) -> StoreResult<Vec<Tenant>> {
        let rows = sqlx::query(sql::TENANTS_PAGE)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| rows::tenant(row, &self.keys))
            .collect()
    }

    async fn pause(&self, tenant: &str, reason: &str) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let paused = sqlx::query(sql::PAUSE)
            .bind(reason)
            .bind(Utc::now())
            .bind(tenant)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if paused > 0 {
            let headers = BTreeMap::from([("reason".to_owned(), reason.to_owned())]);
            let record = status_record(tenant, "paused", Some(reason));
            outbox(&mut tx, tenant, "paused", &record, &headers).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn tenant_counts(
        &self,
        tenant: Option<&str>,
        after: &str,
        limit: i64,
    ) -> StoreResult<BTreeMap<String, TenantCounts>> {
        let rows = sqlx::query(sql::TENANT_COUNTS)
            .bind(tenant)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(rows::tenant_counts).collect())
    }
}

/// Fails with `Fenced` unless `fence` is the tenant's latest claim. SQLite's one writer
/// holds the write lock for the rest of the transaction, so no claim slips in after it.
async fn check_fence(conn: &mut SqliteConnection, fence: &Fence) -> StoreResult<()> {
    let epoch: Option<i64> =
        sqlx::query_scalar("SELECT epoch FROM tenant_owners WHERE tenant_id = $1")
            .bind(&fence.tenant)
            .fetch_optional(&mut *conn)
            .await?;
    if epoch != Some(fence.epoch) {
        return Err(StoreError::Fenced(fence.tenant.clone()));
    }
    Ok(())
}

/// One batch of writes in one transaction on the writer, each in a savepoint of its own: a
/// write that fails alone fails alone (group commit).
async fn together<T: Sync, R>(
    writer: &SqlitePool,
    items: &[T],
    write: impl for<'c> Fn(&'c mut SqliteConnection, &'c T) -> BoxFuture<'c, StoreResult<R>>,
) -> group_commit::BatchResult<R> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
        let result = write(&mut savepoint, item).await;
        if result.is_ok() {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}

/// Write an event to the inbox, recognising duplicates by event id and by order and
/// document, on `conn` (inside the caller's transaction).
async fn accept_in(conn: &mut SqliteConnection, event: &NewEvent) -> StoreResult<Accepted> {
    let existing: Option<i64> = sqlx::query_scalar(sql::EVENT_BY_ID)
        .bind(&event.tenant_id)
        .bind(&event.event_id)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(seq) = existing {
        return Ok(Accepted::DuplicateEvent { seq });
    }
    let current: Option<(i64, String, String)> = sqlx::query_as(sql::CURRENT_OF_DOCUMENT)
        .bind(&event.tenant_id)
        .bind(&event.order_id)
        .bind(&event.document)
        .fetch_optional(&mut *conn)
        .await?;
    let mut status =
        records::intake_status(current.as_ref().map(|(s, h, _)| (*s, h.as_str())), event);
    let mut replaced = None;
    if let (EventStatus::Conflict, Some((seq, _, was))) = (status, &current) {
        if records::replaceable(event, was) && supersede(conn, event, *seq, was).await? {
            status = records::fresh_status(event);
            replaced = Some(*seq);
        }
    }
    let seq: i64 = sqlx::query_scalar(sql::INSERT_EVENT)
        .bind(&event.tenant_id)
        .bind(&event.event_id)
        .bind(&event.order_id)
        .bind(&event.payload)
        .bind(&event.content_hash)
        .bind(status.as_str())
        .bind(Utc::now())
        .bind(event.source.as_ref().map(|s| s.topic.clone()))
        .bind(event.source.as_ref().map(|s| i64::from(s.partition)))
        .bind(event.source.as_ref().map(|s| s.offset))
        .bind(&event.traceparent)
        .bind(&event.document)
        .fetch_one(&mut *conn)
        .await?;
    Ok(records::accepted(
        status,
        seq,
        current.map(|(s, _, _)| s),
        replaced,
    ))
}

/// Supersede the waiting version `seq` (of status `was`) by `event`, unless an invoice was
/// made from it or may have been (its create in flight): whether it was superseded. Its open
/// dead letter is closed and the order's history says why.
async fn supersede(
    conn: &mut SqliteConnection,
    event: &NewEvent,
    seq: i64,
    was: &str,
) -> StoreResult<bool> {
    let taken = sqlx::query(sql::SUPERSEDE_EVENT)
        .bind(seq)
        .bind(was)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if taken == 0 {
        return Ok(false);
    }
    let started: i64 = sqlx::query_scalar(sql::INVOICE_STARTED)
        .bind(&event.tenant_id)
        .bind(&event.order_id)
        .fetch_one(&mut *conn)
        .await?;
    if started > 0 {
        sqlx::query(sql::SET_EVENT_STATUS)
            .bind(was)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
        return Ok(false);
    }
    let note = records::replaced_note(event);
    let now = Utc::now();
    sqlx::query(sql::RESOLVE_SUPERSEDED_DEAD_LETTER)
        .bind(&note)
        .bind(now)
        .bind(seq)
        .execute(&mut *conn)
        .await?;
    sqlx::query(sql::INSERT_HISTORY)
        .bind(&event.tenant_id)
        .bind(&event.order_id)
        .bind(now)
        .bind("replaced")
        .bind(Some(note))
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn accept_event(&self, event: NewEvent) -> StoreResult<Accepted> {
        self.intake.submit(event).await
    }

    async fn next_pending_event(&self, tenant: &str) -> StoreResult<Option<StoredEvent>> {
        let row = sqlx::query(sql::NEXT_PENDING)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::event).transpose()
    }

    async fn pending_event_for_order(
        &self,
        tenant: &str,
        order_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        let row = sqlx::query(sql::PENDING_FOR_ORDER)
            .bind(tenant)
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::event).transpose()
    }

    async fn events_for_order(
        &self,
        tenant: &str,
        order_id: &str,
    ) -> StoreResult<Vec<StoredEvent>> {
        let rows = sqlx::query(sql::EVENTS_FOR_ORDER)
            .bind(tenant)
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::event).collect()
    }

    async fn set_event_status(
        &self,
        seq: i64,
        status: EventStatus,
        fence: &Fence,
    ) -> StoreResult<()> {
        let mut tx = self.write_fenced(fence).await?;
        sqlx::query(sql::SET_EVENT_STATUS)
            .bind(status.as_str())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tenants_with_pending_events(&self) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(sql::TENANTS_WITH_PENDING)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn count_pending(&self, tenant: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_PENDING)
            .bind(tenant)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn tenants_on(&self, topic: &str, partitions: &[i32]) -> StoreResult<Vec<String>> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT tenant_id FROM events WHERE source_topic = $1
               AND source_partition IN (SELECT value FROM json_each($2))",
        )
        .bind(topic)
        .bind(json_list(partitions))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn tenants_pending_on(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> StoreResult<Vec<String>> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT tenant_id FROM events WHERE status = 'pending' AND source_topic = $1
               AND source_partition IN (SELECT value FROM json_each($2))",
        )
        .bind(topic)
        .bind(json_list(partitions))
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A ledger write as SQLite's group commit carries it (owned): the document's row and history, the
/// claim it is made under, and for `complete_order` the event it completes.
struct LedgerWrite {
    order: OrderRecord,
    history: Vec<(String, Option<String>, DateTime<Utc>)>,
    fence: Fence,
    completes: Option<i64>,
}

impl LedgerWrite {
    fn new(
        order: &OrderRecord,
        history: &[Reached<'_>],
        fence: &Fence,
        completes: Option<i64>,
    ) -> Self {
        LedgerWrite {
            order: order.clone(),
            history: history
                .iter()
                .map(|r| (r.step.to_owned(), r.detail.clone(), r.at))
                .collect(),
            fence: fence.clone(),
            completes,
        }
    }

    /// The history rows to append.
    fn history(&self) -> Vec<Reached<'_>> {
        self.history
            .iter()
            .map(|(step, detail, at)| Reached {
                step,
                detail: detail.clone(),
                at: *at,
            })
            .collect()
    }
}

/// One ledger write under its fence, inside the caller's transaction: the row and history,
/// and for a completion its event `done` and the event's dead letter replayed.
async fn ledger_in(conn: &mut SqliteConnection, write: &LedgerWrite) -> StoreResult<()> {
    check_fence(conn, &write.fence).await?;
    write_order(conn, &write.order, &write.history()).await?;
    if let Some(seq) = write.completes {
        sqlx::query(sql::SET_EVENT_STATUS)
            .bind(EventStatus::Done.as_str())
            .bind(seq)
            .execute(&mut *conn)
            .await?;
        sqlx::query(sql::REPLAYED)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The ledger row and its history rows, inside the caller's transaction.
async fn write_order(
    conn: &mut SqliteConnection,
    order: &OrderRecord,
    history: &[Reached<'_>],
) -> StoreResult<()> {
    if order.document == crate::domain::money_events::INVOICE
        && order.in_flight.as_deref() == Some(crate::domain::CREATE_INVOICE)
    {
        let current = sqlx::query(sql::EVENT_STILL_CURRENT)
            .bind(order.event_seq)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if current == 0 {
            return Err(StoreError::Superseded(order.order_id.clone()));
        }
    }
    sqlx::query(sql::UPSERT_ORDER)
        .bind(&order.tenant_id)
        .bind(&order.order_id)
        .bind(&order.document)
        .bind(order.event_seq)
        .bind(order.step.as_str())
        .bind(&order.in_flight)
        .bind(order.in_flight_epoch)
        .bind(guid_text(order.contact_guid))
        .bind(guid_text(order.invoice_guid))
        .bind(&order.invoice_version)
        .bind(order.invoice_number)
        .bind(i64::from(order.payments_done))
        .bind(i64::from(order.attempts))
        .bind(&order.error_class)
        .bind(&order.error)
        .bind(order.created_at)
        .bind(Utc::now())
        .bind(order.amount.map(|a| a.to_string()))
        .bind(order.voucher_date.map(|d| d.to_string()))
        .execute(&mut *conn)
        .await?;
    write_history(conn, &order.tenant_id, &order.order_id, history).await
}

/// History rows of an order, inside the caller's transaction.
async fn write_history(
    conn: &mut SqliteConnection,
    tenant: &str,
    order_id: &str,
    history: &[Reached<'_>],
) -> StoreResult<()> {
    for reached in history {
        sqlx::query(sql::INSERT_HISTORY)
            .bind(tenant)
            .bind(order_id)
            .bind(reached.at)
            .bind(reached.step)
            .bind(&reached.detail)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn document(
        &self,
        tenant: &str,
        order_id: &str,
        document: &str,
    ) -> StoreResult<Option<OrderRecord>> {
        let row = sqlx::query(sql::DOCUMENT)
            .bind(tenant)
            .bind(order_id)
            .bind(document)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::order).transpose()
    }

    async fn documents(&self, tenant: &str, order_id: &str) -> StoreResult<Vec<OrderRecord>> {
        let rows = sqlx::query(sql::DOCUMENTS)
            .bind(tenant)
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::order).collect()
    }

    async fn save_order(
        &self,
        order: &OrderRecord,
        history: &[Reached<'_>],
        fence: &Fence,
    ) -> StoreResult<()> {
        let write = LedgerWrite::new(order, history, fence, None);
        self.ledger.submit(write).await
    }

    async fn complete_order(
        &self,
        order: &OrderRecord,
        history: &[Reached<'_>],
        event_seq: i64,
        fence: &Fence,
    ) -> StoreResult<()> {
        let write = LedgerWrite::new(order, history, fence, Some(event_seq));
        self.ledger.submit(write).await
    }

    async fn order_history(&self, tenant: &str, order_id: &str) -> StoreResult<Vec<HistoryEntry>> {
        let rows = sqlx::query(sql::ORDER_HISTORY)
            .bind(tenant)
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::history).collect()
    }

    async fn orders(
        &self,
        tenant: &str,
        step: Option<Step>,
        limit: i64,
    ) -> StoreResult<Vec<OrderRecord>> {
        let rows = sqlx::query(sql::ORDERS)
            .bind(tenant)
            .bind(step.map(Step::as_str))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::order).collect()
    }

    async fn contact(&self, tenant: &str, key: &str) -> StoreResult<Option<Uuid>> {
        let row = sqlx::query(sql::CONTACT)
            .bind(tenant)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|row| rows::Columns::guid_opt(&row, "contact_guid"))
            .transpose()?
            .flatten())
    }

    async fn put_contact(&self, tenant: &str, key: &str, guid: Uuid) -> StoreResult<()> {
        sqlx::query(sql::PUT_CONTACT)
            .bind(tenant)
            .bind(key)
            .bind(guid.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn ledger_vouchers(
        &self,
        tenant: &str,
        (first, last): (NaiveDate, NaiveDate),
        (from, to): (DateTime<Utc>, DateTime<Utc>),
    ) -> StoreResult<Vec<OrderRecord>> {
        let rows = sqlx::query(sql::LEDGER_VOUCHERS)
            .bind(tenant)
            .bind(first.to_string())
            .bind(last.to_string())
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::order).collect()
    }

    async fn contacts_synced_at(&self, tenant: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let row = sqlx::query(sql::CONTACTS_SYNCED_AT)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::synced_at).transpose()
    }

    async fn sync_contacts(
        &self,
        tenant: &str,
        entries: &[(String, Uuid)],
        synced_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        for (key, guid) in entries {
            sqlx::query(sql::PUT_CONTACT_IF_ABSENT)
                .bind(tenant)
                .bind(key)
                .bind(guid.to_string())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(sql::SET_CONTACTS_SYNCED)
            .bind(tenant)
            .bind(synced_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn order_summaries(&self, filter: &OrderFilter<'_>) -> StoreResult<Vec<OrderSummary>> {
        let rows = sqlx::query(sql::ORDER_SUMMARIES)
            .bind(filter.tenant)
            .bind(filter.held)
            .bind(filter.after_seq)
            .bind(filter.order_id)
            .bind(filter.status)
            .bind(filter.limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::summary).collect()
    }

    async fn resolve_conflict(
        &self,
        tenant: &str,
        order_id: &str,
        resolution: ConflictResolution,
        note: &str,
    ) -> StoreResult<Option<ConflictResolved>> {
        let mut tx = self.write().await?;
        let rows = sqlx::query(sql::CONFLICTS_OF_ORDER)
            .bind(tenant)
            .bind(order_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut conflicts = rows
            .iter()
            .map(rows::event)
            .collect::<StoreResult<Vec<_>>>()?;
        let Some(newest) = conflicts.last().cloned() else {
            return Ok(None);
        };
        let mut rebook = None;
        if resolution == ConflictResolution::Rebook {
            conflicts.pop();
            let current: Option<(i64, String, String)> = sqlx::query_as(sql::CURRENT_OF_DOCUMENT)
                .bind(tenant)
                .bind(order_id)
                .bind(crate::domain::money_events::INVOICE)
                .fetch_optional(&mut *tx)
                .await?;
            let statuses = current
                .map(|(seq, _, _)| (seq, EventStatus::Superseded))
                .into_iter()
                .chain([(newest.seq, EventStatus::Pending)]);
            for (seq, status) in statuses {
                sqlx::query(sql::SET_EVENT_STATUS)
                    .bind(status.as_str())
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
            }
            let document = crate::domain::money_events::correction_document(newest.seq);
            let row = OrderRecord::for_document(tenant, order_id, &document, newest.seq);
            write_order(&mut tx, &row, &[]).await?;
            rebook = Some(newest.event_id);
        }
        for event in &conflicts {
            sqlx::query(sql::SET_EVENT_STATUS)
                .bind(EventStatus::SetAside.as_str())
                .bind(event.seq)
                .execute(&mut *tx)
                .await?;
        }
        write_history(
            &mut tx,
            tenant,
            order_id,
            &[Reached::now("conflict_resolved", Some(note.to_owned()))],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(ConflictResolved {
            set_aside: conflicts.into_iter().map(|e| e.event_id).collect(),
            rebook,
        }))
    }

    async fn move_invoice_aside(
        &self,
        credited: &OrderRecord,
        fresh: &OrderRecord,
        history: &[Reached<'_>],
        fence: &Fence,
    ) -> StoreResult<()> {
        let mut tx = self.write_fenced(fence).await?;
        sqlx::query(sql::RENAME_DOCUMENT)
            .bind(crate::domain::money_events::replaced_invoice_document(
                credited.event_seq,
            ))
            .bind(&credited.tenant_id)
            .bind(&credited.order_id)
            .bind(&credited.document)
            .execute(&mut *tx)
            .await?;
        write_order(&mut tx, fresh, history).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl DeadLetterStore for SqliteStore {
    async fn dead_letter_and_pause(
        &self,
        letter: NewDeadLetter,
        pause_reason: &str,
        fence: &Fence,
    ) -> StoreResult<i64> {
        let mut tx = self.write_fenced(fence).await?;
        let at = Utc::now();
        let id: i64 = sqlx::query_scalar(sql::INSERT_DEAD_LETTER)
            .bind(&letter.tenant_id)
            .bind(letter.event_seq)
            .bind(&letter.order_id)
            .bind(letter.error_class.as_str())
            .bind(&letter.error_code)
            .bind(&letter.message)
            .bind(i64::from(letter.attempts))
            .bind(letter.first_failed_at)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
        let event = sqlx::query(sql::EVENT_DEAD)
            .bind(letter.event_seq)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::Superseded(letter.order_id.clone()))?;
        let event = rows::event(&event)?;
        let headers = dead_letter_headers(&letter, &event, at, pause_reason);
        outbox(
            &mut tx,
            &letter.tenant_id,
            "dead_letter",
            &event.payload,
            &headers,
        )
        .await?;
        sqlx::query(sql::PAUSE_KEEPING_FIRST)
            .bind(pause_reason)
            .bind(at)
            .bind(&letter.tenant_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn dead_letters(&self, tenant: &str) -> StoreResult<Vec<DeadLetter>> {
        let rows = sqlx::query(sql::DEAD_LETTERS)
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::dead_letter).collect()
    }

    async fn dead_letter(&self, tenant: &str, id: i64) -> StoreResult<Option<DeadLetter>> {
        let row = sqlx::query(sql::DEAD_LETTER)
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::dead_letter).transpose()
    }

    async fn retry_dead_letter(&self, tenant: &str, id: i64) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let seq: Option<i64> = sqlx::query_scalar(sql::RETRY_DEAD_LETTER)
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(seq) = seq {
            sqlx::query(sql::SET_EVENT_STATUS)
                .bind(EventStatus::Pending.as_str())
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(seq.is_some())
    }

    async fn resolve_dead_letter(&self, tenant: &str, id: i64, reason: &str) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let seq: Option<i64> = sqlx::query_scalar(sql::RESOLVE_DEAD_LETTER)
            .bind(reason)
            .bind(Utc::now())
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(seq) = seq {
            sqlx::query(sql::SET_EVENT_STATUS)
                .bind(EventStatus::Resolved.as_str())
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(seq.is_some())
    }

    async fn resume(&self, tenant: &str) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        let seqs: Vec<i64> = sqlx::query_scalar(sql::RETRY_OPEN_DEAD_LETTERS)
            .bind(tenant)
            .fetch_all(&mut *tx)
            .await?;
        let queued = sqlx::query(
            "UPDATE events SET status = 'pending' WHERE seq IN (SELECT value FROM json_each($1))",
        )
        .bind(json_list(&seqs))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(sql::UNPAUSE)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        let headers = BTreeMap::from([("requeued-dead-letters".to_owned(), queued.to_string())]);
        let record = status_record(tenant, "resumed", None);
        outbox(&mut tx, tenant, "resumed", &record, &headers).await?;
        tx.commit().await?;
        Ok(queued)
    }

    async fn mark_replayed(&self, event_seq: i64, fence: &Fence) -> StoreResult<()> {
        let mut tx = self.write_fenced(fence).await?;
        sqlx::query(sql::REPLAYED)
            .bind(event_seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_outbox(
        &self,
        tenant: &str,
        kind: &str,
        value: &str,
        headers: &BTreeMap<String, String>,
    ) -> StoreResult<i64> {
        let mut conn = self.writer.acquire().await?;
        outbox(&mut conn, tenant, kind, value, headers).await
    }

    async fn unpublished(&self, limit: i64) -> StoreResult<Vec<OutboxRecord>> {
        let rows = sqlx::query(sql::UNPUBLISHED)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::outbox_record).collect()
    }

    async fn mark_published(&self, id: i64) -> StoreResult<()> {
        sqlx::query(sql::MARK_PUBLISHED)
            .bind(Utc::now())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn create_job(&self, job: &NewJob) -> StoreResult<()> {
        let mut tx = self.write().await?;
        sqlx::query(sql::INSERT_JOB)
            .bind(&job.id)
            .bind(&job.tenant_id)
            .bind(&job.overrides)
            .bind(Utc::now())
            .bind(job.kind.as_str())
            .execute(&mut *tx)
            .await?;
        for (position, order_id) in job.order_ids.iter().enumerate() {
            sqlx::query(sql::INSERT_JOB_ORDER)
                .bind(&job.id)
                .bind(position as i64)
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn job(&self, tenant: &str, id: &str) -> StoreResult<Option<TransferJob>> {
        let Some(row) = sqlx::query(sql::JOB)
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let orders = sqlx::query(sql::JOB_ORDERS)
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::job_item)
            .collect::<StoreResult<Vec<_>>>()?;
        rows::job(&row, orders).map(Some)
    }

    async fn next_job_order(&self, job_id: &str) -> StoreResult<Option<JobItem>> {
        let row = sqlx::query(sql::NEXT_JOB_ORDER)
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::job_item).transpose()
    }

    async fn set_job_order(
        &self,
        job_id: &str,
        position: i64,
        state: ItemState,
        reason: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(sql::SET_JOB_ORDER)
            .bind(state.as_str())
            .bind(reason)
            .bind(job_id)
            .bind(position)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn finish_job(&self, job_id: &str) -> StoreResult<()> {
        sqlx::query(sql::FINISH_JOB)
            .bind(Utc::now())
            .bind(job_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn cancel_job(&self, tenant: &str, id: &str) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let cancelled = sqlx::query(sql::CANCEL_JOB)
            .bind(Utc::now())
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if cancelled {
            sqlx::query(sql::CANCEL_JOB_ORDERS)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(cancelled)
    }

    async fn running_jobs(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(sql::RUNNING_JOBS)
            .fetch_all(&self.pool)
            .await?)
    }
}

#[async_trait]
impl OwnershipStore for SqliteStore {
    async fn claim_tenant(&self, tenant: &str, owner: &str) -> StoreResult<Fence> {
        let epoch: i64 = sqlx::query_scalar(sql::CLAIM_TENANT)
            .bind(tenant)
            .bind(owner)
            .bind(Utc::now())
            .fetch_one(&self.writer)
            .await?;
        Ok(Fence {
            tenant: tenant.to_owned(),
            epoch,
        })
    }
}

#[async_trait]
impl UpkeepStore for SqliteStore {
    async fn gauges(&self) -> StoreResult<StoreGauges> {
        let row = sqlx::query(
            "SELECT
                (SELECT COUNT(*) FROM events e WHERE e.status = 'pending' AND NOT EXISTS
                    (SELECT 1 FROM tenants t WHERE t.id = e.tenant_id AND t.pause_reason IS NOT NULL)) AS waiting,
                (SELECT COUNT(*) FROM events e WHERE e.status = 'pending' AND EXISTS
                    (SELECT 1 FROM tenants t WHERE t.id = e.tenant_id AND t.pause_reason IS NOT NULL)) AS held,
                (SELECT COALESCE((julianday('now') - julianday(MIN(received_at))) * 86400.0, 0.0)
                    FROM events WHERE status = 'pending') AS oldest,
                (SELECT COUNT(*) FROM tenants WHERE pause_reason IS NOT NULL) AS paused,
                (SELECT COUNT(*) FROM dead_letters WHERE status = 'open') AS open_dead,
                (SELECT COUNT(*) FROM outbox WHERE published_at IS NULL) AS outbox,
                (SELECT COALESCE((julianday('now') - julianday(MIN(created_at))) * 86400.0, 0.0)
                    FROM outbox WHERE published_at IS NULL) AS outbox_oldest",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StoreGauges {
            waiting_events: row.get("waiting"),
            held_events: row.get("held"),
            oldest_waiting_seconds: row.get("oldest"),
            paused_tenants: row.get("paused"),
            open_dead_letters: row.get("open_dead"),
            outbox_pending: row.get("outbox"),
            outbox_oldest_seconds: row.get("outbox_oldest"),
            connections_open: i64::from(self.pool.size()),
            connections_idle: self.pool.num_idle() as i64,
        })
    }

    async fn claim_run(&self, name: &str, day: NaiveDate, owner: &str) -> StoreResult<bool> {
        let claimed = sqlx::query(sql::CLAIM_RUN)
            .bind(name)
            .bind(day.to_string())
            .bind(owner)
            .bind(Utc::now())
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(claimed == 1)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn prune(&self, before: DateTime<Utc>, batch: i64) -> StoreResult<Pruned> {
        let before = before.to_rfc3339();
        let mut tx = self.write().await?;
        let mut delete = async |sql: &str| -> StoreResult<u64> {
            Ok(sqlx::query(sql)
                .bind(&before)
                .bind(batch)
                .execute(&mut *tx)
                .await?
                .rows_affected())
        };
        let pruned = Pruned {
            events: delete(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events
                   WHERE status IN ('done', 'duplicate', 'conflict', 'resolved', 'superseded', 'set_aside') AND received_at < ? LIMIT ?)",
            )
            .await?,
            history: delete(
                "DELETE FROM order_history WHERE id IN (SELECT h.id FROM order_history h
                   JOIN orders o ON o.tenant_id = h.tenant_id AND o.order_id = h.order_id
                   WHERE o.step = 'done' AND h.at < ? LIMIT ?)",
            )
            .await?,
            outbox: delete(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
                   WHERE published_at IS NOT NULL AND published_at < ? LIMIT ?)",
            )
            .await?,
            dead_letters: delete(
                "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters
                   WHERE status IN ('resolved', 'replayed') AND COALESCE(resolved_at, last_failed_at) < ? LIMIT ?)",
            )
            .await?,
            jobs: {
                // The same jobs twice in one transaction (ordered): their orders, then them.
                delete(
                    "DELETE FROM transfer_job_orders WHERE job_id IN (SELECT id FROM transfer_jobs
                       WHERE status IN ('done', 'cancelled') AND finished_at < ? ORDER BY id LIMIT ?)",
                )
                .await?;
                delete(
                    "DELETE FROM transfer_jobs WHERE id IN (SELECT id FROM transfer_jobs
                       WHERE status IN ('done', 'cancelled') AND finished_at < ? ORDER BY id LIMIT ?)",
                )
                .await?
            },
        };
        tx.commit().await?;
        Ok(pruned)
    }

    async fn erase_customer(&self, tenant: &str, who: &CustomerRef) -> StoreResult<Erasure> {
        let mut tx = self.write().await?;
        let mut events = Vec::new();
        let mut outbox = Vec::new();
        for needle in who.needles() {
            let rows = sqlx::query(
                "SELECT seq, order_id, status, payload FROM events
                 WHERE tenant_id = ? AND instr(lower(payload), lower(?)) > 0",
            )
            .bind(tenant)
            .bind(&needle)
            .fetch_all(&mut *tx)
            .await?;
            for row in rows {
                let status = EventStatus::parse(row.get("status"))?;
                events.push((
                    row.get("seq"),
                    row.get("order_id"),
                    status,
                    row.get("payload"),
                ));
            }
            outbox.extend(
                sqlx::query_as::<_, (i64, String)>(
                    "SELECT id, value FROM outbox WHERE tenant_id = ? AND instr(lower(value), lower(?)) > 0",
                )
                .bind(tenant)
                .bind(&needle)
                .fetch_all(&mut *tx)
                .await?,
            );
        }
        let plan = plan_erasure(tenant, who, events, outbox);
        if !plan.held.is_empty() {
            return Ok(Erasure::Held { orders: plan.held });
        }
        for (seq, payload) in &plan.events {
            sqlx::query("UPDATE events SET payload = ? WHERE seq = ?")
                .bind(payload)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        for (id, value) in &plan.outbox {
            sqlx::query("UPDATE outbox SET value = ? WHERE id = ?")
                .bind(value)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let mut contacts = 0;
        for key in &plan.contact_keys {
            contacts += sqlx::query("DELETE FROM contacts WHERE tenant_id = ? AND contact_key = ?")
                .bind(tenant)
                .bind(key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(Erasure::Erased {
            events: plan.events.len() as u64,
            outbox_records: plan.outbox.len() as u64,
            contacts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let keys = EncryptionKeys {
            current_id: "k1".into(),
            keys: BTreeMap::from([("k1".to_owned(), [1u8; 32])]),
        };
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        (
            SqliteStore::connect(&url, 2, keys, true).await.unwrap(),
            dir,
        )
    }

    #[tokio::test]
    async fn a_stale_owner_cannot_write_once_another_claimed_the_tenant() {
        let (store, _dir) = store().await;
        let first = store.claim_tenant("shop", "replica-a").await.unwrap();
        let second = store.claim_tenant("shop", "replica-b").await.unwrap();
        assert_eq!((first.epoch, second.epoch), (1, 2));
        let order = OrderRecord::new("shop", "1", 1);
        let stale = store
            .save_order(&order, &[Reached::now("received", None)], &first)
            .await;
        assert!(matches!(stale, Err(StoreError::Fenced(_))), "{stale:?}");
        assert!(
            store.order("shop", "1").await.unwrap().is_none(),
            "nothing written"
        );
        store
            .save_order(&order, &[Reached::now("received", None)], &second)
            .await
            .unwrap();
        assert!(store.order("shop", "1").await.unwrap().is_some());
        // Another tenant's claims are independent.
        let other = store.claim_tenant("other", "replica-a").await.unwrap();
        assert_eq!(other.epoch, 1);
    }
}
