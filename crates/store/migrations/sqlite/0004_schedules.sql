-- Working hours and automatic requests: each user's choices (JSON of
-- tsgate_session::auto::UserSchedule) and the practice's settings (JSON per key; the key
-- "working_hours" holds the practice default of tsgate_session::hours::WorkingHours).
CREATE TABLE user_schedules (
    user_id       TEXT PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    schedule      TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE practice_settings (
    key           TEXT PRIMARY KEY,
    value         TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;
