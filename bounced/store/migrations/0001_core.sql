-- Core schema: intake spool, bounce events, profiles, suppression list, audit log.
-- Times are INTEGER microseconds since the Unix epoch, UTC (exact, index-friendly).
-- Addresses are stored normalised: local part as sent, domain lower-cased.

CREATE TABLE intake (
    id           INTEGER PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    mail_from    TEXT    NOT NULL,
    rcpt_tos     TEXT    NOT NULL,              -- JSON array of envelope recipients
    peer         TEXT    NOT NULL,
    raw          BLOB    NOT NULL,
    sha256       TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending',  -- IntakeState
    attempts     INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    processed_at INTEGER
);
CREATE INDEX intake_pending ON intake (id) WHERE state = 'pending';

CREATE TABLE bounce_events (
    id               INTEGER PRIMARY KEY,
    received_at      INTEGER NOT NULL,
    recipient        TEXT    NOT NULL,
    recipient_domain TEXT    NOT NULL,
    kind             TEXT    NOT NULL,          -- BounceKind
    reason           TEXT    NOT NULL,          -- Reason
    action           TEXT,
    status           TEXT,
    reply_code       INTEGER,
    diagnostic       TEXT    NOT NULL DEFAULT '',
    text_key         TEXT    NOT NULL DEFAULT '', -- diagnostic normalised for grouping (report)
    remote_mta       TEXT,
    retry_after      INTEGER,
    mailing_id       TEXT,
    from_domain      TEXT,
    sending_ip       TEXT,
    message_id       TEXT,
    intake_id        INTEGER REFERENCES intake (id),
    delivery_id      INTEGER,
    signed           INTEGER NOT NULL DEFAULT 0,
    source           TEXT    NOT NULL DEFAULT 'mail',  -- 'mail' or 'smtp'
    -- Same bounce received twice (same original message, recipient, status) counts once.
    dedup_key        TEXT    UNIQUE,
    -- Seam for the resend queue: 'pending' on soft events that refer to one of our
    -- deliveries, until the resend component schedules (or declines) a resend.
    resend_state     TEXT
);
CREATE INDEX bounce_events_recipient ON bounce_events (recipient);
CREATE INDEX bounce_events_resend ON bounce_events (id) WHERE resend_state = 'pending';

CREATE TABLE profiles (
    address            TEXT PRIMARY KEY,
    status             TEXT    NOT NULL DEFAULT 'active',  -- ProfileStatus
    bounce_count       INTEGER NOT NULL DEFAULT 0,
    soft_bounce_count  INTEGER NOT NULL DEFAULT 0,
    hard_bounce_count  INTEGER NOT NULL DEFAULT 0,
    last_bounce_at     INTEGER,
    last_bounce_reason TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE suppressions (
    address         TEXT PRIMARY KEY,
    reason          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,           -- 'bounce', 'complaint', 'smtp', 'admin:<user>'
    bounce_event_id INTEGER REFERENCES bounce_events (id),
    note            TEXT
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,                   -- 'suppression.add', 'suppression.remove'
    address TEXT    NOT NULL,
    reason  TEXT    NOT NULL
);
CREATE INDEX audit_log_address ON audit_log (address);
