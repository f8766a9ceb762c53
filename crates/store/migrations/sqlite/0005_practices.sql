-- Practices (tenants). Users stay global (one Sistema TS user, one session, one code); a
-- practice has members, workstations and its own administration. Everything that existed
-- before joins the practice 'default', so that a single-practice install needs nothing new.
CREATE TABLE practices (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
) STRICT;

INSERT INTO practices (id, name, created_at_ms)
VALUES ('default', 'Studio', CAST(unixepoch('subsec') * 1000 AS INTEGER));

CREATE TABLE practice_members (
    practice_id TEXT NOT NULL REFERENCES practices(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    PRIMARY KEY (practice_id, user_id)
) STRICT, WITHOUT ROWID;

-- "Which practices is this doctor in?" and the cascade from users.
CREATE INDEX practice_members_user ON practice_members (user_id);

INSERT INTO practice_members (practice_id, user_id) SELECT 'default', user_id FROM users;

-- Workstations gain a practice and two roles (backend, vendor). SQLite cannot change a CHECK
-- with ALTER TABLE: both workstation tables are rebuilt. The child is dropped first, so that
-- dropping the parent cascades to nothing; renaming the new parent renames the child's
-- reference with it.
CREATE TABLE workstations_v5 (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    BLOB NOT NULL UNIQUE,  -- SHA-256 of the token
    role          TEXT NOT NULL CHECK (role IN ('admin', 'doctor', 'staff', 'backend', 'vendor')),
    practice_id   TEXT REFERENCES practices(id) ON DELETE CASCADE,  -- NULL: installation-wide
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER,
    CHECK ((role = 'vendor') = (practice_id IS NULL) OR role = 'backend')
) STRICT;

CREATE TABLE workstation_users_v5 (
    workstation_id TEXT NOT NULL REFERENCES workstations_v5(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    PRIMARY KEY (workstation_id, user_id)
) STRICT, WITHOUT ROWID;

INSERT INTO workstations_v5 (id, name, token_hash, role, practice_id, created_at_ms, revoked_at_ms)
SELECT id, name, token_hash, role, 'default', created_at_ms, revoked_at_ms FROM workstations;

INSERT INTO workstation_users_v5 (workstation_id, user_id)
SELECT workstation_id, user_id FROM workstation_users;

DROP TABLE workstation_users;
DROP TABLE workstations;
ALTER TABLE workstations_v5 RENAME TO workstations;
ALTER TABLE workstation_users_v5 RENAME TO workstation_users;

CREATE INDEX workstations_practice ON workstations (practice_id, created_at_ms, id);
CREATE INDEX workstations_created ON workstations (created_at_ms, id);
CREATE INDEX workstation_users_user ON workstation_users (user_id);

-- Administration lines name the practice they happened in (NULL: installation-wide, or a
-- session event, which belongs to the user's practices through their memberships).
ALTER TABLE audit ADD COLUMN practice_id TEXT;
CREATE INDEX audit_practice_at ON audit (practice_id, at_ms);
