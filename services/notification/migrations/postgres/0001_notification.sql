-- Every SMS the platform sends, one row from the event that asked for it to
-- the gateway's delivery report. The row is also the send queue: senders
-- claim due rows (status queued or sending, next_attempt_ms passed).
CREATE TABLE sms_messages (
    id               TEXT    PRIMARY KEY,      -- ours; the gateway's custom_id
    dedup_key        TEXT    NOT NULL UNIQUE,  -- e.g. receipt:<number>: one SMS per cause
    number           TEXT    NOT NULL,         -- application number, 12 digits
    province         BIGINT  NOT NULL,
    district         BIGINT  NOT NULL,
    template         TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,         -- sealed E.164 ('' once erased)
    masked_recipient TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    encoding         TEXT    NOT NULL,         -- domain::sms::Encoding::as_str
    segments         BIGINT  NOT NULL,
    cost_micros      BIGINT  NOT NULL,
    priority         BIGINT  NOT NULL,         -- 0 receipts, 1 conclusions, 2 bulk
    status           TEXT    NOT NULL,         -- queued sending sent delivered failed dead
    attempts         BIGINT  NOT NULL DEFAULT 0,  -- since creation or the last re-drive
    tries            BIGINT  NOT NULL DEFAULT 0,  -- ever: > 0 means the gateway may have it
    next_attempt_ms  BIGINT  NOT NULL,
    provider         TEXT    NOT NULL DEFAULT '',
    provider_id      TEXT    NOT NULL DEFAULT '',
    last_error       TEXT    NOT NULL DEFAULT '',
    trace            TEXT    NOT NULL DEFAULT '{}',  -- W3C context of the causing event
    created_ms       BIGINT  NOT NULL,
    updated_ms       BIGINT  NOT NULL
);
CREATE INDEX sms_messages_due ON sms_messages (priority, next_attempt_ms) WHERE status IN ('queued', 'sending');
CREATE INDEX sms_messages_number ON sms_messages (number);
CREATE INDEX sms_messages_dead ON sms_messages (updated_ms) WHERE status = 'dead';

-- Templates changed by operators; the shipped ones (domain data) apply otherwise.
CREATE TABLE sms_templates (
    name       TEXT   PRIMARY KEY,
    body       TEXT   NOT NULL,
    updated_ms BIGINT NOT NULL,
    updated_by TEXT   NOT NULL
);
