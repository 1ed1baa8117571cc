//! The statements both stores run as they are: one text for SQLite and PostgreSQL.
//!
//! Both dialects read `$N` parameters (sqlx binds `$N` on SQLite by its number), `RETURNING`,
//! `ON CONFLICT` and `CAST`. Times are bound from Rust rather than taken from the database's
//! clock, so SQLite (which keeps them as RFC 3339 text) and PostgreSQL (`timestamptz`) run the
//! same text. What differs stays in the store of its dialect: locking (`FOR SHARE`, advisory
//! locks, `BEGIN IMMEDIATE`), lists of values (`= ANY` against `json_each`), time arithmetic
//! in the gauges, and pruning and erasure, which lean on both.

// Tenants.

/// Insert or replace a tenant, keeping its pause. $1 id, $2 organization, $3 settings,
/// $4 account VAT, $5 sealed secrets, $6 their key id, $7 pause reason, $8 paused at,
/// $9 created at, $10 updated at.
pub(super) const UPSERT_TENANT: &str = "
INSERT INTO tenants (id, organization_id, settings, account_vat, secrets, secrets_key_id,
                     pause_reason, paused_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (id) DO UPDATE SET organization_id = excluded.organization_id,
    settings = excluded.settings, account_vat = excluded.account_vat,
    secrets = excluded.secrets, secrets_key_id = excluded.secrets_key_id,
    updated_at = excluded.updated_at";

pub(super) const TENANT: &str = "SELECT * FROM tenants WHERE id = $1";

/// $1 the page's start (ids after it), $2 its size.
pub(super) const TENANTS_PAGE: &str = "SELECT * FROM tenants WHERE id > $1 ORDER BY id LIMIT $2";

/// Pause a tenant that is not paused: one already paused keeps its first reason, which is
/// what stopped it. $1 reason, $2 at, $3 tenant.
pub(super) const PAUSE: &str =
    "UPDATE tenants SET pause_reason = $1, paused_at = $2 WHERE id = $3 AND pause_reason IS NULL";

/// Pause for a dead letter, keeping an earlier reason. $1 reason, $2 at, $3 tenant.
pub(super) const PAUSE_KEEPING_FIRST: &str = "
UPDATE tenants SET pause_reason = COALESCE(pause_reason, $1), paused_at = COALESCE(paused_at, $2)
WHERE id = $3";

pub(super) const UNPAUSE: &str =
    "UPDATE tenants SET pause_reason = NULL, paused_at = NULL WHERE id = $1";

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

/// Claim a tenant's lane; every claim raises the epoch. $1 tenant, $2 owner, $3 at.
pub(super) const CLAIM_TENANT: &str = "
INSERT INTO tenant_owners (tenant_id, owner, epoch, claimed_at) VALUES ($1, $2, 1, $3)
ON CONFLICT (tenant_id) DO UPDATE SET owner = excluded.owner,
    epoch = tenant_owners.epoch + 1, claimed_at = excluded.claimed_at
RETURNING epoch";

// The inbox.

/// $1 tenant, $2 event id.
pub(super) const EVENT_BY_ID: &str =
    "SELECT seq FROM events WHERE tenant_id = $1 AND event_id = $2";

/// The statuses of events that do not carry an order's version that counts (a resend, an
/// open conflict, a version replaced or set aside): `EventStatus::is_current_version`.
macro_rules! not_current {
    () => {
        "('duplicate', 'conflict', 'superseded', 'set_aside')"
    };
}

/// The event carrying the current version of an order's document: the latest taken (a
/// correction before transfer supersedes the one before it; a rebook the booked one).
/// $1 tenant, $2 order, $3 document.
pub(super) const CURRENT_OF_DOCUMENT: &str = concat!(
    "
SELECT seq, content_hash, status FROM events WHERE tenant_id = $1 AND order_id = $2
  AND document = $3 AND status NOT IN ",
    not_current!(),
    "
ORDER BY seq DESC LIMIT 1"
);

/// A newer version replaces a waiting one: supersede it, if it still has the status it was
/// read with. On PostgreSQL this locks the row, so a lane's `EVENT_STILL_CURRENT` before its
/// invoice create waits for this transaction, or this for the lane's. $1 seq, $2 status.
pub(super) const SUPERSEDE_EVENT: &str =
    "UPDATE events SET status = 'superseded' WHERE seq = $1 AND status = $2";

/// Whether an invoice was made, or may have been, from the order's version: then a newer
/// one is a conflict. Read after `SUPERSEDE_EVENT`, so it sees a lane's in-flight mark
/// committed before it. $1 tenant, $2 order.
pub(super) const INVOICE_STARTED: &str = "
SELECT COUNT(*) FROM orders WHERE tenant_id = $1 AND order_id = $2 AND document = 'invoice'
  AND (invoice_guid IS NOT NULL OR in_flight = 'create_invoice'
       OR step IN ('done', 'awaiting_payment', 'cancelled'))";

/// The superseded event's dead letter, if it had one, is closed: its newer version is what
/// resume transfers. $1 resolution, $2 at, $3 event seq.
pub(super) const RESOLVE_SUPERSEDED_DEAD_LETTER: &str = "
UPDATE dead_letters SET status = 'resolved', resolution = $1, resolved_at = $2
WHERE event_seq = $3 AND status IN ('open', 'retrying')";

/// A lane's check, with its invoice create's in-flight mark, that no newer version replaced
/// its event meanwhile (it then stops: the newer one is waiting). Locks the event row on
/// PostgreSQL (see `SUPERSEDE_EVENT`). $1 seq.
pub(super) const EVENT_STILL_CURRENT: &str =
    "UPDATE events SET status = status WHERE seq = $1 AND status <> 'superseded'";

/// An order's open conflicts, oldest first. $1 tenant, $2 order.
pub(super) const CONFLICTS_OF_ORDER: &str = "
SELECT * FROM events WHERE tenant_id = $1 AND order_id = $2 AND document = 'invoice'
  AND status = 'conflict'
ORDER BY seq";

/// Rename a document's ledger row (a rebook moves the credited invoice aside); fenced by
/// the caller. $1 new document, $2 tenant, $3 order, $4 document.
pub(super) const RENAME_DOCUMENT: &str =
    "UPDATE orders SET document = $1 WHERE tenant_id = $2 AND order_id = $3 AND document = $4";

/// $1 tenant, $2 event id, $3 order, $4 payload, $5 content hash, $6 status, $7 received at,
/// $8 source topic, $9 partition, $10 offset, $11 traceparent, $12 document.
pub(super) const INSERT_EVENT: &str = "
INSERT INTO events (tenant_id, event_id, order_id, payload, content_hash, status, received_at,
                    source_topic, source_partition, source_offset, traceparent, document)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING seq";

pub(super) const NEXT_PENDING: &str =
    "SELECT * FROM events WHERE tenant_id = $1 AND status = 'pending' ORDER BY seq LIMIT 1";

/// The order's event a manual transfer takes: waiting, dead-lettered or imported.
/// $1 tenant, $2 order.
pub(super) const PENDING_FOR_ORDER: &str = "
SELECT * FROM events WHERE tenant_id = $1 AND order_id = $2
  AND status IN ('pending', 'dead', 'imported')
ORDER BY seq LIMIT 1";

pub(super) const EVENTS_FOR_ORDER: &str =
    "SELECT * FROM events WHERE tenant_id = $1 AND order_id = $2 ORDER BY seq";

/// $1 status, $2 seq.
pub(super) const SET_EVENT_STATUS: &str = "UPDATE events SET status = $1 WHERE seq = $2";

pub(super) const TENANTS_WITH_PENDING: &str =
    "SELECT DISTINCT tenant_id FROM events WHERE status = 'pending'";

pub(super) const COUNT_PENDING: &str =
    "SELECT COUNT(*) FROM events WHERE tenant_id = $1 AND status = 'pending'";

// The ledger.

/// Insert or update one document's ledger row. $1 tenant, $2 order, $3 document, $4 event
/// seq, $5 step, $6 in flight, $7 its epoch, $8 contact guid, $9 invoice guid, $10 invoice
/// version, $11 invoice number, $12 payments done, $13 attempts, $14 error class, $15 error,
/// $16 created at, $17 updated at, $18 amount, $19 voucher date.
pub(super) const UPSERT_ORDER: &str = "
INSERT INTO orders (tenant_id, order_id, document, event_seq, step, in_flight, in_flight_epoch,
                    contact_guid, invoice_guid, invoice_version, invoice_number, payments_done,
                    attempts, error_class, error, created_at, updated_at, amount, voucher_date)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
ON CONFLICT (tenant_id, order_id, document) DO UPDATE SET event_seq = excluded.event_seq,
    step = excluded.step, in_flight = excluded.in_flight, in_flight_epoch = excluded.in_flight_epoch,
    contact_guid = excluded.contact_guid,
    invoice_guid = excluded.invoice_guid, invoice_version = excluded.invoice_version,
    invoice_number = excluded.invoice_number, payments_done = excluded.payments_done,
    attempts = excluded.attempts, error_class = excluded.error_class, error = excluded.error,
    updated_at = excluded.updated_at, amount = excluded.amount,
    voucher_date = excluded.voucher_date";

/// $1 tenant, $2 order, $3 at, $4 step, $5 detail.
pub(super) const INSERT_HISTORY: &str =
    "INSERT INTO order_history (tenant_id, order_id, at, step, detail) VALUES ($1, $2, $3, $4, $5)";

pub(super) const ORDER_HISTORY: &str = "
SELECT at, step, detail FROM order_history WHERE tenant_id = $1 AND order_id = $2 ORDER BY id";

/// $1 tenant, $2 order, $3 document.
pub(super) const DOCUMENT: &str =
    "SELECT * FROM orders WHERE tenant_id = $1 AND order_id = $2 AND document = $3";

pub(super) const DOCUMENTS: &str =
    "SELECT * FROM orders WHERE tenant_id = $1 AND order_id = $2 ORDER BY event_seq";

/// $1 tenant, $2 step or NULL for all, $3 limit.
pub(super) const ORDERS: &str = "
SELECT * FROM orders WHERE tenant_id = $1 AND (CAST($2 AS TEXT) IS NULL OR step = $2)
ORDER BY event_seq LIMIT $3";

/// The tenant's ledger rows that hold a Dinero voucher dated `$2` to `$3` (YYYY-MM-DD, both
/// included), and rows without a date (written before dates were kept) first written in
/// `[$4, $5)`: what a reconciliation compares with Dinero's lists. $1 tenant.
pub(super) const LEDGER_VOUCHERS: &str = "
SELECT * FROM orders WHERE tenant_id = $1 AND invoice_guid IS NOT NULL
  AND (voucher_date BETWEEN $2 AND $3
       OR (voucher_date IS NULL AND created_at >= $4 AND created_at < $5))
ORDER BY event_seq";

pub(super) const CONTACT: &str =
    "SELECT contact_guid FROM contacts WHERE tenant_id = $1 AND contact_key = $2";

/// $1 tenant, $2 key, $3 guid.
pub(super) const PUT_CONTACT: &str = "
INSERT INTO contacts (tenant_id, contact_key, contact_guid) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, contact_key) DO UPDATE SET contact_guid = excluded.contact_guid";

/// A cache entry read from Dinero's contact list: one the transfer wrote (or an earlier read)
/// stands. $1 tenant, $2 key, $3 guid.
pub(super) const PUT_CONTACT_IF_ABSENT: &str = "
INSERT INTO contacts (tenant_id, contact_key, contact_guid) VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, contact_key) DO NOTHING";

pub(super) const CONTACTS_SYNCED_AT: &str =
    "SELECT synced_at FROM contact_syncs WHERE tenant_id = $1";

/// $1 tenant, $2 at.
pub(super) const SET_CONTACTS_SYNCED: &str = "
INSERT INTO contact_syncs (tenant_id, synced_at) VALUES ($1, $2)
ON CONFLICT (tenant_id) DO UPDATE SET synced_at = excluded.synced_at";

/// The orders list with each order's status, computed and filtered in the database (so a
/// filter never misses what a row limit cut off). Parameters: $1 tenant, $2 held, $3 after
/// seq, $4 order id or NULL, $5 status or NULL, $6 limit.
pub(super) const ORDER_SUMMARIES: &str = concat!(
    "
SELECT * FROM (
    SELECT e.seq, e.event_id, e.order_id, e.received_at, o.step, o.invoice_guid,
           o.invoice_number, o.contact_guid, o.error, o.error_class, o.attempts,
           CASE WHEN EXISTS (SELECT 1 FROM events c WHERE c.tenant_id = e.tenant_id
                                AND c.order_id = e.order_id AND c.document = 'invoice'
                                AND c.status = 'conflict') THEN 'conflict'
                WHEN e.status = 'pending' AND o.event_seq <> e.seq AND $2 THEN 'held'
                WHEN e.status = 'pending' AND o.event_seq <> e.seq THEN 'pending'
                WHEN o.step = 'awaiting_payment' THEN 'awaiting_payment'
                WHEN o.step = 'cancelled' THEN 'cancelled'
                WHEN o.step = 'done' OR e.status = 'done' THEN 'done'
                WHEN e.status = 'dead' OR o.step = 'failed' THEN 'failed'
                WHEN e.status = 'resolved' THEN 'resolved'
                WHEN e.status = 'imported' AND o.step IS NULL THEN 'imported'
                WHEN $2 THEN 'held'
                WHEN o.step IS NULL THEN 'pending'
                ELSE 'in_progress' END AS status
    FROM events e
    LEFT JOIN orders o
        ON o.tenant_id = e.tenant_id AND o.order_id = e.order_id AND o.document = 'invoice'
    WHERE e.tenant_id = $1 AND e.document = 'invoice'
      AND e.status NOT IN ",
    not_current!(),
    " AND e.seq > $3
      AND ($4 IS NULL OR e.order_id = $4)
) AS listed
WHERE ($5 IS NULL OR status = $5)
ORDER BY seq
LIMIT $6"
);

// Dead letters and the outbox.

/// $1 tenant, $2 event seq, $3 order, $4 class, $5 code, $6 message, $7 attempts, $8 first
/// failed at, $9 last failed at.
pub(super) const INSERT_DEAD_LETTER: &str = "
INSERT INTO dead_letters (tenant_id, event_seq, order_id, error_class, error_code, message,
                          attempts, first_failed_at, last_failed_at, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open')
RETURNING id";

/// Mark the event dead and read it back for the dead-letter record; none when a newer
/// version superseded it meanwhile. $1 seq.
pub(super) const EVENT_DEAD: &str =
    "UPDATE events SET status = 'dead' WHERE seq = $1 AND status <> 'superseded' RETURNING *";

pub(super) const DEAD_LETTERS: &str = "SELECT * FROM dead_letters WHERE tenant_id = $1 ORDER BY id";

pub(super) const DEAD_LETTER: &str = "SELECT * FROM dead_letters WHERE tenant_id = $1 AND id = $2";

/// Queue one open dead letter again. $1 tenant, $2 id.
pub(super) const RETRY_DEAD_LETTER: &str = "
UPDATE dead_letters SET status = 'retrying' WHERE tenant_id = $1 AND id = $2 AND status = 'open'
RETURNING event_seq";

/// Close an open or retrying dead letter by hand. $1 reason, $2 at, $3 tenant, $4 id.
pub(super) const RESOLVE_DEAD_LETTER: &str = "
UPDATE dead_letters SET status = 'resolved', resolution = $1, resolved_at = $2
WHERE tenant_id = $3 AND id = $4 AND status IN ('open', 'retrying')
RETURNING event_seq";

/// Resume's first statement: flip the tenant's open dead letters, whose events are then
/// queued by the list this returns. Flipping first means a retry of one of them running at
/// the same time finds it no longer open, so no event is queued twice.
pub(super) const RETRY_OPEN_DEAD_LETTERS: &str = "
UPDATE dead_letters SET status = 'retrying' WHERE tenant_id = $1 AND status = 'open'
RETURNING event_seq";

/// The event of a dead letter went through after all. $1 event seq.
pub(super) const REPLAYED: &str = "
UPDATE dead_letters SET status = 'replayed' WHERE event_seq = $1 AND status IN ('open', 'retrying')";

/// $1 tenant, $2 kind, $3 value, $4 headers (JSON), $5 created at.
pub(super) const INSERT_OUTBOX: &str = "
INSERT INTO outbox (tenant_id, kind, value, headers, created_at) VALUES ($1, $2, $3, $4, $5)
RETURNING id";

pub(super) const UNPUBLISHED: &str =
    "SELECT * FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1";

/// Only the first publication counts: retention measures a record's age from it.
/// $1 at, $2 id.
pub(super) const MARK_PUBLISHED: &str =
    "UPDATE outbox SET published_at = $1 WHERE id = $2 AND published_at IS NULL";

// Transfer jobs.

/// $1 id, $2 tenant, $3 overrides (JSON), $4 created at, $5 kind.
pub(super) const INSERT_JOB: &str = "
INSERT INTO transfer_jobs (id, tenant_id, overrides, status, created_at, kind)
VALUES ($1, $2, $3, 'running', $4, $5)";

/// $1 job, $2 position, $3 order.
pub(super) const INSERT_JOB_ORDER: &str = "
INSERT INTO transfer_job_orders (job_id, position, order_id, state) VALUES ($1, $2, $3, 'waiting')";

/// $1 tenant, $2 job.
pub(super) const JOB: &str = "SELECT * FROM transfer_jobs WHERE tenant_id = $1 AND id = $2";

pub(super) const JOB_ORDERS: &str =
    "SELECT * FROM transfer_job_orders WHERE job_id = $1 ORDER BY position";

/// The job's next order: the first still waiting (none once it is cancelled).
pub(super) const NEXT_JOB_ORDER: &str = "
SELECT * FROM transfer_job_orders WHERE job_id = $1 AND state = 'waiting'
ORDER BY position LIMIT 1";

/// $1 state, $2 reason, $3 job, $4 position.
pub(super) const SET_JOB_ORDER: &str =
    "UPDATE transfer_job_orders SET state = $1, reason = $2 WHERE job_id = $3 AND position = $4";

/// $1 at, $2 job.
pub(super) const FINISH_JOB: &str = "
UPDATE transfer_jobs SET status = 'done', finished_at = $1 WHERE id = $2 AND status = 'running'";

/// $1 at, $2 tenant, $3 job.
pub(super) const CANCEL_JOB: &str = "
UPDATE transfer_jobs SET status = 'cancelled', finished_at = $1
WHERE tenant_id = $2 AND id = $3 AND status = 'running'";

pub(super) const CANCEL_JOB_ORDERS: &str =
    "UPDATE transfer_job_orders SET state = 'cancelled' WHERE job_id = $1 AND state = 'waiting'";

/// Jobs not finished, oldest first: (tenant, id).
pub(super) const RUNNING_JOBS: &str =
    "SELECT tenant_id, id FROM transfer_jobs WHERE status = 'running' ORDER BY created_at";

// Scheduled runs.

/// Record that `$1` runs for day `$2`: no row when another replica did first. $3 owner,
/// $4 at.
pub(super) const CLAIM_RUN: &str = "
INSERT INTO scheduled_runs (name, day, owner, started_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (name, day) DO NOTHING";
