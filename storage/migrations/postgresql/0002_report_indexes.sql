-- PostgreSQL twin of 0002_report_indexes.sql (drafted by storage.migrations.twin; reviewed).
-- Momento schema, version 2: covering indexes for the staff reports (see docs/benchmarks.md, Storage).
-- A 30-day summary per touchpoint reads only index pages of answers plus the current analyses by rowid;
-- the expectation answer of a survey is found without touching the answers table.

DROP INDEX ix_answers_touchpoint_time;
DROP INDEX ix_answers_time;
DROP INDEX ix_answers_survey;

CREATE INDEX ix_answers_touchpoint_report
    ON answers (touchpoint_id, received_at, question, rating, current_analysis_id, survey_id);
CREATE INDEX ix_answers_time_report
    ON answers (received_at, touchpoint_id, question, rating, current_analysis_id, survey_id);
CREATE INDEX ix_answers_survey_question ON answers (survey_id, question, current_analysis_id);

-- Invitations and completions per touchpoint over a period count surveys by invitation time.
CREATE INDEX ix_surveys_invited ON surveys (touchpoint_id, invited_at, status);
CREATE INDEX ix_surveys_invited_time ON surveys (invited_at, touchpoint_id, status);

-- Alerts opened / resolved in a period.
CREATE INDEX ix_alerts_created ON alerts (created_at, touchpoint_id);
CREATE INDEX ix_alerts_resolved ON alerts (resolved_at) WHERE resolved_at IS NOT NULL;
