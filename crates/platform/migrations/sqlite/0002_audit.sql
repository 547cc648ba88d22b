-- The audit trail (platform::audit): who read an application's personal
-- data or changed its state, when, from where, what. Append-only: the
-- triggers refuse UPDATE and DELETE, so not even a bug in this code base
-- can rewrite history. Holds no personal data.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms     INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    role      TEXT    NOT NULL,
    scope     TEXT    NOT NULL,
    origin    TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    trace_id  TEXT    NOT NULL
);
-- "Who saw this application?" (a KVKK access request) and "what did this
-- person do?" (an investigation). Time ranges follow id order.
CREATE INDEX audit_log_target ON audit_log (target, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
