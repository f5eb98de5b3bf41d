-- One normal form for addresses on the recipient side ([policy] local_part_case, default
-- "insensitive"): local parts lower-cased, as the big mailbox providers compare them.
-- Rows stored before are folded once here and case variants merged: the oldest suppression
-- of an address stays, profiles add their counts. Deliveries keep the address as sent
-- (we send to it). lower() is ASCII-only, like `model.address_key`.

DELETE FROM suppressions WHERE rowid IN (
    SELECT rowid FROM (
        SELECT rowid, row_number() OVER (PARTITION BY lower(address) ORDER BY created_at, rowid) AS n
        FROM suppressions)
    WHERE n > 1);
UPDATE suppressions SET address = lower(address) WHERE address != lower(address);

CREATE TABLE profiles_folded AS
SELECT lower(p.address) AS address,
       CASE WHEN max(p.status = 'hard_bounced') THEN 'hard_bounced' ELSE 'active' END AS status,
       sum(p.bounce_count) AS bounce_count,
       sum(p.soft_bounce_count) AS soft_bounce_count,
       sum(p.hard_bounce_count) AS hard_bounce_count,
       max(p.last_bounce_at) AS last_bounce_at,
       (SELECT q.last_bounce_reason FROM profiles AS q WHERE lower(q.address) = lower(p.address)
        ORDER BY q.last_bounce_at DESC LIMIT 1) AS last_bounce_reason,
       min(p.created_at) AS created_at,
       max(p.updated_at) AS updated_at
FROM profiles AS p GROUP BY lower(p.address) HAVING count(*) > 1;
DELETE FROM profiles WHERE lower(address) IN (SELECT address FROM profiles_folded);
INSERT INTO profiles (address, status, bounce_count, soft_bounce_count, hard_bounce_count,
                      last_bounce_at, last_bounce_reason, created_at, updated_at)
SELECT address, status, bounce_count, soft_bounce_count, hard_bounce_count, last_bounce_at,
       last_bounce_reason, created_at, updated_at FROM profiles_folded;
DROP TABLE profiles_folded;
UPDATE profiles SET address = lower(address) WHERE address != lower(address);

CREATE TABLE refusals_folded AS
SELECT lower(address) AS address, sum(count) AS count, min(first_at) AS first_at, max(last_at) AS last_at
FROM submission_refusals GROUP BY lower(address) HAVING count(*) > 1;
DELETE FROM submission_refusals WHERE lower(address) IN (SELECT address FROM refusals_folded);
INSERT INTO submission_refusals SELECT address, count, first_at, last_at FROM refusals_folded;
DROP TABLE refusals_folded;
UPDATE submission_refusals SET address = lower(address) WHERE address != lower(address);

UPDATE bounce_events SET recipient = lower(recipient) WHERE recipient != lower(recipient);
UPDATE audit_log SET address = lower(address) WHERE address != lower(address);
