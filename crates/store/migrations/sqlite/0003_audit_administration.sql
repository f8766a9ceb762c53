-- The audit also records administration (users, credentials, mailboxes, workstations, by the
-- admin API or the command line): such a line has no application and may concern no user, so
-- user_id and application become optional. SQLite cannot drop NOT NULL with ALTER TABLE: the
-- table is rebuilt, keeping every row and its id (the order of lines with the same time), and
-- its indexes are created again. Still no foreign keys: the audit outlives users.
CREATE TABLE audit_v3 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       INTEGER NOT NULL,
    user_id     TEXT,                  -- NULL: administration not about one user
    application TEXT,                  -- NULL: administration
    actor       TEXT NOT NULL,         -- ws:<id>, mailbox, cli, system
    kind        TEXT NOT NULL,         -- session kind (requested, …) or admin action (user_added, …)
    outcome     TEXT NOT NULL,
    code_hint   TEXT                   -- last four characters of a code, never more
) STRICT;

INSERT INTO audit_v3 (id, at_ms, user_id, application, actor, kind, outcome, code_hint)
SELECT id, at_ms, user_id, application, actor, kind, outcome, code_hint
FROM audit;

-- Ids keep growing from where they were (AUTOINCREMENT never reuses one).
DELETE FROM sqlite_sequence WHERE name = 'audit_v3';
INSERT INTO sqlite_sequence (name, seq) SELECT 'audit_v3', seq FROM sqlite_sequence WHERE name = 'audit';

DROP TABLE audit;
ALTER TABLE audit_v3 RENAME TO audit;

CREATE INDEX audit_user_at ON audit (user_id, at_ms);
CREATE INDEX audit_at ON audit (at_ms);
CREATE INDEX audit_kind_at ON audit (kind, at_ms);
