-- Events the broker confirmed, kept `relay.keep_sent_hours` after they
-- left the outbox. A store put back to an earlier moment (a point-in-time
-- restore of PostgreSQL, `acikkapi restore`), or an in-process bus that
-- died with its process, lacks the effects of events published before that
-- moment and applied after it: `acikkapi outbox replay` (and, on the
-- in-process bus, every start) puts these rows back in the outbox, and the
-- consumers, which keep every event id they applied (inbox), apply only
-- what they had not. Expand-only: a previous release never reads it.
CREATE TABLE IF NOT EXISTS outbox_sent (
    event_id    TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    payload     BYTEA   NOT NULL,
    headers     TEXT    NOT NULL,
    created_ms  BIGINT  NOT NULL,
    sent_ms     BIGINT  NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_sent_by_time ON outbox_sent (sent_ms);
