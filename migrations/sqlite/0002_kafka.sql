-- Where a Kafka-borne event came from (NULL for webhooks in embedded mode).
ALTER TABLE events ADD COLUMN source_topic TEXT;
ALTER TABLE events ADD COLUMN source_partition INTEGER;
ALTER TABLE events ADD COLUMN source_offset INTEGER;

-- Records for the dead-letter topic (dead letters, pauses, resumes), written in the same
-- transaction as the change they announce and published afterwards, so a crash in between
-- loses neither. Kept after publishing: the tenant's transition log.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,       -- dead_letter | paused | resumed
    value        TEXT NOT NULL,       -- the original event (dead letters) or a JSON status
    headers      TEXT NOT NULL,       -- JSON object of header name -> value
    created_at   TEXT NOT NULL,
    published_at TEXT
);
CREATE INDEX outbox_unpublished ON outbox (published_at, id);
