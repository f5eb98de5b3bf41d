-- `bounced intake list --state failed|unparseable`: the quarantined few among millions of
-- applied rows, found without reading the table (`state` is stored after `raw`, so a scan
-- would walk every message's overflow pages). One partial index per state, like
-- intake_pending (0001): SQLite uses a partial index only when the query's WHERE repeats
-- its condition (`state = 'failed'` does not count as implying `state IN (...)`).
CREATE INDEX intake_failed ON intake (id) WHERE state = 'failed';
CREATE INDEX intake_unparseable ON intake (id) WHERE state = 'unparseable';
