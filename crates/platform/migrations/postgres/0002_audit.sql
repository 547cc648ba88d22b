-- The audit trail (platform::audit): who read an application's personal
-- data or changed its state, when, from where, what. Append-only: the
-- trigger refuses UPDATE, DELETE and TRUNCATE, so not even a bug in this
-- code base can rewrite history (a database superuser still can; give the
-- service a role that does not own the table where that matters).
-- Holds no personal data.
CREATE TABLE audit_log (
    id        BIGSERIAL PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    role      TEXT   NOT NULL,
    scope     TEXT   NOT NULL,
    origin    TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    target    TEXT   NOT NULL,
    detail    TEXT   NOT NULL,
    trace_id  TEXT   NOT NULL
);
-- "Who saw this application?" (a KVKK access request) and "what did this
-- person do?" (an investigation). Time ranges follow id order.
CREATE INDEX audit_log_target ON audit_log (target, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
