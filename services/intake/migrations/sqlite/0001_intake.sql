-- Applications as recorded at intake. Personal data (national_id, full_name,
-- phone, email) is stored here and nowhere else; issue #3 encrypts it.
CREATE TABLE applications (
    number            TEXT     PRIMARY KEY,        -- 12 digits, see domain::application_number
    year              INTEGER  NOT NULL,
    province          INTEGER  NOT NULL,
    district          INTEGER  NOT NULL,           -- 0 = not given
    national_id       TEXT     NOT NULL,
    foreign_applicant BOOLEAN  NOT NULL,
    full_name         TEXT     NOT NULL,
    phone             TEXT     NOT NULL,           -- E.164
    email             TEXT,
    channel           INTEGER  NOT NULL,
    kind              INTEGER  NOT NULL,
    topic             TEXT     NOT NULL,
    type_code         TEXT     NOT NULL,
    subject           TEXT     NOT NULL,
    body              TEXT     NOT NULL,
    vulnerability     INTEGER  NOT NULL,           -- bit set, see intake::model
    priority          BOOLEAN  NOT NULL,
    status            INTEGER  NOT NULL,           -- acikkapi.v1.Status
    outcome           INTEGER  NOT NULL,           -- acikkapi.v1.Outcome
    unit_id           TEXT,
    received_ms       INTEGER   NOT NULL,
    updated_ms        INTEGER   NOT NULL,
    idempotency_key   TEXT     UNIQUE,
    fingerprint       TEXT     NOT NULL
);
CREATE INDEX applications_province_received ON applications (province, received_ms);
CREATE INDEX applications_received ON applications (received_ms);

-- Per province and year, the last sequence number handed out.
CREATE TABLE application_sequences (
    year      INTEGER NOT NULL,
    province  INTEGER NOT NULL,
    last      INTEGER  NOT NULL,
    PRIMARY KEY (year, province)
);

-- Every stage after receipt, for the citizen's timeline.
CREATE TABLE application_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    number      TEXT    NOT NULL REFERENCES applications (number),
    at_ms       INTEGER  NOT NULL,
    status      INTEGER NOT NULL,
    description TEXT    NOT NULL
);
CREATE INDEX application_history_number ON application_history (number);

CREATE TABLE application_notes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    number    TEXT    NOT NULL REFERENCES applications (number),
    author    TEXT    NOT NULL,
    body      TEXT    NOT NULL,
    added_ms  INTEGER  NOT NULL
);
CREATE INDEX application_notes_number ON application_notes (number);
