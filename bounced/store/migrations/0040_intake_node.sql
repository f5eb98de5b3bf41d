-- A central store takes over the intake spools of several nodes (`adopt_intake`): each
-- message once, keyed by the node's name and its id in the node's local spool. NULL for
-- messages spooled here directly (NULLs never collide in a UNIQUE index).
ALTER TABLE intake ADD COLUMN node TEXT;
ALTER TABLE intake ADD COLUMN local_id INTEGER;
CREATE UNIQUE INDEX intake_node_local ON intake (node, local_id);
