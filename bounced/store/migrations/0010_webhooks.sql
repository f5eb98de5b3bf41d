-- Webhook outbox: one row per reportable change, written in the transaction that makes the
-- change (a rolled-back change sends nothing, a crash loses nothing). Per hook, the
-- dispatcher copies new events into webhook_deliveries (its cursor in webhook_cursors) and
-- keeps each delivery's state there. Times are INTEGER microseconds since the epoch, UTC.

CREATE TABLE webhook_events (
    id              INTEGER PRIMARY KEY,
    type            TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    recipient       TEXT    NOT NULL,
    kind            TEXT,
    reason          TEXT,
    status          TEXT,
    reply_code      INTEGER,
    diagnostic      TEXT,
    mailing_id      TEXT,
    from_domain     TEXT,
    sending_ip      TEXT,
    signed          INTEGER NOT NULL DEFAULT 0,
    bounce_event_id INTEGER,
    delivery_id     INTEGER
);
CREATE INDEX webhook_events_at ON webhook_events (at);

CREATE TABLE webhook_cursors (
    hook          TEXT    PRIMARY KEY,
    last_event_id INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id         INTEGER PRIMARY KEY,
    hook       TEXT    NOT NULL,
    event_id   INTEGER NOT NULL REFERENCES webhook_events (id),
    recipient  TEXT    NOT NULL,
    state      TEXT    NOT NULL DEFAULT 'pending',  -- WebhookState
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    done_at    INTEGER,
    last_error TEXT
);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
-- Per-recipient order: the head of a recipient's queue is its lowest pending id.
CREATE INDEX webhook_deliveries_head ON webhook_deliveries (hook, recipient, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (hook, next_at) WHERE state = 'pending';
