-- When time alone next changes a session (expiry, yellow, a lost create, a re-check): the
-- periodic pass visits what is due instead of every session. Existing rows are due at once,
-- so the first pass computes their moment.
ALTER TABLE sessions ADD COLUMN due_at_ms INTEGER;
UPDATE sessions SET due_at_ms = 0;
CREATE INDEX sessions_due ON sessions (due_at_ms) WHERE due_at_ms IS NOT NULL;
