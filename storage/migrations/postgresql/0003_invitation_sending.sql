-- PostgreSQL twin of 0003_invitation_sending.sql (drafted by storage.migrations.twin; reviewed).
-- Momento schema, version 3: when the send of a survey's invitation to Telegram began.
-- Set just before the request and cleared when Telegram's answer is recorded. A row that still has it after
-- a crash is an invitation Telegram may or may not have received: it is never sent again (the Bot API has
-- no idempotency key); the survey opens as "delivery unconfirmed" and its reminder reaches the customer.
ALTER TABLE surveys ADD COLUMN sending_at TEXT COLLATE "C";
