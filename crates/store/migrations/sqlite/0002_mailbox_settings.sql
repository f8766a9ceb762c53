-- Mailbox settings become the watcher's full settings (JSON without the password) and the
-- watcher's progress (last UID per folder) is kept per mailbox, so that a restart reads
-- nothing twice. The encrypted password keeps its (table, column, row) slot.
CREATE TABLE mailboxes_v2 (
    user_id       TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    settings      TEXT NOT NULL,         -- JSON of tsgate_mailbox::MailboxSettings + "address"
    password_enc  BLOB NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;

INSERT INTO mailboxes_v2 (user_id, settings, password_enc, updated_at_ms)
SELECT user_id,
       json_object('host', host, 'port', port,
                   'security', CASE tls WHEN 1 THEN 'implicit' ELSE 'start_tls' END,
                   'username', username, 'folders', json(folders), 'address', address),
       password_enc, updated_at_ms
FROM mailboxes;

DROP TABLE mailboxes;
ALTER TABLE mailboxes_v2 RENAME TO mailboxes;

CREATE TABLE mailbox_watch_state (
    mailbox       TEXT PRIMARY KEY,      -- username@host:port, lowercase
    state         TEXT NOT NULL,         -- JSON of tsgate_mailbox::WatchState
    updated_at_ms INTEGER NOT NULL
) STRICT;
