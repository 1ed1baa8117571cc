-- Transfers of selected orders: one job per admin call, its orders in the order given.
CREATE TABLE transfer_jobs (
    id          TEXT PRIMARY KEY,       -- a uuid
    tenant_id   TEXT NOT NULL,
    overrides   TEXT NOT NULL,          -- JSON: per-call changes to the tenant's settings
    status      TEXT NOT NULL,          -- running | done | cancelled
    created_at  TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX transfer_jobs_running ON transfer_jobs (created_at) WHERE status = 'running';

CREATE TABLE transfer_job_orders (
    job_id   TEXT NOT NULL,
    position INTEGER NOT NULL,
    order_id TEXT NOT NULL,
    state    TEXT NOT NULL,             -- waiting | done | failed | cancelled
    reason   TEXT,                      -- why it failed, or why it was skipped
    PRIMARY KEY (job_id, position)
);
