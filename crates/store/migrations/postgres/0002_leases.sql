-- Named leases between the nodes of one database (the periodic passes, each certified
-- mailbox's watcher): the holder renews before until_ms; another takes it once it ran out.
CREATE TABLE leases (
    name     TEXT COLLATE "C" PRIMARY KEY,
    owner    TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
