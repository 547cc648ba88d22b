-- Routing (issue #4): the organisation registry, the rules, and where each
-- application stands. No personal data of applicants: routing knows an
-- application by its number, place, topic and type; the unit's answer text
-- is erased with the rest on PersonalDataErased.
CREATE TABLE routing_units (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    type         INTEGER NOT NULL,          -- acikkapi.v1.UnitType
    institution  TEXT    NOT NULL,
    province     INTEGER NOT NULL,
    district     INTEGER NOT NULL,          -- 0 = the whole province
    contacts     TEXT    NOT NULL,          -- JSON array of {role, name, phone, email}
    closed       BOOLEAN NOT NULL,
    updated_ms   BIGINT  NOT NULL
);
CREATE INDEX routing_units_place ON routing_units (province, district, institution);

-- One rule per (topic, type, province, district): a tie cannot be stored.
CREATE TABLE routing_rules (
    id           TEXT    PRIMARY KEY,
    topic        TEXT    NOT NULL,
    type_code    TEXT    NOT NULL,          -- '' = every type of the topic
    province     INTEGER NOT NULL,          -- 0 = national
    district     INTEGER NOT NULL,          -- 0 = not district-specific
    unit_id      TEXT    NOT NULL,          -- a fixed unit, or ''
    institution  TEXT    NOT NULL,          -- the institution's unit at the place, or ''
    version      BIGINT  NOT NULL,
    changed_by   TEXT    NOT NULL,
    changed_ms   BIGINT  NOT NULL,
    UNIQUE (topic, type_code, province, district)
);

-- Bumped in the transaction of every unit or rule change; a replica whose
-- rules in memory are older reloads before its next decision.
CREATE TABLE routing_state (
    key    TEXT   PRIMARY KEY,
    value  BIGINT NOT NULL
);
INSERT INTO routing_state (key, value) VALUES ('rules_version', 0);

CREATE TABLE routing_assignments (
    number         TEXT    PRIMARY KEY,
    province       INTEGER NOT NULL,
    district       INTEGER NOT NULL,
    topic          TEXT    NOT NULL,
    type_code      TEXT    NOT NULL,
    unit_id        TEXT    NOT NULL,
    rule_id        TEXT    NOT NULL,        -- '' = desk triage
    status         INTEGER NOT NULL,        -- acikkapi.v1.Status
    round          INTEGER NOT NULL,
    vulnerability  INTEGER NOT NULL,
    priority       BOOLEAN NOT NULL,
    received_ms    BIGINT  NOT NULL,
    concluded_ms   BIGINT,
    updated_ms     BIGINT  NOT NULL
);
-- The unit's inbox: open applications, oldest first.
CREATE INDEX routing_assignments_inbox ON routing_assignments (unit_id, status, received_ms);

-- Every hop: routed, transferred, reopened, reclassified.
CREATE TABLE routing_hops (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    number      TEXT    NOT NULL,
    at_ms       BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    from_unit   TEXT    NOT NULL,
    to_unit     TEXT    NOT NULL,
    rule_id     TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    round       INTEGER NOT NULL
);
CREATE INDEX routing_hops_number ON routing_hops (number, id);

CREATE TABLE routing_responses (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    number            TEXT    NOT NULL,
    round             INTEGER NOT NULL,
    unit_id           TEXT    NOT NULL,
    body              TEXT    NOT NULL,
    proposed_outcome  INTEGER NOT NULL,
    alternatives      TEXT    NOT NULL,     -- JSON array of strings
    actor             TEXT    NOT NULL,
    at_ms             BIGINT  NOT NULL,
    UNIQUE (number, round)
);
