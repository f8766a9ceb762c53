-- tsgate SQLite schema, version 1.
-- Columns named *_enc hold XChaCha20-Poly1305 ciphertexts (see src/crypto.rs); nothing else
-- holds a secret. Times are Unix milliseconds (UTC) unless stored inside JSON.

CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE users (
    user_id             TEXT PRIMARY KEY,
    fiscal_code         TEXT NOT NULL,
    region              TEXT NOT NULL,
    asl                 TEXT NOT NULL,
    ssa                 TEXT NOT NULL,
    specialization      TEXT,
    display_name        TEXT,
    environment         TEXT NOT NULL CHECK (environment IN ('test', 'production')),
    role                TEXT NOT NULL CHECK (role IN ('titolare', 'sostituto', 'farmacia')),
    password_changed_on TEXT,            -- YYYY-MM-DD
    created_at_ms       INTEGER NOT NULL,
    updated_at_ms       INTEGER NOT NULL
) STRICT;

CREATE TABLE credentials (
    user_id       TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    password_enc  BLOB NOT NULL,
    pin_enc       BLOB NOT NULL,
    revision      INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE mailboxes (
    user_id       TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    host          TEXT NOT NULL,
    port          INTEGER NOT NULL,
    tls           INTEGER NOT NULL,
    username      TEXT NOT NULL,
    password_enc  BLOB NOT NULL,
    folders       TEXT NOT NULL,         -- JSON array of folder names
    address       TEXT,
    updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    user_id       TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    application   TEXT NOT NULL CHECK (application IN ('PRESCRITTORE', 'EROGATORE')),
    version       INTEGER NOT NULL,
    state         TEXT NOT NULL,         -- JSON of the record without the code
    code_enc      BLOB,                  -- the current code, encrypted
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, application)
) STRICT;

CREATE TABLE workstations (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    token_hash    BLOB NOT NULL UNIQUE,  -- SHA-256 of the token
    role          TEXT NOT NULL CHECK (role IN ('admin', 'doctor', 'staff')),
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
) STRICT;

CREATE TABLE workstation_users (
    workstation_id TEXT NOT NULL REFERENCES workstations(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    PRIMARY KEY (workstation_id, user_id)
) STRICT;

-- No foreign keys: the audit outlives users and workstations.
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       INTEGER NOT NULL,
    user_id     TEXT NOT NULL,
    application TEXT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    code_hint   TEXT
) STRICT;

CREATE INDEX audit_user_at ON audit (user_id, at_ms);
CREATE INDEX audit_at ON audit (at_ms);
