-- Counters for /metrics, kept by triggers in the same transaction as the rows they count, so
-- a scrape reads a few rows instead of scanning bounce_events, and a restart loses nothing.
-- name: 'bounces' (k1 = kind, k2 = reason), 'hard_by_from_domain' (k1 = from-domain, '' when
-- unknown), 'suppressions_added' (k1 = created_by class), 'suppressions_removed'. Only ever incremented: Prometheus counters.
CREATE TABLE metric_counters (
    name TEXT    NOT NULL,
    k1   TEXT    NOT NULL DEFAULT '',
    k2   TEXT    NOT NULL DEFAULT '',
    n    INTEGER NOT NULL,
    PRIMARY KEY (name, k1, k2)
) WITHOUT ROWID;

CREATE TRIGGER metric_bounces AFTER INSERT ON bounce_events
BEGIN
    INSERT INTO metric_counters (name, k1, k2, n) VALUES ('bounces', NEW.kind, NEW.reason, 1)
    ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + 1;
    INSERT INTO metric_counters (name, k1, k2, n)
    SELECT 'hard_by_from_domain', coalesce(NEW.from_domain, ''), '', 1 WHERE NEW.kind = 'hard'
    ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER metric_suppressions_added AFTER INSERT ON suppressions
BEGIN
    INSERT INTO metric_counters (name, k1, k2, n)
    VALUES ('suppressions_added', CASE WHEN NEW.created_by LIKE 'admin:%' THEN 'admin' ELSE NEW.created_by END, '', 1)
    ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER metric_suppressions_removed AFTER DELETE ON suppressions
BEGIN
    INSERT INTO metric_counters (name, k1, k2, n) VALUES ('suppressions_removed', '', '', 1)
    ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + 1;
END;

-- What was there before this migration.
INSERT INTO metric_counters (name, k1, k2, n)
SELECT 'bounces', kind, reason, count(*) FROM bounce_events GROUP BY kind, reason;

INSERT INTO metric_counters (name, k1, k2, n)
SELECT 'hard_by_from_domain', coalesce(from_domain, ''), '', count(*) FROM bounce_events
WHERE kind = 'hard' GROUP BY 2;

INSERT INTO metric_counters (name, k1, k2, n)
SELECT 'suppressions_added', CASE WHEN created_by LIKE 'admin:%' THEN 'admin' ELSE created_by END, '', count(*)
FROM suppressions GROUP BY 2;

-- Keyset pagination of the suppression list (cursor = created_at, address).
CREATE INDEX suppressions_created ON suppressions (created_at, address);
