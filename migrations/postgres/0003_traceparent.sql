-- The W3C trace context an event was accepted under, so the lane's transfer joins the trace
-- that brought the order in (design.md §4, Operations). NULL when tracing is off.
ALTER TABLE events ADD COLUMN traceparent TEXT;
