-- The store on PostgreSQL: the same tables as the SQLite store (migrations/sqlite), in one
-- step and with native types. docs/data.md says which table holds what.

-- Tenants: one shop = one Dinero organization. Secrets are AES-GCM ciphertext (key id kept).
CREATE TABLE tenants (
    id              TEXT PRIMARY KEY,
    organization_id BIGINT NOT NULL,
    settings        TEXT NOT NULL,          -- JSON: transfer settings and account mapping
    account_vat     TEXT NOT NULL,          -- JSON: VAT percent per entry account, from Dinero
    secrets         BYTEA NOT NULL,         -- nonce || ciphertext of the JSON secrets
    secrets_key_id  TEXT NOT NULL,
    pause_reason    TEXT,                   -- NULL = not paused
    paused_at       TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- The inbox: every accepted event, in arrival order per tenant. Written before 2xx.
-- A tenant's events are inserted under a per-tenant lock, so `seq` order is commit order.
CREATE TABLE events (
    seq              BIGSERIAL PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    order_id         TEXT NOT NULL,
    payload          TEXT NOT NULL,
    content_hash     TEXT NOT NULL,
    status           TEXT NOT NULL,   -- pending | done | dead | resolved | duplicate | conflict
    received_at      TIMESTAMPTZ NOT NULL,
    source_topic     TEXT,            -- where a Kafka-borne event was read (NULL for webhooks)
    source_partition INTEGER,
    source_offset    BIGINT,
    UNIQUE (tenant_id, event_id)
);
CREATE INDEX events_pending ON events (tenant_id, status, seq);
CREATE INDEX events_order ON events (tenant_id, order_id);
CREATE INDEX events_source ON events (source_topic, source_partition) WHERE source_topic IS NOT NULL;
CREATE INDEX events_received ON events (received_at);

-- The ledger: one row per order and document, advanced step by step around Dinero calls.
CREATE TABLE orders (
    tenant_id       TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    document        TEXT NOT NULL,        -- invoice
    event_seq       BIGINT NOT NULL,
    step            TEXT NOT NULL,        -- received | contact | invoice_created | booked | paid | done | failed
    in_flight       TEXT,                 -- the call sent but not yet answered, for look-up after a crash
    in_flight_epoch BIGINT,               -- the owner epoch that sent it
    contact_guid    UUID,
    invoice_guid    UUID,
    invoice_version TEXT,
    invoice_number  BIGINT,
    payments_done   INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    error_class     TEXT,
    error           TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, order_id, document)
);

CREATE TABLE order_history (
    id        BIGSERIAL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    step      TEXT NOT NULL,
    detail    TEXT
);
CREATE INDEX order_history_order ON order_history (tenant_id, order_id, id);
CREATE INDEX order_history_at ON order_history (at);

-- Contacts already matched or created in Dinero, so a known customer costs no look-up.
CREATE TABLE contacts (
    tenant_id    TEXT NOT NULL,
    contact_key  TEXT NOT NULL,
    contact_guid UUID NOT NULL,
    PRIMARY KEY (tenant_id, contact_key)
);

CREATE TABLE dead_letters (
    id               BIGSERIAL PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    order_id         TEXT NOT NULL,
    error_class      TEXT NOT NULL,
    error_code       TEXT,
    message          TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    first_failed_at  TIMESTAMPTZ NOT NULL,
    last_failed_at   TIMESTAMPTZ NOT NULL,
    status           TEXT NOT NULL,   -- open | retrying | resolved | replayed
    resolution       TEXT,
    resolved_at      TIMESTAMPTZ
);
CREATE INDEX dead_letters_tenant ON dead_letters (tenant_id, status, id);
CREATE INDEX dead_letters_event ON dead_letters (event_seq);

-- Records for the dead-letter topic (dead letters, pauses, resumes), written in the same
-- transaction as the change they announce and published afterwards, so a crash in between
-- loses neither. Kept after publishing (the tenant's transition log) until retention.
CREATE TABLE outbox (
    id           BIGSERIAL PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,       -- dead_letter | paused | resumed | poison
    value        TEXT NOT NULL,       -- the original event (dead letters) or a JSON status
    headers      TEXT NOT NULL,       -- JSON object of header name -> value
    created_at   TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Which replica works a tenant's lane. Every claim raises the epoch; fenced writes lock this
-- row (FOR SHARE) and check the epoch, so a claim waits for them and a stale owner's write
-- fails once a later claim committed.
CREATE TABLE tenant_owners (
    tenant_id  TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL
);
