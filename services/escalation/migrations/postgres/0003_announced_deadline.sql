-- Issue #28: the deadline last announced to routing (SlaDeadlineChanged),
-- and how many times this round's deadline was announced (the event's
-- seq). A clock whose deadline differs from what was announced is
-- announced in the transaction that writes it; clocks from before this
-- migration (deadline_seq 0) are announced once when the sweep starts.
ALTER TABLE sla_clocks ADD COLUMN announced_ms BIGINT;
ALTER TABLE sla_clocks ADD COLUMN deadline_seq BIGINT NOT NULL DEFAULT 0;
