-- Retention (issue #3): when an application was concluded, and when its
-- applicant's personal data was erased (`acikkapi retention run`). The
-- partial index holds only concluded, not yet erased applications, so
-- recording new ones never touches it.
ALTER TABLE applications ADD COLUMN concluded_ms BIGINT;
ALTER TABLE applications ADD COLUMN erased_ms BIGINT;
UPDATE applications
   SET concluded_ms = (SELECT MAX(h.at_ms) FROM application_history h
                        WHERE h.number = applications.number AND h.status = 4)
 WHERE status = 4;
CREATE INDEX applications_due_for_erasure ON applications (concluded_ms)
    WHERE concluded_ms IS NOT NULL AND erased_ms IS NULL;
