-- Public-day meetings (halk günü): a governor's or kaymakam's meeting,
-- scheduled with its date, place and chair; the applications recorded at it
-- name it, so the meeting's report counts them.
CREATE TABLE public_day_meetings (
    id          TEXT    PRIMARY KEY,
    province    BIGINT  NOT NULL,
    district    BIGINT  NOT NULL,
    held_on     TEXT    NOT NULL,   -- ISO date, Türkiye
    place       TEXT    NOT NULL,
    chair       TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_ms  BIGINT  NOT NULL
);
CREATE INDEX public_day_meetings_place ON public_day_meetings (province, held_on);

ALTER TABLE applications ADD COLUMN meeting_id TEXT NOT NULL DEFAULT '';
CREATE INDEX applications_meeting ON applications (meeting_id) WHERE meeting_id <> '';
