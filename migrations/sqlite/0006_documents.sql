-- An order's later money events (refunds, a cancellation, late payments) each make a document
-- of their own: the inbox tells duplicates and conflicts per order and document, and the
-- ledger keeps one row per document with what it credited.
ALTER TABLE events ADD COLUMN document TEXT NOT NULL DEFAULT 'invoice';
DROP INDEX events_order;
CREATE INDEX events_order ON events (tenant_id, order_id, document);
-- A credit note's total including VAT, in the order's currency (decimal text), so later
-- refunds are held to what is left of the invoice.
ALTER TABLE orders ADD COLUMN amount TEXT;
