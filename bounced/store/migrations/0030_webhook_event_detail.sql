-- Fields of an event type that has no bounce behind it, as a JSON object (guard_tripped:
-- scope, key, text_key, count, held, window). NULL for every other type.
ALTER TABLE webhook_events ADD COLUMN detail TEXT;
