-- Momento schema, version 1.
-- Conventions: every timestamp is UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ' (sorts and compares as text,
-- readable in exports); JSON columns hold objects; booleans are 0/1.

CREATE TABLE customers (
    id                INTEGER PRIMARY KEY,
    external_id       TEXT    NOT NULL UNIQUE,          -- the company's own customer id
    telegram_user_id  INTEGER UNIQUE,                   -- set when the customer links their chat
    telegram_chat_id  INTEGER,
    display_name      TEXT,
    language          TEXT,                             -- 'en' / 'es'; NULL follows Telegram
    timezone          TEXT,                             -- IANA name; NULL uses survey.default_timezone
    tier              TEXT    NOT NULL DEFAULT 'standard',
    consent           TEXT    NOT NULL DEFAULT 'unknown'
                      CHECK (consent IN ('unknown', 'granted', 'opted_out')),
    opted_out_at      TEXT,
    unreachable_at    TEXT,                             -- the bot was blocked (403)
    erased_at         TEXT,                             -- personal data erased on request
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL
);

CREATE TABLE touchpoints (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    names       TEXT    NOT NULL DEFAULT '{}',          -- JSON {"en": "...", "es": "..."}
    kind        TEXT    NOT NULL CHECK (kind IN ('direct', 'indirect')),
    stage       INTEGER NOT NULL,
    weight      REAL    NOT NULL,
    channel     TEXT    NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1,             -- 0 once removed from the config; history stays
    updated_at  TEXT    NOT NULL
);

CREATE TABLE touchpoint_events (
    id             INTEGER PRIMARY KEY,
    external_id    TEXT    NOT NULL UNIQUE,             -- idempotent ingestion
    customer_id    INTEGER NOT NULL REFERENCES customers (id),
    touchpoint_id  INTEGER NOT NULL REFERENCES touchpoints (id),
    occurred_at    TEXT    NOT NULL,
    attributes     TEXT    NOT NULL DEFAULT '{}',       -- JSON: order id, store, agent, amount ...
    amount         REAL,                                -- business value, copied from attributes.amount
    received_at    TEXT    NOT NULL
);
CREATE INDEX ix_events_customer ON touchpoint_events (customer_id, occurred_at);
CREATE INDEX ix_events_touchpoint ON touchpoint_events (touchpoint_id, occurred_at);

CREATE TABLE surveys (
    id               INTEGER PRIMARY KEY,
    customer_id      INTEGER NOT NULL REFERENCES customers (id),
    event_id         INTEGER REFERENCES touchpoint_events (id),
    touchpoint_id    INTEGER REFERENCES touchpoints (id),  -- NULL for general feedback
    kind             TEXT    NOT NULL DEFAULT 'touchpoint'
                     CHECK (kind IN ('touchpoint', 'general', 'recovery_followup')),
    status           TEXT    NOT NULL
                     CHECK (status IN ('scheduled', 'invited', 'in_progress', 'completed', 'declined',
                                       'expired', 'failed', 'skipped')),
    skip_reason      TEXT,                              -- frequency cap, opted out ... when status = 'skipped'
    step             TEXT,                              -- current step of the dialogue
    state            TEXT    NOT NULL DEFAULT '{}',     -- JSON: what the dialogue has captured so far
    language         TEXT,
    scheduled_at     TEXT    NOT NULL,                  -- when the invitation is due
    claimed_at       TEXT,                              -- a dispatcher took it (crash-safe outreach)
    invited_at       TEXT,
    invitation_message_id INTEGER,
    reminded_at      TEXT,
    started_at       TEXT,
    completed_at     TEXT,
    expires_at       TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       TEXT    NOT NULL
);
CREATE UNIQUE INDEX ux_surveys_event ON surveys (event_id, kind) WHERE event_id IS NOT NULL;
CREATE INDEX ix_surveys_due ON surveys (status, scheduled_at);
CREATE INDEX ix_surveys_customer ON surveys (customer_id, status);
CREATE INDEX ix_surveys_touchpoint ON surveys (touchpoint_id, scheduled_at);

CREATE TABLE answers (
    id               INTEGER PRIMARY KEY,
    survey_id        INTEGER REFERENCES surveys (id),   -- NULL for unsolicited feedback
    customer_id      INTEGER NOT NULL REFERENCES customers (id),
    touchpoint_id    INTEGER REFERENCES touchpoints (id),  -- copied from the survey, for reports
    question         TEXT    NOT NULL,                  -- expectation, experience, rating, improvement,
                                                        -- callback, unsolicited
    text             TEXT,
    rating           INTEGER CHECK (rating BETWEEN 1 AND 5),
    language         TEXT,
    truncated        INTEGER NOT NULL DEFAULT 0,        -- the message was longer than allowed
    chat_id          INTEGER,
    message_id       INTEGER,                           -- Telegram message the answer came in
    received_at      TEXT    NOT NULL,
    edited_at        TEXT,
    analysis_state   TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (analysis_state IN ('pending', 'done', 'failed', 'not_applicable')),
    analysis_attempts INTEGER NOT NULL DEFAULT 0,
    current_analysis_id INTEGER REFERENCES analyses (id)
);
-- One message can carry several answers ("expected X, got Y, 2/5"), hence the question in the key.
CREATE UNIQUE INDEX ux_answers_message ON answers (chat_id, message_id, question)
    WHERE message_id IS NOT NULL;
CREATE INDEX ix_answers_survey ON answers (survey_id);
CREATE INDEX ix_answers_customer ON answers (customer_id);
CREATE INDEX ix_answers_touchpoint_time ON answers (touchpoint_id, received_at);
CREATE INDEX ix_answers_time ON answers (received_at);
CREATE INDEX ix_answers_pending ON answers (analysis_state) WHERE analysis_state IN ('pending', 'failed');

CREATE TABLE analyses (
    id                INTEGER PRIMARY KEY,
    answer_id         INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    model_id          TEXT    NOT NULL,
    model_version     TEXT    NOT NULL,
    sentiment         TEXT    NOT NULL CHECK (sentiment IN ('negative', 'neutral', 'positive')),
    sentiment_scores  TEXT    NOT NULL,                 -- JSON {"negative": p, ...}
    sentiment_score   REAL    NOT NULL,                 -- p(positive) - p(negative), for net sentiment
    emotion           TEXT    NOT NULL,
    emotion_scores    TEXT    NOT NULL,                 -- JSON {"anger": p, ...}
    analysed_at       TEXT    NOT NULL,
    UNIQUE (answer_id, model_id, model_version)
);

CREATE TABLE alerts (
    id                 INTEGER PRIMARY KEY,
    survey_id          INTEGER UNIQUE REFERENCES surveys (id),
    customer_id        INTEGER NOT NULL REFERENCES customers (id),
    touchpoint_id      INTEGER REFERENCES touchpoints (id),
    reason             TEXT    NOT NULL,                -- low_rating, negative_sentiment, anger ...
    severity           TEXT    NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    status             TEXT    NOT NULL DEFAULT 'open'
                       CHECK (status IN ('open', 'acknowledged', 'resolved')),
    callback_requested INTEGER NOT NULL DEFAULT 0,
    assignee_user_id   INTEGER,
    notes              TEXT,
    posted_chat_id     INTEGER,
    posted_message_id  INTEGER,
    posted_at          TEXT,                            -- NULL until it reached the team chat
    created_at         TEXT    NOT NULL,
    acknowledged_at    TEXT,
    resolved_at        TEXT,
    followup_survey_id INTEGER REFERENCES surveys (id)  -- re-measures the recovered customer
);
CREATE INDEX ix_alerts_status ON alerts (status, created_at);

CREATE TABLE staff (
    telegram_user_id  INTEGER PRIMARY KEY,
    role              TEXT    NOT NULL CHECK (role IN ('staff', 'admin')),
    display_name      TEXT,
    added_by          INTEGER,
    added_at          TEXT    NOT NULL
);

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    actor          TEXT    NOT NULL,                    -- 'telegram:<user id>', 'cli', 'api', 'system'
    action         TEXT    NOT NULL,                    -- staff.add, export, customer.erase ...
    subject        TEXT,
    details        TEXT    NOT NULL DEFAULT '{}',       -- JSON
    at             TEXT    NOT NULL
);
CREATE INDEX ix_audit_at ON audit_log (at);

-- Small named values the bot must remember across restarts (last digest sent, ...).
CREATE TABLE app_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
