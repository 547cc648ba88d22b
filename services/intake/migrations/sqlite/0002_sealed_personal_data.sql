-- Personal data is stored sealed from here on (platform::privacy); these
-- keyed hashes (16 bytes) let staff find an applicant's applications
-- without decrypting anything. Only the identity-number hash is indexed:
-- each index costs the single SQLite writer about an eighth of its
-- throughput (measured), so the phone's gets one when a query needs it.
-- Rows written before this migration keep clear values and no hashes; the
-- readers accept both.
ALTER TABLE applications ADD COLUMN national_id_hash BLOB;
ALTER TABLE applications ADD COLUMN phone_hash BLOB;
CREATE INDEX applications_national_id_hash ON applications (national_id_hash);
