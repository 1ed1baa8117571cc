//! The store on PostgreSQL: production, shared by several replicas. Its statements are in
//! `sql`, shared with SQLite; what is PostgreSQL's own here is the locking below, arrays
//! (`= ANY`), and the gauges, pruning and erasure.
//!
//! What keeps it correct with concurrent writers:
//! - a tenant's events are inserted under a per-tenant advisory lock, so `seq` order is the
//!   order they were accepted in and a reader never sees a later event before an earlier one;
//! - fenced writes lock the tenant's owner row `FOR SHARE` and check its epoch in the same
//!   transaction, so a claim (which updates that row) waits for them, and a write under a
//!   superseded claim fails instead of overwriting the new owner's work;
//! - state transitions are conditional updates (`WHERE status = ...`), never read-then-write.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use super::records::{dead_letter_headers, outbox_headers, plan_erasure, status_record};
use super::*;
use crate::config::{EncryptionKeys, PgTlsMode, StoreSettings};

pub struct PgStore {
    pool: PgPool,
    keys: EncryptionKeys,
    /// Inbox writes, committed together when they arrive together.
    intake: group_commit::GroupCommit<NewEvent, Accepted>,
}

/// The most inbox writes one shared transaction takes, and how many such transactions run
/// side by side (each holds one connection of the pool while it writes).
const MAX_INTAKE_BATCH: usize = 128;
const INTAKE_WRITERS: usize = 3;

/// A tenant's intake lock: held while its events are inserted, and by an erasure.
const LOCK_TENANT: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

/// Connection options from `store.*`: the URL, then TLS and the statement timeout.
fn options(settings: &StoreSettings) -> StoreResult<PgConnectOptions> {
    let mut options = PgConnectOptions::from_str(&settings.url)?
        .application_name("dinero-bridge")
        .options([(
            "statement_timeout",
            format!("{}ms", settings.statement_timeout().as_millis()),
        )]);
    if let Some(mode) = settings.tls_mode {
        options = options.ssl_mode(match mode {
            PgTlsMode::Disable => PgSslMode::Disable,
            PgTlsMode::Allow => PgSslMode::Allow,
            PgTlsMode::Prefer => PgSslMode::Prefer,
            PgTlsMode::Require => PgSslMode::Require,
            PgTlsMode::VerifyCa => PgSslMode::VerifyCa,
            PgTlsMode::VerifyFull => PgSslMode::VerifyFull,
        });
    }
    if let Some(cert) = &settings.tls_root_cert {
        options = options.ssl_root_cert(cert);
    }
    Ok(options)
}

impl PgStore {
    /// Connect with the pool settings of `store.*`; migrate when `migrate` is set.
    pub async fn connect(
        settings: &StoreSettings,
        keys: EncryptionKeys,
        migrate: bool,
    ) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout())
            .idle_timeout(Some(Duration::from_secs(300)))
            .connect_with(options(settings)?)
            .await?;
        if migrate {
            Self::migrate(&pool).await?;
        }
        // The batch writers never take every connection: lanes and readers need some.
        let writers = INTAKE_WRITERS.min(settings.max_connections.max(2) as usize - 1);
        let intake = group_commit::GroupCommit::start(writers, MAX_INTAKE_BATCH, {
            let pool = pool.clone();
            move |events: Vec<NewEvent>| accept_together(pool.clone(), events)
        });
        Ok(PgStore { pool, keys, intake })
    }

    /// Apply the migrations under `migrations/postgres` that have not run yet. Replicas that
    /// start together are safe: sqlx holds an advisory lock while it migrates.
    pub async fn migrate(pool: &PgPool) -> StoreResult<()> {
        sqlx::migrate!("./migrations/postgres").run(pool).await?;
        Ok(())
    }

    /// A write transaction that only proceeds while `fence` is the tenant's latest claim.
    async fn write_fenced(
        &self,
        fence: &Fence,
    ) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await?;
        check_fence(&mut tx, fence).await?;
        Ok(tx)
    }

    /// Insert or replace a tenant (its pause is kept) on `conn`.
    async fn upsert_tenant(&self, conn: &mut PgConnection, tenant: &Tenant) -> StoreResult<()> {
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
    conn: &mut PgConnection,
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
impl TenantStore for PgStore {
    async fn put_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        self.upsert_tenant(&mut conn, tenant).await
    }

    async fn update_tenant(
        &self,
        id: &str,
        change: &(dyn for<'t> Fn(&'t mut Tenant) + Send + Sync),
    ) -> StoreResult<Option<Tenant>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT * FROM tenants WHERE id = $1 FOR UPDATE")
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
        let mut tx = self.pool.begin().await?;
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

/// Fails with `Fenced` unless `fence` is the tenant's latest claim. The owner row is locked
/// `FOR SHARE` until the transaction ends, so a claim (which updates it) waits for the write.
async fn check_fence(conn: &mut PgConnection, fence: &Fence) -> StoreResult<()> {
    let epoch: Option<i64> =
        sqlx::query_scalar("SELECT epoch FROM tenant_owners WHERE tenant_id = $1 FOR SHARE")
            .bind(&fence.tenant)
            .fetch_optional(&mut *conn)
            .await?;
    if epoch != Some(fence.epoch) {
        return Err(StoreError::Fenced(fence.tenant.clone()));
    }
    Ok(())
}

/// One batch of inbox writes in one transaction, each in a savepoint: a write that fails
/// alone fails alone (group commit). One writer per tenant at a time: each tenant's advisory
/// lock is taken before its first event, so the duplicate checks cannot race and the sequence
/// numbers are drawn in the order the tenant's events commit. Locks are taken in tenant order
/// (the batch is sorted, stably, by tenant), so two batches never wait for each other in a
/// circle.
async fn accept_together(
    pool: PgPool,
    events: Vec<NewEvent>,
) -> group_commit::BatchResult<Accepted> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by(|&a, &b| events[a].tenant_id.cmp(&events[b].tenant_id));
    let mut tx = pool.begin().await?;
    let mut results: Vec<Option<StoreResult<Accepted>>> = events.iter().map(|_| None).collect();
    let mut locked: Option<&str> = None;
    for index in order {
        let event = &events[index];
        if locked != Some(event.tenant_id.as_str()) {
            sqlx::query(LOCK_TENANT)
                .bind(&event.tenant_id)
                .execute(&mut *tx)
                .await?;
            locked = Some(&event.tenant_id);
        }
        let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
        let result = accept_in(&mut savepoint, event).await;
        if result.is_ok() {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        results[index] = Some(result);
    }
    tx.commit().await?;
    Ok(results
        .into_iter()
        .map(|r| r.expect("every write answered"))
        .collect())
}

/// Write an event to the inbox, recognising duplicates by event id and by order and
/// document, on `conn` (inside the caller's transaction, under the tenant's lock).
async fn accept_in(conn: &mut PgConnection, event: &NewEvent) -> StoreResult<Accepted> {
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
        .bind(event.source.as_ref().map(|s| s.partition))
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
    conn: &mut PgConnection,
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
impl InboxStore for PgStore {
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
            "SELECT DISTINCT tenant_id FROM events WHERE source_topic = $1 AND source_partition = ANY($2)",
        )
        .bind(topic)
        .bind(partitions)
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
               AND source_partition = ANY($2)",
        )
        .bind(topic)
        .bind(partitions)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// The ledger row and its history rows, inside the caller's transaction.
async fn write_order(
    conn: &mut PgConnection,
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
        .bind(order.contact_guid)
        .bind(order.invoice_guid)
        .bind(&order.invoice_version)
        .bind(order.invoice_number)
        .bind(order.payments_done as i32)
        .bind(order.attempts as i32)
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
    conn: &mut PgConnection,
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
impl LedgerStore for PgStore {
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

    // The ledger's writes are not group-committed here: PostgreSQL already shares one WAL
    // flush among concurrent commits, and lanes writing on connections of their own beat one
    // shared transaction's statements in a row (README, Benchmarks).
    async fn save_order(
        &self,
        order: &OrderRecord,
        history: &[Reached<'_>],
        fence: &Fence,
    ) -> StoreResult<()> {
        let mut tx = self.write_fenced(fence).await?;
        write_order(&mut tx, order, history).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_order(
        &self,
        order: &OrderRecord,
        history: &[Reached<'_>],
        event_seq: i64,
        fence: &Fence,
    ) -> StoreResult<()> {
        let mut tx = self.write_fenced(fence).await?;
        write_order(&mut tx, order, history).await?;
        sqlx::query(sql::SET_EVENT_STATUS)
            .bind(EventStatus::Done.as_str())
            .bind(event_seq)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql::REPLAYED)
            .bind(event_seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
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
        Ok(sqlx::query_scalar(sql::CONTACT)
            .bind(tenant)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn put_contact(&self, tenant: &str, key: &str, guid: Uuid) -> StoreResult<()> {
        sqlx::query(sql::PUT_CONTACT)
            .bind(tenant)
            .bind(key)
            .bind(guid)
            .execute(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        for (key, guid) in entries {
            sqlx::query(sql::PUT_CONTACT_IF_ABSENT)
                .bind(tenant)
                .bind(key)
                .bind(guid)
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
        let mut tx = self.pool.begin().await?;
        // Intake's lock: no new version of the order can arrive in between.
        sqlx::query(LOCK_TENANT)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
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
impl DeadLetterStore for PgStore {
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
            .bind(letter.attempts as i32)
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
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
        let seqs: Vec<i64> = sqlx::query_scalar(sql::RETRY_OPEN_DEAD_LETTERS)
            .bind(tenant)
            .fetch_all(&mut *tx)
            .await?;
        let queued = sqlx::query("UPDATE events SET status = 'pending' WHERE seq = ANY($1)")
            .bind(&seqs)
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
        let mut conn = self.pool.acquire().await?;
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl JobStore for PgStore {
    async fn create_job(&self, job: &NewJob) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
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
                .bind(position as i32)
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
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn finish_job(&self, job_id: &str) -> StoreResult<()> {
        sqlx::query(sql::FINISH_JOB)
            .bind(Utc::now())
            .bind(job_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn cancel_job(&self, tenant: &str, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
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
impl OwnershipStore for PgStore {
    async fn claim_tenant(&self, tenant: &str, owner: &str) -> StoreResult<Fence> {
        // The upsert locks the owner row: it waits for fenced writes of the previous claim
        // to commit, and every write under that claim after this one fails.
        let epoch: i64 = sqlx::query_scalar(sql::CLAIM_TENANT)
            .bind(tenant)
            .bind(owner)
            .bind(Utc::now())
            .fetch_one(&self.pool)
            .await?;
        Ok(Fence {
            tenant: tenant.to_owned(),
            epoch,
        })
    }
}

#[async_trait]
impl UpkeepStore for PgStore {
    async fn gauges(&self) -> StoreResult<StoreGauges> {
        let row = sqlx::query(
            "SELECT
                (SELECT COUNT(*) FROM events e WHERE e.status = 'pending' AND NOT EXISTS
                    (SELECT 1 FROM tenants t WHERE t.id = e.tenant_id AND t.pause_reason IS NOT NULL)) AS waiting,
                (SELECT COUNT(*) FROM events e WHERE e.status = 'pending' AND EXISTS
                    (SELECT 1 FROM tenants t WHERE t.id = e.tenant_id AND t.pause_reason IS NOT NULL)) AS held,
                (SELECT COALESCE(EXTRACT(EPOCH FROM now() - MIN(received_at))::float8, 0.0)
                    FROM events WHERE status = 'pending') AS oldest,
                (SELECT COUNT(*) FROM tenants WHERE pause_reason IS NOT NULL) AS paused,
                (SELECT COUNT(*) FROM dead_letters WHERE status = 'open') AS open_dead,
                (SELECT COUNT(*) FROM outbox WHERE published_at IS NULL) AS outbox,
                (SELECT COALESCE(EXTRACT(EPOCH FROM now() - MIN(created_at))::float8, 0.0)
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
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(claimed == 1)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn prune(&self, before: DateTime<Utc>, batch: i64) -> StoreResult<Pruned> {
        // Each table on its own statement: rows are independent, and short transactions keep
        // the pruning out of the lanes' way.
        let delete = async |sql: &str| -> StoreResult<u64> {
            Ok(sqlx::query(sql)
                .bind(before)
                .bind(batch)
                .execute(&self.pool)
                .await?
                .rows_affected())
        };
        Ok(Pruned {
            events: delete(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events
                   WHERE status IN ('done', 'duplicate', 'conflict', 'resolved', 'superseded', 'set_aside') AND received_at < $1
                   LIMIT $2)",
            )
            .await?,
            history: delete(
                "DELETE FROM order_history WHERE id IN (SELECT h.id FROM order_history h
                   JOIN orders o ON o.tenant_id = h.tenant_id AND o.order_id = h.order_id
                   WHERE o.step = 'done' AND h.at < $1 LIMIT $2)",
            )
            .await?,
            outbox: delete(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
                   WHERE published_at < $1 LIMIT $2)",
            )
            .await?,
            dead_letters: delete(
                "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters
                   WHERE status IN ('resolved', 'replayed')
                     AND COALESCE(resolved_at, last_failed_at) < $1 LIMIT $2)",
            )
            .await?,
            // A job and its orders in one statement.
            jobs: sqlx::query_scalar::<_, i64>(
                "WITH gone AS (
                   DELETE FROM transfer_jobs WHERE id IN (SELECT id FROM transfer_jobs
                     WHERE status IN ('done', 'cancelled') AND finished_at < $1 LIMIT $2)
                   RETURNING id),
                 orders AS (DELETE FROM transfer_job_orders WHERE job_id IN (SELECT id FROM gone))
                 SELECT COUNT(*) FROM gone",
            )
            .bind(before)
            .bind(batch)
            .fetch_one(&self.pool)
            .await? as u64,
        })
    }

    async fn erase_customer(&self, tenant: &str, who: &CustomerRef) -> StoreResult<Erasure> {
        let mut tx = self.pool.begin().await?;
        // Hold the tenant's intake while erasing, so no event of this customer slips in
        // between the check for waiting orders and the rewrite.
        sqlx::query(LOCK_TENANT)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        let needles: Vec<String> = who.needles().iter().map(|n| n.to_lowercase()).collect();
        let rows = sqlx::query(
            "SELECT seq, order_id, status, payload FROM events
             WHERE tenant_id = $1 AND EXISTS
               (SELECT 1 FROM unnest($2::text[]) AS n WHERE strpos(lower(payload), n) > 0)
             FOR UPDATE",
        )
        .bind(tenant)
        .bind(&needles)
        .fetch_all(&mut *tx)
        .await?;
        let events = rows
            .iter()
            .map(|row| {
                Ok((
                    row.get("seq"),
                    row.get("order_id"),
                    EventStatus::parse(row.get("status"))?,
                    row.get("payload"),
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let outbox: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, value FROM outbox
             WHERE tenant_id = $1 AND EXISTS
               (SELECT 1 FROM unnest($2::text[]) AS n WHERE strpos(lower(value), n) > 0)
             FOR UPDATE",
        )
        .bind(tenant)
        .bind(&needles)
        .fetch_all(&mut *tx)
        .await?;
        let plan = plan_erasure(tenant, who, events, outbox);
        if !plan.held.is_empty() {
            return Ok(Erasure::Held { orders: plan.held });
        }
        for (seq, payload) in &plan.events {
            sqlx::query("UPDATE events SET payload = $1 WHERE seq = $2")
                .bind(payload)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        for (id, value) in &plan.outbox {
            sqlx::query("UPDATE outbox SET value = $1 WHERE id = $2")
                .bind(value)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let keys: Vec<String> = plan.contact_keys.iter().cloned().collect();
        let contacts =
            sqlx::query("DELETE FROM contacts WHERE tenant_id = $1 AND contact_key = ANY($2)")
                .bind(tenant)
                .bind(&keys)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        tx.commit().await?;
        Ok(Erasure::Erased {
            events: plan.events.len() as u64,
            outbox_records: plan.outbox.len() as u64,
            contacts,
        })
    }
}
