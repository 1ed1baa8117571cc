-- Reconciliation: the date each voucher carries in Dinero, to find the ledger's vouchers of a
-- date range (an order may be transferred long after its date: an import, a paused shop).
ALTER TABLE orders ADD COLUMN voucher_date TEXT; -- YYYY-MM-DD; NULL on rows written before
CREATE INDEX orders_voucher_date ON orders (tenant_id, voucher_date) WHERE invoice_guid IS NOT NULL;

-- Scheduled runs (the nightly reconciliation): the replica that records a run's day first
-- makes it; the others leave it.
CREATE TABLE scheduled_runs (
    name       TEXT NOT NULL,
    day        TEXT NOT NULL, -- YYYY-MM-DD
    owner      TEXT NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (name, day)
);

-- The contact cache kept in sync with Dinero's contact list: when each tenant's was last read
-- (the next read asks only for contacts changed since).
CREATE TABLE contact_syncs (
    tenant_id TEXT PRIMARY KEY,
    synced_at TEXT NOT NULL
);
