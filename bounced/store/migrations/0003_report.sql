-- Soft-bounce report: exact pre-aggregated counts kept by triggers, plus indexes for the
-- parts of a period that do not cover whole days (counted from the raw events).
--
-- Why triggers: a report over ten million events must answer in about a second, which no
-- scan of the raw rows does on SQLite. The counts change in the same transaction as the
-- events (insert, update, delete), so every cell always equals a direct count over
-- bounce_events: nothing is sampled, nothing is rebuilt out of band.
--
-- Keys: day = received_at / 86400000000 (UTC day number); month = yyyymm (UTC).
-- Unknown from-domain / sending IP are stored as '' (NULL never equals NULL in a key).

-- One row per (recipient domain, normalised text) ever seen, with the first original text
-- as the report's example. The counts refer to it by integer, which keeps them small.
CREATE TABLE report_soft_texts (
    id               INTEGER PRIMARY KEY,
    recipient_domain TEXT    NOT NULL,
    text_key         TEXT    NOT NULL,
    event_id         INTEGER NOT NULL,
    diagnostic       TEXT    NOT NULL,
    reply_code       INTEGER,
    status           TEXT,
    reason           TEXT    NOT NULL,
    UNIQUE (recipient_domain, text_key)
);

CREATE TABLE report_soft_daily (
    day         INTEGER NOT NULL,
    from_domain TEXT    NOT NULL,
    sending_ip  TEXT    NOT NULL,
    text_id     INTEGER NOT NULL,   -- report_soft_texts.id
    amount      INTEGER NOT NULL,
    PRIMARY KEY (day, from_domain, sending_ip, text_id)
) WITHOUT ROWID;

CREATE TABLE report_soft_monthly (
    month       INTEGER NOT NULL,
    from_domain TEXT    NOT NULL,
    sending_ip  TEXT    NOT NULL,
    text_id     INTEGER NOT NULL,
    amount      INTEGER NOT NULL,
    PRIMARY KEY (month, from_domain, sending_ip, text_id)
) WITHOUT ROWID;

-- Edges of a period (partial days) and per-mailing reports read the raw soft events.
CREATE INDEX bounce_events_soft_time ON bounce_events (received_at) WHERE kind = 'soft';
CREATE INDEX bounce_events_soft_mailing ON bounce_events (mailing_id, received_at) WHERE kind = 'soft';

-- Events recorded before this migration.
INSERT OR IGNORE INTO report_soft_texts (recipient_domain, text_key, event_id, diagnostic, reply_code, status, reason)
SELECT recipient_domain, text_key, id, diagnostic, reply_code, status, reason
FROM bounce_events WHERE kind = 'soft' ORDER BY id;

INSERT INTO report_soft_daily
SELECT e.received_at / 86400000000, coalesce(e.from_domain, ''), coalesce(e.sending_ip, ''), t.id, count(*)
FROM bounce_events AS e
JOIN report_soft_texts AS t ON t.recipient_domain = e.recipient_domain AND t.text_key = e.text_key
WHERE e.kind = 'soft'
GROUP BY 1, 2, 3, 4;

INSERT INTO report_soft_monthly
SELECT CAST(strftime('%Y%m', e.received_at / 1000000, 'unixepoch') AS INTEGER),
       coalesce(e.from_domain, ''), coalesce(e.sending_ip, ''), t.id, count(*)
FROM bounce_events AS e
JOIN report_soft_texts AS t ON t.recipient_domain = e.recipient_domain AND t.text_key = e.text_key
WHERE e.kind = 'soft'
GROUP BY 1, 2, 3, 4;

CREATE TRIGGER report_soft_insert AFTER INSERT ON bounce_events WHEN NEW.kind = 'soft'
BEGIN
    INSERT OR IGNORE INTO report_soft_texts
        (recipient_domain, text_key, event_id, diagnostic, reply_code, status, reason)
    VALUES (NEW.recipient_domain, NEW.text_key, NEW.id, NEW.diagnostic, NEW.reply_code, NEW.status, NEW.reason);
    INSERT INTO report_soft_daily
    SELECT NEW.received_at / 86400000000, coalesce(NEW.from_domain, ''), coalesce(NEW.sending_ip, ''), t.id, 1
    FROM report_soft_texts AS t WHERE t.recipient_domain = NEW.recipient_domain AND t.text_key = NEW.text_key
    ON CONFLICT (day, from_domain, sending_ip, text_id) DO UPDATE SET amount = amount + 1;
    INSERT INTO report_soft_monthly
    SELECT CAST(strftime('%Y%m', NEW.received_at / 1000000, 'unixepoch') AS INTEGER),
           coalesce(NEW.from_domain, ''), coalesce(NEW.sending_ip, ''), t.id, 1
    FROM report_soft_texts AS t WHERE t.recipient_domain = NEW.recipient_domain AND t.text_key = NEW.text_key
    ON CONFLICT (month, from_domain, sending_ip, text_id) DO UPDATE SET amount = amount + 1;
END;

-- Removing a soft event (or moving it out of its cell) takes one off its cells; a cell that
-- reaches zero goes. The text row stays: it is only ever shown beside a count.
CREATE TRIGGER report_soft_delete AFTER DELETE ON bounce_events WHEN OLD.kind = 'soft'
BEGIN
    UPDATE report_soft_daily SET amount = amount - 1
    WHERE day = OLD.received_at / 86400000000 AND from_domain = coalesce(OLD.from_domain, '')
      AND sending_ip = coalesce(OLD.sending_ip, '') AND text_id = (SELECT id FROM report_soft_texts
          WHERE recipient_domain = OLD.recipient_domain AND text_key = OLD.text_key);
    DELETE FROM report_soft_daily
    WHERE day = OLD.received_at / 86400000000 AND from_domain = coalesce(OLD.from_domain, '')
      AND sending_ip = coalesce(OLD.sending_ip, '') AND amount <= 0;
    UPDATE report_soft_monthly SET amount = amount - 1
    WHERE month = CAST(strftime('%Y%m', OLD.received_at / 1000000, 'unixepoch') AS INTEGER)
      AND from_domain = coalesce(OLD.from_domain, '') AND sending_ip = coalesce(OLD.sending_ip, '')
      AND text_id = (SELECT id FROM report_soft_texts
          WHERE recipient_domain = OLD.recipient_domain AND text_key = OLD.text_key);
    DELETE FROM report_soft_monthly
    WHERE month = CAST(strftime('%Y%m', OLD.received_at / 1000000, 'unixepoch') AS INTEGER)
      AND from_domain = coalesce(OLD.from_domain, '') AND sending_ip = coalesce(OLD.sending_ip, '')
      AND amount <= 0;
END;

CREATE TRIGGER report_soft_update_old AFTER UPDATE OF kind, received_at, from_domain, sending_ip,
    recipient_domain, text_key ON bounce_events
WHEN OLD.kind = 'soft' AND (NEW.kind IS NOT OLD.kind OR NEW.received_at IS NOT OLD.received_at
    OR NEW.from_domain IS NOT OLD.from_domain OR NEW.sending_ip IS NOT OLD.sending_ip
    OR NEW.recipient_domain IS NOT OLD.recipient_domain OR NEW.text_key IS NOT OLD.text_key)
BEGIN
    UPDATE report_soft_daily SET amount = amount - 1
    WHERE day = OLD.received_at / 86400000000 AND from_domain = coalesce(OLD.from_domain, '')
      AND sending_ip = coalesce(OLD.sending_ip, '') AND text_id = (SELECT id FROM report_soft_texts
          WHERE recipient_domain = OLD.recipient_domain AND text_key = OLD.text_key);
    DELETE FROM report_soft_daily
    WHERE day = OLD.received_at / 86400000000 AND from_domain = coalesce(OLD.from_domain, '')
      AND sending_ip = coalesce(OLD.sending_ip, '') AND amount <= 0;
    UPDATE report_soft_monthly SET amount = amount - 1
    WHERE month = CAST(strftime('%Y%m', OLD.received_at / 1000000, 'unixepoch') AS INTEGER)
      AND from_domain = coalesce(OLD.from_domain, '') AND sending_ip = coalesce(OLD.sending_ip, '')
      AND text_id = (SELECT id FROM report_soft_texts
          WHERE recipient_domain = OLD.recipient_domain AND text_key = OLD.text_key);
    DELETE FROM report_soft_monthly
    WHERE month = CAST(strftime('%Y%m', OLD.received_at / 1000000, 'unixepoch') AS INTEGER)
      AND from_domain = coalesce(OLD.from_domain, '') AND sending_ip = coalesce(OLD.sending_ip, '')
      AND amount <= 0;
END;

CREATE TRIGGER report_soft_update_new AFTER UPDATE OF kind, received_at, from_domain, sending_ip,
    recipient_domain, text_key ON bounce_events
WHEN NEW.kind = 'soft' AND (NEW.kind IS NOT OLD.kind OR NEW.received_at IS NOT OLD.received_at
    OR NEW.from_domain IS NOT OLD.from_domain OR NEW.sending_ip IS NOT OLD.sending_ip
    OR NEW.recipient_domain IS NOT OLD.recipient_domain OR NEW.text_key IS NOT OLD.text_key)
BEGIN
    INSERT OR IGNORE INTO report_soft_texts
        (recipient_domain, text_key, event_id, diagnostic, reply_code, status, reason)
    VALUES (NEW.recipient_domain, NEW.text_key, NEW.id, NEW.diagnostic, NEW.reply_code, NEW.status, NEW.reason);
    INSERT INTO report_soft_daily
    SELECT NEW.received_at / 86400000000, coalesce(NEW.from_domain, ''), coalesce(NEW.sending_ip, ''), t.id, 1
    FROM report_soft_texts AS t WHERE t.recipient_domain = NEW.recipient_domain AND t.text_key = NEW.text_key
    ON CONFLICT (day, from_domain, sending_ip, text_id) DO UPDATE SET amount = amount + 1;
    INSERT INTO report_soft_monthly
    SELECT CAST(strftime('%Y%m', NEW.received_at / 1000000, 'unixepoch') AS INTEGER),
           coalesce(NEW.from_domain, ''), coalesce(NEW.sending_ip, ''), t.id, 1
    FROM report_soft_texts AS t WHERE t.recipient_domain = NEW.recipient_domain AND t.text_key = NEW.text_key
    ON CONFLICT (month, from_domain, sending_ip, text_id) DO UPDATE SET amount = amount + 1;
END;
