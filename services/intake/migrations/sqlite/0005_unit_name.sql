-- The answering unit's name, as routing named it in its last event, so the
-- citizen's tracking page can say who is dealing with the application.
ALTER TABLE applications ADD COLUMN unit_name TEXT NOT NULL DEFAULT '';
