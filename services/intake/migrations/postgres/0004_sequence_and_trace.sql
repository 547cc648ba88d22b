-- Issue #8. `trace`: the application's trace context from its submission
-- (JSON headers, W3C trace context and the searchable attributes as
-- baggage), so a conclusion or a note made in a later call continues the
-- application's one trace. `routing_seq`: the last routing event applied
-- to the timeline (routing numbers its events per application), so
-- competing replicas apply routing's events in routing's order.
ALTER TABLE applications ADD COLUMN trace TEXT NOT NULL DEFAULT '{}';
ALTER TABLE applications ADD COLUMN routing_seq BIGINT NOT NULL DEFAULT 0;
