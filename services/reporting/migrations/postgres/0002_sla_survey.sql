-- Reporting (issue #7), second part: each application's SLA verdict (from
-- escalation's SlaConcluded) and its satisfaction survey; indexes for the
-- time series of conclusions and the rankings by topic and type.
ALTER TABLE rpt_applications ADD COLUMN within_sla BOOLEAN;            -- NULL until concluded
ALTER TABLE rpt_applications ADD COLUMN survey_sent BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE rpt_applications ADD COLUMN survey_score BIGINT;           -- 1..5, NULL until answered
CREATE INDEX rpt_applications_concluded ON rpt_applications (concluded_ms);
