-- Which replica works a tenant's lane. Every claim raises the epoch; the lane's ledger writes
-- carry the epoch they were claimed with and fail once another claim came after it (a stale
-- owner cannot complete a step).
CREATE TABLE tenant_owners (
    tenant_id TEXT PRIMARY KEY,
    owner     TEXT NOT NULL,
    epoch     INTEGER NOT NULL,
    claimed_at TEXT NOT NULL
);

-- The epoch that wrote an order's in-flight mark: a mark from another epoch may belong to a
-- call still running on the previous owner.
ALTER TABLE orders ADD COLUMN in_flight_epoch INTEGER;
