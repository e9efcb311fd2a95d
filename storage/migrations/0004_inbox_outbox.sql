-- Momento schema, version 4: nothing a customer sent is acknowledged before it is stored, and nothing the
-- bot owes a customer is forgotten.
-- inbox: every Telegram update as it arrived, stored before the getUpdates offset moves (or the webhook
-- answers 200); marked done once its handler finished. Rows not done are replayed at start-up.
CREATE TABLE inbox (
    update_id   INTEGER PRIMARY KEY,
    payload     TEXT NOT NULL,              -- the update's JSON, as Telegram sent it
    received_at TEXT NOT NULL,
    done_at     TEXT
);
CREATE INDEX ix_inbox_pending ON inbox (update_id) WHERE done_at IS NULL;

-- outbox: what the bot owes a customer (the next question, the thanks, a confirmation), written in the same
-- transaction as the state change that owes it, and sent until Telegram confirms it (message_id). The key
-- makes owing the same message twice (a replayed update) a no-op.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    chat_id     INTEGER NOT NULL,
    survey_id   INTEGER,
    text        TEXT NOT NULL,
    buttons     TEXT NOT NULL DEFAULT '[]',   -- [[[text, callback data], ...], ...]
    keyboard    TEXT,                         -- a reply keyboard (e.g. the share-contact button), JSON
    created_at  TEXT NOT NULL,
    next_at     TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    sent_at     TEXT,
    message_id  INTEGER,
    last_error  TEXT
);
CREATE INDEX ix_outbox_due ON outbox (next_at) WHERE sent_at IS NULL;
CREATE INDEX ix_outbox_chat ON outbox (chat_id) WHERE sent_at IS NULL;

-- The card text last shown to the team (an edit that changes nothing is never sent), and the phone number a
-- customer shared with the call-back request.
ALTER TABLE alerts ADD COLUMN card_text TEXT;
ALTER TABLE alerts ADD COLUMN contact_phone TEXT;

-- When the customer chose their language with /language: that choice wins over the language they write in
-- (a language filled from Telegram's setting does not).
ALTER TABLE customers ADD COLUMN language_chosen_at TEXT;
