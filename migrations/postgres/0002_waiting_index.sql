-- The metrics' periodic gauges count waiting events and find the oldest: a partial index
-- holds only those, so the query costs what is waiting, not the whole inbox.
CREATE INDEX events_waiting ON events (received_at) WHERE status = 'pending';
CREATE INDEX dead_letters_open ON dead_letters (id) WHERE status = 'open';
