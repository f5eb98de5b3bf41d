-- Sending side: messages handed over on the submission listener, one delivery per
-- recipient, the durable resend queue, non-delivery events and submission refusals.
-- Times are INTEGER microseconds since the Unix epoch, UTC.

CREATE TABLE outbound_messages (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    mail_from   TEXT    NOT NULL,
    raw         BLOB    NOT NULL,               -- kept once, however many recipients
    mailing_id  TEXT,                           -- X-Mailing-ID
    from_domain TEXT,                           -- domain of the From header
    message_id  TEXT                            -- Message-ID header
);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    message_id       INTEGER NOT NULL REFERENCES outbound_messages (id),
    recipient        TEXT    NOT NULL,
    sending_ip       TEXT,
    state            TEXT    NOT NULL DEFAULT 'queued',  -- DeliveryState
    attempts         INTEGER NOT NULL DEFAULT 0,        -- attempts started so far
    created_at       INTEGER NOT NULL,
    last_attempt_at  INTEGER,
    last_bounce_text TEXT
);
CREATE INDEX deliveries_message ON deliveries (message_id);
CREATE INDEX deliveries_recipient ON deliveries (recipient);

-- The queue. Attempt 1 is the first delivery; 2 and later are resends. A row is the job:
-- pending -> running (lease_until set, may be taken over once the lease expires) -> done,
-- or cancelled (recipient suppressed meanwhile). One row per (delivery, attempt): two
-- bounces about the same attempt schedule one resend.
CREATE TABLE resend_jobs (
    id               INTEGER PRIMARY KEY,
    delivery_id      INTEGER NOT NULL REFERENCES deliveries (id),
    attempt          INTEGER NOT NULL,
    due_at           INTEGER NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending',  -- ResendState
    lease_until      INTEGER,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    bounce_event_id  INTEGER,                            -- the soft bounce that caused it
    last_bounce_text TEXT,
    UNIQUE (delivery_id, attempt)
);
CREATE INDEX resend_jobs_due ON resend_jobs (due_at) WHERE state = 'pending';
CREATE INDEX resend_jobs_lease ON resend_jobs (lease_until) WHERE state = 'running';

-- Exactly one per delivery that was given up (rules ran out, or a permanent block).
CREATE TABLE non_deliveries (
    id               INTEGER PRIMARY KEY,
    delivery_id      INTEGER NOT NULL UNIQUE REFERENCES deliveries (id),
    recipient        TEXT    NOT NULL,
    at               INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    last_bounce_text TEXT    NOT NULL,
    mailing_id       TEXT,
    from_domain      TEXT,
    sending_ip       TEXT
);
CREATE INDEX non_deliveries_at ON non_deliveries (at);

-- Submissions refused at RCPT because the address is suppressed.
CREATE TABLE submission_refusals (
    address  TEXT    PRIMARY KEY,
    count    INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at  INTEGER NOT NULL
);

CREATE INDEX bounce_events_delivery ON bounce_events (delivery_id) WHERE delivery_id IS NOT NULL;
