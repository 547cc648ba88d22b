-- Reporting (issue #7), first part: every event reporting consumes is kept
-- (rpt_events, keyed by event id: a second delivery is dropped), and each
-- application's row is folded from all its events, whatever order they
-- came in. A rebuild folds them again and gives the same rows. No
-- personal data: events carry none.
CREATE TABLE rpt_events (
    event_id  TEXT   PRIMARY KEY,
    number    TEXT   NOT NULL,
    kind      TEXT   NOT NULL,
    at_ms     BIGINT NOT NULL,
    payload   BYTEA  NOT NULL
);
CREATE INDEX rpt_events_number ON rpt_events (number, at_ms);

CREATE TABLE rpt_applications (
    number         TEXT    PRIMARY KEY,
    received_ms    BIGINT  NOT NULL,
    province       BIGINT  NOT NULL,
    district       BIGINT  NOT NULL,
    topic          TEXT    NOT NULL,
    type_code      TEXT    NOT NULL,
    unit_id        TEXT    NOT NULL,
    channel        BIGINT  NOT NULL,
    kind           BIGINT  NOT NULL,
    vulnerable     BOOLEAN NOT NULL,
    status         BIGINT  NOT NULL,   -- acikkapi.v1.Status
    outcome        BIGINT  NOT NULL,   -- acikkapi.v1.Outcome, 0 while open
    round          BIGINT  NOT NULL,
    concluded_ms   BIGINT,
    resolution_ms  BIGINT,             -- received (or reopened) to concluded
    max_level      BIGINT  NOT NULL,   -- highest escalation level reached
    sms_sent       BIGINT  NOT NULL
);
CREATE INDEX rpt_applications_received ON rpt_applications (received_ms);
CREATE INDEX rpt_applications_province ON rpt_applications (province, received_ms);
CREATE INDEX rpt_applications_district ON rpt_applications (district, received_ms);
CREATE INDEX rpt_applications_unit ON rpt_applications (unit_id, received_ms);

CREATE TABLE rpt_escalations (
    number  TEXT   NOT NULL,
    round   BIGINT NOT NULL,
    rung    BIGINT NOT NULL,
    level   BIGINT NOT NULL,
    at_ms   BIGINT NOT NULL,
    PRIMARY KEY (number, round, rung)
);
