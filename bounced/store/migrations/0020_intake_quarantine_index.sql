-- `bounced intake list --state failed|unparseable`: the quarantined few among millions of
-- applied rows, found without reading the table (`state` is stored after `raw`, so a scan
-- would walk every message's overflow pages). Pending has its own index (0001).
CREATE INDEX intake_quarantined ON intake (state, id) WHERE state IN ('failed', 'unparseable');
