-- Momento schema: themes of free-text answers (issue 17).
-- answer_vectors: the sentence vector of the answer's current reading, int8 with one scale per vector
-- (384 bytes + a float instead of 1.5 KB of float32; cosine to the float vector stays above 0.999).
CREATE TABLE answer_vectors (
    answer_id      INTEGER PRIMARY KEY REFERENCES answers (id) ON DELETE CASCADE,
    model_id       TEXT    NOT NULL,
    model_version  TEXT    NOT NULL,
    dim            INTEGER NOT NULL,
    scale          REAL    NOT NULL,          -- value = int8 * scale
    vector         BLOB    NOT NULL
);

-- theme_runs: one precomputed grouping of a touchpoint's answers in one period (computed on the clock),
-- so /themes reads a few rows instead of clustering at command time. The latest run per key wins.
CREATE TABLE theme_runs (
    id             INTEGER PRIMARY KEY,
    touchpoint_id  INTEGER REFERENCES touchpoints (id),   -- NULL: all answers
    period         TEXT    NOT NULL,          -- 'week' / 'month' (calendar buckets, company time zone)
    period_start   TEXT    NOT NULL,
    period_end     TEXT    NOT NULL,
    answers        INTEGER NOT NULL,
    computed_at    TEXT    NOT NULL,
    UNIQUE (touchpoint_id, period, period_start)
);

-- themes: what one run found. kind 'declared' (from the config) or 'discovered' (grouped by the model).
CREATE TABLE themes (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES theme_runs (id) ON DELETE CASCADE,
    key             TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('declared', 'discovered')),
    names           TEXT    NOT NULL DEFAULT '{}',   -- JSON {"en": "...", "es": "..."} or the telling words
    words           TEXT    NOT NULL DEFAULT '[]',   -- JSON list: the c-TF-IDF words
    answers         INTEGER NOT NULL,
    negative        INTEGER NOT NULL,
    representative_answer_id INTEGER REFERENCES answers (id) ON DELETE SET NULL,
    centroid        BLOB,                             -- int8 unit vector (a later run recognises the theme)
    centroid_scale  REAL,
    UNIQUE (run_id, key)
);

-- theme_tiers: a theme's counts per customer tier, so /themes <tier> reads rows too (not the run's answers).
CREATE TABLE theme_tiers (
    run_id     INTEGER NOT NULL REFERENCES theme_runs (id) ON DELETE CASCADE,
    theme_key  TEXT    NOT NULL,
    tier       TEXT    NOT NULL,
    answers    INTEGER NOT NULL,
    negative   INTEGER NOT NULL,
    quote_answer_id INTEGER REFERENCES answers (id) ON DELETE SET NULL,
    PRIMARY KEY (run_id, theme_key, tier)
) WITHOUT ROWID;

-- theme_answers: which theme each answer of a run fell in (for /quotes, tiers and exports).
CREATE TABLE theme_answers (
    run_id     INTEGER NOT NULL REFERENCES theme_runs (id) ON DELETE CASCADE,
    answer_id  INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    theme_key  TEXT    NOT NULL,
    PRIMARY KEY (run_id, answer_id)
) WITHOUT ROWID;
CREATE INDEX ix_theme_answers_answer ON theme_answers (answer_id);
