-- Soft-bounce thresholds ([[policy.soft_thresholds]]): the last successful delivery of an
-- address, looked up in its recipient-side normal form (local part folded by default).
CREATE INDEX deliveries_recipient_folded ON deliveries (lower(recipient)) WHERE state = 'delivered';
CREATE INDEX bounce_events_soft_recipient ON bounce_events (recipient, received_at) WHERE kind = 'soft';

-- The classification rule that decided each event ("default:5xx", "override[2]", ...), for
-- `bounced suppression show ADDR --why`. NULL for events recorded before.
ALTER TABLE bounce_events ADD COLUMN rule TEXT;
