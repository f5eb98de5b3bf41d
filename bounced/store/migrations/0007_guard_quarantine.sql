-- Mass-failure guard (apply/guard.py) and the quarantine it fills.
-- guard_trips: one row per trip of a group (recipient domain or sending IP + normalised
-- text); the group is active while last_at is within the guard's window.
CREATE TABLE guard_trips (
    id         INTEGER PRIMARY KEY,
    scope      TEXT    NOT NULL,             -- 'domain' or 'ip'
    key        TEXT    NOT NULL,
    text_key   TEXT    NOT NULL,
    tripped_at INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    held       INTEGER NOT NULL DEFAULT 0    -- suppressions moved to quarantine at the trip
);
CREATE INDEX guard_trips_group ON guard_trips (scope, key, text_key, last_at);

-- Hard bounces held instead of suppressed, until an admin confirms (suppress) or releases.
CREATE TABLE quarantine (
    id               INTEGER PRIMARY KEY,
    address          TEXT    NOT NULL,
    bounce_event_id  INTEGER NOT NULL UNIQUE REFERENCES bounce_events (id),
    reason           TEXT    NOT NULL,
    recipient_domain TEXT    NOT NULL,
    sending_ip       TEXT,
    text_key         TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'held',  -- 'held', 'released', 'confirmed'
    decided_at       INTEGER,
    decided_by       TEXT
);
CREATE INDEX quarantine_held ON quarantine (recipient_domain, text_key) WHERE state = 'held';

-- The guard's counts: hard bounces per group within the window.
CREATE INDEX bounce_events_hard_domain ON bounce_events (recipient_domain, text_key, received_at)
    WHERE kind = 'hard';
CREATE INDEX bounce_events_hard_ip ON bounce_events (sending_ip, text_key, received_at)
    WHERE kind = 'hard' AND sending_ip IS NOT NULL;
