-- What the applied intake message turned out to be (MessageType: dsn, arf, autoreply, none);
-- NULL until applied, and for unparseable messages.
ALTER TABLE intake ADD COLUMN message_type TEXT;
