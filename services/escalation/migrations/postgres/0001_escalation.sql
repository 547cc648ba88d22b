-- Escalation (issue #6): one clock per application and round. The clock
-- is a budget of working time and a ledger; deadline_ms and next_due_ms
-- are derived (kept for indexes and lists) and re-derived whenever the
-- calendar, the policy or the ledger changes. No personal data.
CREATE TABLE sla_clocks (
    id               TEXT    PRIMARY KEY,   -- <number>:<round>
    number           TEXT    NOT NULL,
    round            BIGINT  NOT NULL,
    province         BIGINT  NOT NULL,
    district         BIGINT  NOT NULL,
    topic            TEXT    NOT NULL,
    unit_id          TEXT    NOT NULL,      -- '' until routed
    vulnerable       BOOLEAN NOT NULL,
    started_ms       BIGINT  NOT NULL,
    budget_days      BIGINT  NOT NULL,
    deadline_ms      BIGINT,                -- NULL while paused
    statutory_ms     BIGINT  NOT NULL,      -- Law 3071: 30 days
    paused           BOOLEAN NOT NULL,
    rung_reached     BIGINT  NOT NULL,      -- 0: no rung yet
    statutory_fired  BOOLEAN NOT NULL,
    next_due_ms      BIGINT,                -- NULL: nothing left to fire
    concluded_ms     BIGINT,
    trace            TEXT    NOT NULL,      -- the application's trace context (JSON headers)
    updated_ms       BIGINT  NOT NULL
);
-- The sweep: due clocks, soonest first. Only clocks with something to fire.
CREATE INDEX sla_clocks_due ON sla_clocks (next_due_ms) WHERE next_due_ms IS NOT NULL;
CREATE INDEX sla_clocks_number ON sla_clocks (number, round);
-- Lists and re-derivation of open clocks by place.
CREATE INDEX sla_clocks_open_province ON sla_clocks (province, deadline_ms) WHERE concluded_ms IS NULL;
CREATE INDEX sla_clocks_open_district ON sla_clocks (district, deadline_ms) WHERE concluded_ms IS NULL;
CREATE INDEX sla_clocks_open_unit ON sla_clocks (unit_id, deadline_ms) WHERE concluded_ms IS NULL;
CREATE INDEX sla_clocks_open ON sla_clocks (deadline_ms) WHERE concluded_ms IS NULL;
CREATE INDEX sla_clocks_open_topic ON sla_clocks (topic) WHERE concluded_ms IS NULL;

-- What happened to a clock: started, paused, resumed, note, routed,
-- transferred, reclassified, concluded, rederived.
CREATE TABLE sla_ledger (
    id        BIGSERIAL PRIMARY KEY,
    clock_id  TEXT   NOT NULL,
    kind      TEXT   NOT NULL,
    at_ms     BIGINT NOT NULL,
    reason    TEXT   NOT NULL,
    actor     TEXT   NOT NULL
);
CREATE INDEX sla_ledger_clock ON sla_ledger (clock_id, id);

-- Pauses: working time stops counting from from_ms to to_ms.
CREATE TABLE sla_pauses (
    id        BIGSERIAL PRIMARY KEY,
    clock_id  TEXT   NOT NULL,
    from_ms   BIGINT NOT NULL,
    to_ms     BIGINT,                       -- NULL: still paused
    reason    TEXT   NOT NULL,
    actor     TEXT   NOT NULL
);
CREATE INDEX sla_pauses_clock ON sla_pauses (clock_id, from_ms);

-- Each rung of each clock, claimed once: the primary key is the claim.
CREATE TABLE sla_escalations (
    clock_id    TEXT    NOT NULL,
    rung        BIGINT  NOT NULL,           -- 1..n the ladder, 100 Law 3071
    level       BIGINT  NOT NULL,
    target      TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    due_ms      BIGINT  NOT NULL,
    fired_ms    BIGINT  NOT NULL,
    superseded  BOOLEAN NOT NULL,
    PRIMARY KEY (clock_id, rung)
);

-- Days off beyond the official holidays: national one-off days
-- (province 0) and a province's closures.
CREATE TABLE sla_calendar_days (
    day        TEXT    NOT NULL,
    province   BIGINT  NOT NULL,
    name       TEXT    NOT NULL,
    half       BOOLEAN NOT NULL,
    added_by   TEXT    NOT NULL,
    added_ms   BIGINT  NOT NULL,
    PRIMARY KEY (day, province)
);

CREATE TABLE sla_policies (
    topic                   TEXT    PRIMARY KEY,  -- '' = the default
    budget_days             BIGINT  NOT NULL,
    vulnerable_budget_days  BIGINT  NOT NULL,
    rungs                   TEXT    NOT NULL,     -- JSON [{offset_working_hours, target_role}]
    updated_by              TEXT    NOT NULL,
    updated_ms              BIGINT  NOT NULL
);
