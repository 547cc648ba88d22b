-- Issue #28: the round's deadline as escalation announces it
-- (SlaDeadlineChanged), so a unit's inbox is ordered by it.
-- due_ms = 9223372036854775807 (i64::MAX): none known yet, or the clock is
-- paused; such applications come last. due_seq: the announcement's seq
-- applied (the highest wins); 0 when a new round starts.
ALTER TABLE routing_assignments ADD COLUMN due_ms BIGINT NOT NULL DEFAULT 9223372036854775807;
ALTER TABLE routing_assignments ADD COLUMN due_seq BIGINT NOT NULL DEFAULT 0;
DROP INDEX routing_assignments_inbox;
-- The unit's inbox: open applications, nearest deadline first.
CREATE INDEX routing_assignments_inbox ON routing_assignments (unit_id, status, due_ms, received_ms, number);
