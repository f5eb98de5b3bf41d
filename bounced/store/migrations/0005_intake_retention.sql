-- Retention of raw bounce bytes ([storage] keep_raw_days): applied intake rows older than
-- the limit lose `raw` (set to x''); the row, envelope, sha256 (dedup) and state stay.
-- raw_pruned_at: when the bytes were dropped; NULL while they are kept.
ALTER TABLE intake ADD COLUMN raw_pruned_at INTEGER;
-- What the pruner looks for, oldest first, without reading the rows (their raw bytes sit
-- in overflow pages, and `state` comes after `raw`). A row leaves it once pruned, so it
-- holds about keep_raw_days of applied rows.
CREATE INDEX intake_raw_prunable ON intake (received_at) WHERE state = 'applied' AND raw_pruned_at IS NULL;
