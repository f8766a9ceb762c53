-- Named leases between the processes of one database (the periodic passes, each certified
-- mailbox's watcher): the holder renews before until_ms; another takes it once it ran out.
CREATE TABLE leases (
    name     TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    until_ms INTEGER NOT NULL
) STRICT;
