-- Tenants: one shop = one Dinero organization. Secrets are AES-GCM ciphertext (key id kept).
CREATE TABLE tenants (
    id              TEXT PRIMARY KEY,
    organization_id INTEGER NOT NULL,
    settings        TEXT NOT NULL,          -- JSON: transfer settings and account mapping
    account_vat     TEXT NOT NULL,          -- JSON: VAT percent per entry account, from Dinero
    secrets         BLOB NOT NULL,          -- nonce || ciphertext of the JSON secrets
    secrets_key_id  TEXT NOT NULL,
    pause_reason    TEXT,                   -- NULL = not paused
    paused_at       TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- The inbox: every accepted event, in arrival order per tenant. Written before 2xx.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    payload      TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    status       TEXT NOT NULL,   -- pending | done | dead | resolved | duplicate | conflict
    received_at  TEXT NOT NULL,
    UNIQUE (tenant_id, event_id)
);
CREATE INDEX events_pending ON events (tenant_id, status, seq);
CREATE INDEX events_order ON events (tenant_id, order_id);

-- The ledger: one row per order and document, advanced step by step around Dinero calls.
CREATE TABLE orders (
    tenant_id       TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    document        TEXT NOT NULL,        -- invoice
    event_seq       INTEGER NOT NULL,
    step            TEXT NOT NULL,        -- received | contact | invoice_created | booked | paid | done | failed
    in_flight       TEXT,                 -- the call sent but not yet answered, for look-up after a crash
    contact_guid    TEXT,
    invoice_guid    TEXT,
    invoice_version TEXT,
    invoice_number  INTEGER,
    payments_done   INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    error_class     TEXT,
    error           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, order_id, document)
);

CREATE TABLE order_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    at        TEXT NOT NULL,
    step      TEXT NOT NULL,
    detail    TEXT
);
CREATE INDEX order_history_order ON order_history (tenant_id, order_id, id);

-- Contacts already matched or created in Dinero, so a known customer costs no look-up.
CREATE TABLE contacts (
    tenant_id    TEXT NOT NULL,
    contact_key  TEXT NOT NULL,
    contact_guid TEXT NOT NULL,
    PRIMARY KEY (tenant_id, contact_key)
);

CREATE TABLE dead_letters (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT NOT NULL,
    event_seq        INTEGER NOT NULL,
    order_id         TEXT NOT NULL,
    error_class      TEXT NOT NULL,
    error_code       TEXT,
    message          TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    first_failed_at  TEXT NOT NULL,
    last_failed_at   TEXT NOT NULL,
    status           TEXT NOT NULL,   -- open | retrying | resolved | replayed
    resolution       TEXT,
    resolved_at      TEXT
);
CREATE INDEX dead_letters_tenant ON dead_letters (tenant_id, status, id);
