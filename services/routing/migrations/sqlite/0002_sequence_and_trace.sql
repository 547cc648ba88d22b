-- Issue #8. `seq`: the application's routing sequence, taken by every
-- event routing publishes about it (1 for the routing), so consumers that
-- compete on a queue apply them in routing's order. `trace`: the
-- application's trace context (JSON headers, W3C trace context and the
-- searchable attributes as baggage), so transfers, answers and reopenings
-- made in a later call continue the application's one trace.
ALTER TABLE routing_assignments ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE routing_assignments ADD COLUMN trace TEXT NOT NULL DEFAULT '{}';
