-- Issue #8: the last routing event (routing's per-application sequence)
-- that set this clock's unit or topic. With replicas competing on the
-- queue, transfers may arrive out of order; the latest by sequence wins.
ALTER TABLE sla_clocks ADD COLUMN routing_seq BIGINT NOT NULL DEFAULT 0;
