-- The outbox: events written in the same transaction as the state change,
-- published by the relay, deleted once the broker confirmed them.
CREATE TABLE IF NOT EXISTS outbox (
    id          BIGSERIAL PRIMARY KEY,
    event_id    TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    payload     BYTEA  NOT NULL,
    headers     TEXT   NOT NULL,
    created_ms  BIGINT NOT NULL
);

-- The inbox: one row per (consumer, event) already applied, written in the
-- same transaction as the effect, so an event delivered twice acts once.
CREATE TABLE IF NOT EXISTS inbox (
    consumer    TEXT   NOT NULL,
    event_id    TEXT   NOT NULL,
    applied_ms  BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
