-- Personal data is stored sealed from here on (platform::privacy); these
-- keyed hashes let staff find an applicant's applications without
-- decrypting anything. Rows written before this migration keep clear
-- values and no hashes; the readers accept both.
ALTER TABLE applications ADD COLUMN national_id_hash TEXT;
ALTER TABLE applications ADD COLUMN phone_hash TEXT;
CREATE INDEX applications_national_id_hash ON applications (national_id_hash);
CREATE INDEX applications_phone_hash ON applications (phone_hash);
