-- The satisfaction survey after conclusion (issue #7): one per conclusion
-- (cause key as the SMS's), answered once by its code. No personal data:
-- the applicant's phone stays in intake's sealed contact. `trace` is the
-- conclusion's trace context, so the answer joins the application's trace.
CREATE TABLE sms_surveys (
    code         TEXT   PRIMARY KEY,
    dedup_key    TEXT   NOT NULL UNIQUE,
    number       TEXT   NOT NULL,
    created_ms   BIGINT NOT NULL,
    score        BIGINT,
    answered_ms  BIGINT,
    via          TEXT,
    trace        TEXT   NOT NULL
);
CREATE INDEX sms_surveys_number ON sms_surveys (number);
