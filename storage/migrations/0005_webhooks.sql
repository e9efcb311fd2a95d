-- Momento schema, version 5: outgoing webhooks (issue 19).
-- webhook_outbox: one row per event and subscribed webhook, written in the same transaction as the event it
-- reports (survey completed, answer analysed, alert opened/acknowledged/resolved, callback requested, theme
-- alert), and sent by the clock until the receiver answers 2xx (at least once). Rows of one webhook and one
-- customer are sent in id order: the oldest undelivered row holds the later ones (not other customers').
-- body is the exact JSON sent every time (the signature covers it); event_id is the same for every attempt.
CREATE TABLE webhook_outbox (
    id            INTEGER PRIMARY KEY,
    event_id      TEXT NOT NULL,
    webhook       TEXT NOT NULL,               -- the [[webhooks]] name
    event_type    TEXT NOT NULL,
    customer_id   INTEGER NOT NULL DEFAULT 0,  -- the ordering key (0: no customer, the webhook's own queue)
    body          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    next_at       TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    delivered_at  TEXT,
    failed_at     TEXT,                        -- gave up after max_attempts; `momento webhooks retry` resends
    last_status   INTEGER,                     -- the receiver's HTTP status of the last attempt
    last_error    TEXT,
    UNIQUE (event_id, webhook)
);
CREATE INDEX ix_webhook_outbox_queue ON webhook_outbox (webhook, customer_id, id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX ix_webhook_outbox_due ON webhook_outbox (next_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX ix_webhook_outbox_failed ON webhook_outbox (failed_at) WHERE failed_at IS NOT NULL;
CREATE INDEX ix_webhook_outbox_customer ON webhook_outbox (customer_id);
