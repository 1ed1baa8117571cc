//! The store on SQLite (WAL, one file): the embedded default.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::records::{
    self, amount, dead_letter_headers, json, outbox_headers, plan_erasure, status_record,
};
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
}

/// The most inbox writes one shared transaction takes.
const MAX_INTAKE_BATCH: usize = 256;

fn now() -> String {
    Utc::now().to_rfc3339()
}

fn time(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("timestamp '{text}'")))
}

fn guid(text: Option<String>) -> StoreResult<Option<Uuid>> {
    text.map(|t| Uuid::parse_str(&t).map_err(|_| StoreError::Corrupt(format!("guid '{t}'"))))
        .transpose()
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
        // One writer: one batch at a time.
        let intake = group_commit::GroupCommit::start(1, MAX_INTAKE_BATCH, {
            let writer = writer.clone();
            move |events: Vec<NewEvent>| accept_together(writer.clone(), events)
        });
        Ok(SqliteStore {
            pool,
            writer,
            keys,
            intake,
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
        let epoch: Option<i64> =
            sqlx::query_scalar("SELECT epoch FROM tenant_owners WHERE tenant_id = ?")
                .bind(&fence.tenant)
                .fetch_optional(&mut *tx)
                .await?;
        if epoch != Some(fence.epoch) {
            return Err(StoreError::Fenced(fence.tenant.clone()));
        }
        Ok(tx)
    }

    /// Insert or replace a tenant (its pause is kept) on `conn`.
    async fn upsert_tenant(
        &self,
        conn: &mut sqlx::SqliteConnection,
        tenant: &Tenant,
    ) -> StoreResult<()> {
        let secrets = serde_json::to_vec(&tenant.secrets).expect("secrets serialize");
        let (sealed, key_id) = crypto::seal(&self.keys, &secrets);
        sqlx::query(
            "INSERT INTO tenants (id, organization_id, settings, account_vat, secrets, secrets_key_id,
                                  pause_reason, paused_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id,
                settings = excluded.settings, account_vat = excluded.account_vat,
                secrets = excluded.secrets, secrets_key_id = excluded.secrets_key_id,
                updated_at = excluded.updated_at",
        )
        .bind(&tenant.id)
        .bind(tenant.organization_id)
        .bind(serde_json::to_string(&tenant.settings).expect("settings serialize"))
        .bind(serde_json::to_string(&tenant.account_vat).expect("map serializes"))
        .bind(sealed)
        .bind(key_id)
        .bind(tenant.paused.as_ref().map(|p| p.reason.clone()))
        .bind(tenant.paused.as_ref().map(|p| p.at.to_rfc3339()))
        .bind(tenant.created_at.to_rfc3339())
        .bind(tenant.updated_at.to_rfc3339())
        .execute(conn)
        .await?;
        Ok(())
    }

    fn tenant_from(&self, row: &SqliteRow) -> StoreResult<Tenant> {
        let sealed: Vec<u8> = row.get("secrets");
        let key_id: String = row.get("secrets_key_id");
        let secrets = crypto::open(&self.keys, &key_id, &sealed)?;
        let paused_at: Option<String> = row.get("paused_at");
        let reason: Option<String> = row.get("pause_reason");
        let paused = match (reason, paused_at) {
            (Some(reason), Some(at)) => Some(Pause {
                reason,
                at: time(&at)?,
            }),
            _ => None,
        };
        Ok(Tenant {
            id: row.get("id"),
            organization_id: row.get("organization_id"),
            settings: json("tenant settings", row.get("settings"))?,
            account_vat: json("account VAT", row.get("account_vat"))?,
            secrets: serde_json::from_slice(&secrets)
                .map_err(|e| StoreError::Secrets(e.to_string()))?,
            paused,
            created_at: time(row.get("created_at"))?,
            updated_at: time(row.get("updated_at"))?,
        })
    }
}

fn event_from(row: &SqliteRow) -> StoreResult<StoredEvent> {
    Ok(StoredEvent {
        seq: row.get("seq"),
        tenant_id: row.get("tenant_id"),
        event_id: row.get("event_id"),
        order_id: row.get("order_id"),
        document: row.get("document"),
        payload: row.get("payload"),
        status: EventStatus::parse(row.get("status"))?,
        received_at: time(row.get("received_at"))?,
        source: row
            .get::<Option<String>, _>("source_topic")
            .map(|topic| EventSource {
                topic,
                partition: row
                    .get::<Option<i64>, _>("source_partition")
                    .unwrap_or_default() as i32,
                offset: row
                    .get::<Option<i64>, _>("source_offset")
                    .unwrap_or_default(),
            }),
        traceparent: row.get("traceparent"),
    })
}

/// Write a record for the dead-letter topic inside the caller's transaction.
async fn outbox(
    tx: &mut sqlx::SqliteConnection,
    tenant: &str,
    kind: &str,
    value: &str,
    headers: &BTreeMap<String, String>,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO outbox (tenant_id, kind, value, headers, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(tenant)
    .bind(kind)
    .bind(value)
    .bind(outbox_headers(tenant, kind, headers))
    .bind(now())
    .fetch_one(tx)
    .await?)
}

fn summary_from(row: &SqliteRow) -> StoreResult<OrderSummary> {
    Ok(OrderSummary {
        seq: row.get("seq"),
        order_id: row.get("order_id"),
        status: row.get("status"),
        event_id: row.get("event_id"),
        received_at: time(row.get("received_at"))?,
        step: row
            .get::<Option<&str>, _>("step")
            .map(Step::parse)
            .transpose()?,
        dinero: DineroRefs {
            invoice_guid: guid(row.get("invoice_guid"))?,
            invoice_number: row.get("invoice_number"),
            contact_guid: guid(row.get("contact_guid"))?,
        },
        error: row.get("error"),
        error_class: row.get("error_class"),
        attempts: row.get::<Option<i64>, _>("attempts").unwrap_or(0) as u32,
    })
}

fn order_from(row: &SqliteRow) -> StoreResult<OrderRecord> {
    Ok(OrderRecord {
        tenant_id: row.get("tenant_id"),
        order_id: row.get("order_id"),
        document: row.get("document"),
        event_seq: row.get("event_seq"),
        step: Step::parse(row.get("step"))?,
        in_flight: row.get("in_flight"),
        in_flight_epoch: row.get("in_flight_epoch"),
        contact_guid: guid(row.get("contact_guid"))?,
        invoice_guid: guid(row.get("invoice_guid"))?,
        invoice_version: row.get("invoice_version"),
        invoice_number: row.get("invoice_number"),
        payments_done: row.get::<i64, _>("payments_done") as u32,
        attempts: row.get::<i64, _>("attempts") as u32,
        error_class: row.get("error_class"),
        error: row.get("error"),
        amount: amount(row.get("amount"))?,
        created_at: time(row.get("created_at"))?,
        updated_at: time(row.get("updated_at"))?,
    })
}

fn dead_letter_from(row: &SqliteRow) -> StoreResult<DeadLetter> {
    let resolved_at: Option<String> = row.get("resolved_at");
    Ok(DeadLetter {
        id: row.get("id"),
        tenant_id: row.get("tenant_id"),
        event_seq: row.get("event_seq"),
        order_id: row.get("order_id"),
        error_class: row.get("error_class"),
        error_code: row.get("error_code"),
        message: row.get("message"),
        attempts: row.get::<i64, _>("attempts") as u32,
        first_failed_at: time(row.get("first_failed_at"))?,
        last_failed_at: time(row.get("last_failed_at"))?,
        status: DeadLetterStatus::parse(row.get("status"))?,
        resolution: row.get("resolution"),
        resolved_at: resolved_at.as_deref().map(time).transpose()?,
    })
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
        let mut tx = self.write().await?;
        let row = sqlx::query("SELECT * FROM tenants WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(mut tenant) = row.as_ref().map(|row| self.tenant_from(row)).transpose()? else {
            return Ok(None);
        };
        change(&mut tenant);
        self.upsert_tenant(&mut tx, &tenant).await?;
        tx.commit().await?;
        Ok(Some(tenant))
    }

    async fn tenant(&self, id: &str) -> StoreResult<Option<Tenant>> {
        let row = sqlx::query("SELECT * FROM tenants WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|row| self.tenant_from(row)).transpose()
    }

    async fn tenants(&self, after: &str, limit: i64) -> StoreResult<Vec<Tenant>> {
        let rows = sqlx::query("SELECT * FROM tenants WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| self.tenant_from(row)).collect()
    }

    async fn pause(&self, tenant: &str, reason: &str) -> StoreResult<()> {
        let mut tx = self.write().await?;
        // A tenant already paused keeps its first reason: that is what stopped it.
        let paused = sqlx::query(
            "UPDATE tenants SET pause_reason = ?, paused_at = ? WHERE id = ? AND pause_reason IS NULL",
        )
        .bind(reason)
        .bind(now())
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
        let rows = sqlx::query(records::TENANT_COUNTS)
            .bind(tenant)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let counts = TenantCounts {
                    pending_events: row.get("pending"),
                    open_dead_letters: row.get("open_dead"),
                };
                (row.get("id"), counts)
            })
            .collect())
    }
}

/// One batch of inbox writes in one transaction, each in a savepoint: a write that fails
/// alone fails alone (group commit).
async fn accept_together(
    writer: SqlitePool,
    events: Vec<NewEvent>,
) -> group_commit::BatchResult<Accepted> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(events.len());
    for event in &events {
        let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
        match accept_in(&mut savepoint, event).await {
            Ok(accepted) => {
                savepoint.commit().await?;
                results.push(Ok(accepted));
            }
            Err(error) => {
                savepoint.rollback().await?;
                results.push(Err(error));
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

/// Write an event to the inbox, recognising duplicates by event id and by order and
/// document, on `conn` (inside the caller's transaction).
async fn accept_in(conn: &mut sqlx::SqliteConnection, event: &NewEvent) -> StoreResult<Accepted> {
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM events WHERE tenant_id = ? AND event_id = ?")
            .bind(&event.tenant_id)
            .bind(&event.event_id)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(seq) = existing {
        return Ok(Accepted::DuplicateEvent { seq });
    }
    let first: Option<(i64, String)> = sqlx::query_as(
        "SELECT seq, content_hash FROM events WHERE tenant_id = ? AND order_id = ?
               AND document = ? AND status NOT IN ('duplicate', 'conflict') ORDER BY seq LIMIT 1",
    )
    .bind(&event.tenant_id)
    .bind(&event.order_id)
    .bind(&event.document)
    .fetch_optional(&mut *conn)
    .await?;
    let status = match &first {
        None => EventStatus::Pending,
        Some((_, hash)) if *hash == event.content_hash => EventStatus::Duplicate,
        Some(_) => EventStatus::Conflict,
    };
    let seq: i64 = sqlx::query_scalar(
            "INSERT INTO events (tenant_id, event_id, order_id, payload, content_hash, status, received_at,
                                 source_topic, source_partition, source_offset, traceparent, document)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
        )
        .bind(&event.tenant_id)
        .bind(&event.event_id)
        .bind(&event.order_id)
        .bind(&event.payload)
        .bind(&event.content_hash)
        .bind(status.as_str())
        .bind(now())
        .bind(event.source.as_ref().map(|s| s.topic.clone()))
        .bind(event.source.as_ref().map(|s| i64::from(s.partition)))
        .bind(event.source.as_ref().map(|s| s.offset))
        .bind(&event.traceparent)
        .bind(&event.document)
        .fetch_one(&mut *conn)
        .await?;
    Ok(match (status, first) {
        (EventStatus::Duplicate, Some((first, _))) => Accepted::DuplicateOrder { seq: first },
        (EventStatus::Conflict, Some((first_seq, _))) => Accepted::Conflict { seq, first_seq },
        _ => Accepted::New { seq },
    })
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn accept_event(&self, event: NewEvent) -> StoreResult<Accepted> {
        self.intake.submit(event).await
    }

    async fn next_pending_event(&self, tenant: &str) -> StoreResult<Option<StoredEvent>> {
        let row = sqlx::query(
            "SELECT * FROM events WHERE tenant_id = ? AND status = 'pending' ORDER BY seq LIMIT 1",
        )
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_from).transpose()
    }

    async fn pending_event_for_order(
        &self,
        tenant: &str,
        order_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        let row = sqlx::query(
            "SELECT * FROM events WHERE tenant_id = ? AND order_id = ? AND status IN ('pending', 'dead')
             ORDER BY seq LIMIT 1",
        )
        .bind(tenant)
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(event_from).transpose()
    }

    async fn events_for_order(
        &self,
        tenant: &str,
        order_id: &str,
    ) -> StoreResult<Vec<StoredEvent>> {
        let rows =
            sqlx::query("SELECT * FROM events WHERE tenant_id = ? AND order_id = ? ORDER BY seq")
                .bind(tenant)
                .bind(order_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(event_from).collect()
    }

    async fn set_event_status(
        &self,
        seq: i64,
        status: EventStatus,
        fence: &Fence,
    ) -> StoreResult<()> {
        let mut tx = self.write_fenced(fence).await?;
        sqlx::query("UPDATE events SET status = ? WHERE seq = ?")
            .bind(status.as_str())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tenants_with_pending_events(&self) -> StoreResult<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT tenant_id FROM events WHERE status = 'pending'")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn count_pending(&self, tenant: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE tenant_id = ? AND status = 'pending'",
        )
        .bind(tenant)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn tenants_on(&self, topic: &str, partitions: &[i32]) -> StoreResult<Vec<String>> {
        let list = serde_json::to_string(partitions).expect("numbers serialize");
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT tenant_id FROM events WHERE source_topic = ?
               AND source_partition IN (SELECT value FROM json_each(?))",
        )
        .bind(topic)
        .bind(list)
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
        let list = serde_json::to_string(partitions).expect("numbers serialize");
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT tenant_id FROM events WHERE status = 'pending' AND source_topic = ?
               AND source_partition IN (SELECT value FROM json_each(?))",
        )
        .bind(topic)
        .bind(list)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// The ledger row and its history rows, inside the caller's transaction.
async fn write_order(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    order: &OrderRecord,
    history: &[Reached<'_>],
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO orders (tenant_id, order_id, document, event_seq, step, in_flight, in_flight_epoch, contact_guid,
                             invoice_guid, invoice_version, invoice_number, payments_done, attempts,
                             error_class, error, created_at, updated_at, amount)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, order_id, document) DO UPDATE SET event_seq = excluded.event_seq,
            step = excluded.step, in_flight = excluded.in_flight, in_flight_epoch = excluded.in_flight_epoch,
            contact_guid = excluded.contact_guid,
            invoice_guid = excluded.invoice_guid, invoice_version = excluded.invoice_version,
            invoice_number = excluded.invoice_number, payments_done = excluded.payments_done,
            attempts = excluded.attempts, error_class = excluded.error_class, error = excluded.error,
            updated_at = excluded.updated_at, amount = excluded.amount",
    )
    .bind(&order.tenant_id)
    .bind(&order.order_id)
    .bind(&order.document)
    .bind(order.event_seq)
    .bind(order.step.as_str())
    .bind(&order.in_flight)
    .bind(order.in_flight_epoch)
    .bind(order.contact_guid.map(|g| g.to_string()))
    .bind(order.invoice_guid.map(|g| g.to_string()))
    .bind(&order.invoice_version)
    .bind(order.invoice_number)
    .bind(i64::from(order.payments_done))
    .bind(i64::from(order.attempts))
    .bind(&order.error_class)
    .bind(&order.error)
    .bind(order.created_at.to_rfc3339())
    .bind(now())
    .bind(order.amount.map(|a| a.to_string()))
    .execute(&mut **tx)
    .await?;
    for reached in history {
        sqlx::query("INSERT INTO order_history (tenant_id, order_id, at, step, detail) VALUES (?, ?, ?, ?, ?)")
            .bind(&order.tenant_id)
            .bind(&order.order_id)
            .bind(reached.at.to_rfc3339())
            .bind(reached.step)
            .bind(&reached.detail)
            .execute(&mut **tx)
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
        let row = sqlx::query(
            "SELECT * FROM orders WHERE tenant_id = ? AND order_id = ? AND document = ?",
        )
        .bind(tenant)
        .bind(order_id)
        .bind(document)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(order_from).transpose()
    }

    async fn documents(&self, tenant: &str, order_id: &str) -> StoreResult<Vec<OrderRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE tenant_id = ? AND order_id = ? ORDER BY event_seq",
        )
        .bind(tenant)
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(order_from).collect()
    }

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
        sqlx::query("UPDATE events SET status = 'done' WHERE seq = ?")
            .bind(event_seq)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE dead_letters SET status = 'replayed' WHERE event_seq = ? AND status IN ('open', 'retrying')",
        )
        .bind(event_seq)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn order_history(&self, tenant: &str, order_id: &str) -> StoreResult<Vec<HistoryEntry>> {
        let rows = sqlx::query("SELECT at, step, detail FROM order_history WHERE tenant_id = ? AND order_id = ? ORDER BY id")
            .bind(tenant)
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(HistoryEntry {
                    at: time(row.get("at"))?,
                    step: row.get("step"),
                    detail: row.get("detail"),
                })
            })
            .collect()
    }

    async fn orders(
        &self,
        tenant: &str,
        step: Option<Step>,
        limit: i64,
    ) -> StoreResult<Vec<OrderRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE tenant_id = ? AND (? IS NULL OR step = ?) ORDER BY event_seq LIMIT ?",
        )
        .bind(tenant)
        .bind(step.map(Step::as_str))
        .bind(step.map(Step::as_str))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(order_from).collect()
    }

    async fn contact(&self, tenant: &str, key: &str) -> StoreResult<Option<Uuid>> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT contact_guid FROM contacts WHERE tenant_id = ? AND contact_key = ?",
        )
        .bind(tenant)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        guid(text)
    }

    async fn put_contact(&self, tenant: &str, key: &str, guid: Uuid) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO contacts (tenant_id, contact_key, contact_guid) VALUES (?, ?, ?)
             ON CONFLICT (tenant_id, contact_key) DO UPDATE SET contact_guid = excluded.contact_guid",
        )
        .bind(tenant)
        .bind(key)
        .bind(guid.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn order_summaries(&self, filter: &OrderFilter<'_>) -> StoreResult<Vec<OrderSummary>> {
        let rows = sqlx::query(records::ORDER_SUMMARIES)
            .bind(filter.tenant)
            .bind(filter.held)
            .bind(filter.after_seq)
            .bind(filter.order_id)
            .bind(filter.status)
            .bind(filter.limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(summary_from).collect()
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
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO dead_letters (tenant_id, event_seq, order_id, error_class, error_code, message, attempts,
                                       first_failed_at, last_failed_at, status)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open') RETURNING id",
        )
        .bind(&letter.tenant_id)
        .bind(letter.event_seq)
        .bind(&letter.order_id)
        .bind(letter.error_class.as_str())
        .bind(&letter.error_code)
        .bind(&letter.message)
        .bind(i64::from(letter.attempts))
        .bind(letter.first_failed_at.to_rfc3339())
        .bind(at.to_rfc3339())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE events SET status = 'dead' WHERE seq = ?")
            .bind(letter.event_seq)
            .execute(&mut *tx)
            .await?;
        let event = sqlx::query("SELECT * FROM events WHERE seq = ?")
            .bind(letter.event_seq)
            .fetch_one(&mut *tx)
            .await?;
        let event = event_from(&event)?;
        let headers = dead_letter_headers(&letter, &event, at, pause_reason);
        outbox(
            &mut tx,
            &letter.tenant_id,
            "dead_letter",
            &event.payload,
            &headers,
        )
        .await?;

        sqlx::query(
            "UPDATE tenants SET pause_reason = COALESCE(pause_reason, ?), paused_at = COALESCE(paused_at, ?) WHERE id = ?",
        )
        .bind(pause_reason)
        .bind(at.to_rfc3339())
        .bind(&letter.tenant_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn dead_letters(&self, tenant: &str) -> StoreResult<Vec<DeadLetter>> {
        let rows = sqlx::query("SELECT * FROM dead_letters WHERE tenant_id = ? ORDER BY id")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(dead_letter_from).collect()
    }

    async fn dead_letter(&self, tenant: &str, id: i64) -> StoreResult<Option<DeadLetter>> {
        let row = sqlx::query("SELECT * FROM dead_letters WHERE tenant_id = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(dead_letter_from).transpose()
    }

    async fn retry_dead_letter(&self, tenant: &str, id: i64) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE dead_letters SET status = 'retrying' WHERE tenant_id = ? AND id = ? AND status = 'open' RETURNING event_seq",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(seq) = seq {
            sqlx::query("UPDATE events SET status = 'pending' WHERE seq = ?")
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(seq.is_some())
    }

    async fn resolve_dead_letter(&self, tenant: &str, id: i64, reason: &str) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let seq: Option<i64> = sqlx::query_scalar(
            "UPDATE dead_letters SET status = 'resolved', resolution = ?, resolved_at = ?
             WHERE tenant_id = ? AND id = ? AND status IN ('open', 'retrying') RETURNING event_seq",
        )
        .bind(reason)
        .bind(now())
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(seq) = seq {
            sqlx::query("UPDATE events SET status = 'resolved' WHERE seq = ?")
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(seq.is_some())
    }

    async fn resume(&self, tenant: &str) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        let queued = sqlx::query(
            "UPDATE events SET status = 'pending' WHERE seq IN
               (SELECT event_seq FROM dead_letters WHERE tenant_id = ? AND status = 'open')",
        )
        .bind(tenant)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE dead_letters SET status = 'retrying' WHERE tenant_id = ? AND status = 'open'",
        )
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE tenants SET pause_reason = NULL, paused_at = NULL WHERE id = ?")
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        let headers = BTreeMap::from([("requeued-dead-letters".to_owned(), queued.to_string())]);
        outbox(
            &mut tx,
            tenant,
            "resumed",
            &status_record(tenant, "resumed", None),
            &headers,
        )
        .await?;
        tx.commit().await?;
        Ok(queued)
    }

    async fn mark_replayed(&self, event_seq: i64, fence: &Fence) -> StoreResult<()> {
        let mut tx = self.write_fenced(fence).await?;
        sqlx::query("UPDATE dead_letters SET status = 'replayed' WHERE event_seq = ? AND status IN ('open', 'retrying')")
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
        let mut tx = self.write().await?;
        let id = outbox(&mut tx, tenant, kind, value, headers).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn unpublished(&self, limit: i64) -> StoreResult<Vec<OutboxRecord>> {
        let rows =
            sqlx::query("SELECT * FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(OutboxRecord {
                    id: row.get("id"),
                    tenant_id: row.get("tenant_id"),
                    kind: row.get("kind"),
                    value: row.get("value"),
                    headers: json("outbox headers", row.get("headers"))?,
                    created_at: time(row.get("created_at"))?,
                })
            })
            .collect()
    }

    async fn mark_published(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET published_at = ? WHERE id = ?")
            .bind(now())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl OwnershipStore for SqliteStore {
    async fn claim_tenant(&self, tenant: &str, owner: &str) -> StoreResult<Fence> {
        let mut tx = self.write().await?;
        let epoch: i64 = sqlx::query_scalar(
            "INSERT INTO tenant_owners (tenant_id, owner, epoch, claimed_at) VALUES (?, ?, 1, ?)
             ON CONFLICT (tenant_id) DO UPDATE SET owner = excluded.owner, epoch = tenant_owners.epoch + 1,
                claimed_at = excluded.claimed_at
             RETURNING epoch",
        )
        .bind(tenant)
        .bind(owner)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
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
                   WHERE status IN ('done', 'duplicate', 'conflict', 'resolved') AND received_at < ? LIMIT ?)",
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
