"""Report queries: additive aggregates the report logic in ``bot/reports`` turns into figures.

Every query returns sums and counts (never ratios), grouped by touchpoint or by customer tier, so totals and
previous-period comparisons are plain additions. Time ranges are half-open ``[start, end)`` in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from storage import _rows
from storage.db import Database, from_db_time, to_db_time

GroupBy = Literal["touchpoint", "tier"]

# The one definition of the counts every report shows (README, staff section). All are surveys whose
# invitation went out in the period, so one period's figures always nest: invited >= responses >= completed,
# responses >= ratings.
RESPONSE_RULES = """
invited:   a survey whose invitation was sent in the period
response:  an invited survey the customer answered at least one question of (or finished)
completed: a response that reached the end of the survey
rating:    a response with a 1-5 rating; CSAT is the share of ratings that are 4 or 5
"""
GroupKey = int | str | None

# Answers whose sentiment describes the customer's experience (expectations and suggestions do not).
EXPERIENCE_QUESTIONS = ("experience", "unsolicited")
# Answers worth quoting back to staff.
QUOTABLE_QUESTIONS = ("experience", "improvement", "unsolicited")

# "+ 0" keeps SQLite from walking the whole touchpoint index just to skip a sort of a dozen groups; the
# time range index is the selective one (measured on 1M answers: 166 ms -> 37 ms for the gap query).
_GROUP_COLUMNS: dict[GroupBy, str] = {"touchpoint": "a.touchpoint_id + 0", "tier": "c.tier"}
_SURVEY_GROUP_COLUMNS: dict[GroupBy, str] = {"touchpoint": "s.touchpoint_id", "tier": "c.tier"}
_ALERT_GROUP_COLUMNS: dict[GroupBy, str] = {"touchpoint": "al.touchpoint_id", "tier": "c.tier"}


@dataclass(slots=True)
class Aggregate:
    """Sums for one group (a touchpoint or a tier) over one time range; add two to get their total."""

    invited: int = 0
    responded: int = 0
    completed: int = 0
    ratings: int = 0
    satisfied: int = 0  # ratings of 4 or 5
    rating_sum: int = 0
    rating_counts: dict[int, int] = field(default_factory=dict)
    analysed: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    sentiment_sum: float = 0.0
    emotions: dict[str, int] = field(default_factory=dict)
    gap_surveys: int = 0
    gap_sum: float = 0.0
    open_alerts: int = 0
    resolve_seconds: list[float] = field(default_factory=list)

    def add(self, other: Aggregate) -> None:
        for name in (
            "invited",
            "responded",
            "completed",
            "ratings",
            "satisfied",
            "rating_sum",
            "analysed",
            "negative",
            "neutral",
            "positive",
            "gap_surveys",
            "open_alerts",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.sentiment_sum += other.sentiment_sum
        self.gap_sum += other.gap_sum
        for rating, count in other.rating_counts.items():
            self.rating_counts[rating] = self.rating_counts.get(rating, 0) + count
        for emotion, count in other.emotions.items():
            self.emotions[emotion] = self.emotions.get(emotion, 0) + count
        self.resolve_seconds.extend(other.resolve_seconds)


def _filters(
    alias_time: str,
    start: datetime,
    end: datetime,
    touchpoint_id: int | None,
    tier: str | None,
    tp_column: str,
) -> tuple[str, list[Any]]:
    clauses, params = _rows.conditions(
        (f"{alias_time} >= ?", start),
        (f"{alias_time} < ?", end),
        (f"{tp_column} = ?", touchpoint_id),
        ("c.tier = ?", tier),
    )
    return " AND ".join(clauses), params


async def aggregates(
    db: Database,
    start: datetime,
    end: datetime,
    *,
    group_by: GroupBy = "touchpoint",
    touchpoint_id: int | None = None,
    tier: str | None = None,
    with_alerts: bool = True,
) -> dict[GroupKey, Aggregate]:
    """Invitations, ratings, sentiment, emotions, gaps and alerts per group for ``[start, end)``.

    Unsolicited feedback has no touchpoint: it is grouped under ``None``. Open alerts are counted as of now
    (whatever the range); resolution times are those of alerts resolved within the range. Without
    *with_alerts* (a previous period, for comparison) the alert queries are skipped.
    """
    groups: dict[GroupKey, Aggregate] = {}

    def group(key: GroupKey) -> Aggregate:
        found = groups.get(key)
        if found is None:
            found = groups[key] = Aggregate()
        return found

    needs_customer = group_by == "tier" or tier is not None
    join_customer = "JOIN customers AS c ON c.id = a.customer_id" if needs_customer else ""
    where, params = _filters("a.received_at", start, end, touchpoint_id, tier, "a.touchpoint_id")
    key = _GROUP_COLUMNS[group_by]
    # One pass over the analysed experience answers of the range (unsolicited feedback included).
    rows = await db.fetch_all(
        f"""
        SELECT {key} AS k, n.sentiment AS sentiment, n.emotion AS emotion, COUNT(*) AS n,
               TOTAL(n.sentiment_score) AS score
        FROM answers AS a {join_customer}
        JOIN analyses AS n ON n.id = a.current_analysis_id
        WHERE {where} AND a.question IN ('experience', 'unsolicited')
        GROUP BY k, n.sentiment, n.emotion
        """,
        params,
    )
    for row in rows:
        target = group(row["k"])
        count = int(row["n"])
        target.analysed += count
        sentiment = row["sentiment"]
        if sentiment in ("negative", "neutral", "positive"):
            setattr(target, sentiment, getattr(target, sentiment) + count)
        target.sentiment_sum += float(row["score"])
        emotion = str(row["emotion"])
        target.emotions[emotion] = target.emotions.get(emotion, 0) + count

    for k, (surveys, gap_sum) in (
        await gaps(db, start, end, group_by=group_by, touchpoint_id=touchpoint_id, tier=tier)
    ).items():
        target = group(k)
        target.gap_surveys += surveys
        target.gap_sum += gap_sum

    # Invitations, responses, completions and ratings: all of surveys invited in the range (RESPONSE_RULES).
    survey_key = _SURVEY_GROUP_COLUMNS[group_by]
    survey_join = "JOIN customers AS c ON c.id = s.customer_id" if needs_customer else ""
    where, params = _filters("s.invited_at", start, end, touchpoint_id, tier, "s.touchpoint_id")
    rows = await db.fetch_all(
        f"""
        SELECT {survey_key} AS k, r.rating AS rating, COUNT(*) AS invited,
               TOTAL(s.status = 'completed') AS completed,
               TOTAL(CASE WHEN s.status IN ('completed', 'in_progress') OR r.id IS NOT NULL THEN 1
                          WHEN EXISTS (SELECT 1 FROM answers AS x WHERE x.survey_id = s.id) THEN 1
                          ELSE 0 END)
                   AS responded
        FROM surveys AS s {survey_join}
        LEFT JOIN answers AS r ON r.survey_id = s.id AND r.question = 'rating' AND r.rating IS NOT NULL
        WHERE {where}
        GROUP BY k, r.rating
        -- Completed, in-progress and rated surveys are responses without a probe for an answer; the rest
        -- (invited, expired, declined, e.g. after /stop mid-survey) are looked up.
        """,
        params,
    )
    for row in rows:
        target = group(row["k"])
        count = int(row["invited"])
        target.invited += count
        target.completed += int(row["completed"])
        target.responded += int(row["responded"])
        rating = row["rating"]
        if rating is not None:
            target.ratings += count
            target.rating_sum += int(rating) * count
            target.rating_counts[int(rating)] = target.rating_counts.get(int(rating), 0) + count
            if rating >= 4:
                target.satisfied += count

    if not with_alerts:
        return groups
    alert_key = _ALERT_GROUP_COLUMNS[group_by]
    alert_join = "JOIN customers AS c ON c.id = al.customer_id" if needs_customer else ""
    # Open as of now: no time range.
    clauses, params = _rows.conditions(("al.touchpoint_id = ?", touchpoint_id), ("c.tier = ?", tier))
    where = " AND ".join(["al.status IN ('open', 'acknowledged')", *clauses])
    rows = await db.fetch_all(
        f"SELECT {alert_key} AS k, COUNT(*) AS n FROM alerts AS al {alert_join} WHERE {where} GROUP BY k",
        params,
    )
    for row in rows:
        group(row["k"]).open_alerts += int(row["n"])

    where, params = _filters("al.resolved_at", start, end, touchpoint_id, tier, "al.touchpoint_id")
    # Durations in SQL: parsing thousands of timestamps in Python cost more than the whole query.
    rows = await db.fetch_all(
        f"SELECT {alert_key} AS k, "
        f"(julianday(al.resolved_at) - julianday(al.created_at)) * 86400.0 AS seconds "
        f"FROM alerts AS al {alert_join} WHERE {where}",
        params,
    )
    for row in rows:
        if row["seconds"] is not None:
            group(row["k"]).resolve_seconds.append(float(row["seconds"]))
    return groups


async def gaps(
    db: Database,
    start: datetime,
    end: datetime,
    *,
    group_by: GroupBy = "touchpoint",
    touchpoint_id: int | None = None,
    tier: str | None = None,
) -> dict[GroupKey, tuple[int, float]]:
    """(surveys, sum of experience score - expectation score) per group, for surveys invited in range (the
    same surveys as the response counts, so "over N surveys" never exceeds the responses)."""
    join_customer = "JOIN customers AS c ON c.id = s.customer_id" if group_by == "tier" or tier else ""
    where, params = _filters("s.invited_at", start, end, touchpoint_id, tier, "s.touchpoint_id")
    rows = await db.fetch_all(
        f"""
        SELECT {_SURVEY_GROUP_COLUMNS[group_by]} AS k, COUNT(*) AS n,
               TOTAL(x.sentiment_score - e.sentiment_score) AS gap
        FROM surveys AS s {join_customer}
        JOIN answers AS a ON a.survey_id = s.id AND a.question = 'experience'
        JOIN analyses AS x ON x.id = a.current_analysis_id
        JOIN answers AS ea ON ea.survey_id = s.id AND ea.question = 'expectation'
        JOIN analyses AS e ON e.id = ea.current_analysis_id
        WHERE {where}
        GROUP BY k
        """,
        params,
    )
    return {row["k"]: (int(row["n"]), float(row["gap"])) for row in rows}


async def first_data_at(db: Database) -> datetime | None:
    """When the first survey was invited or the first answer arrived: a period before it has no data."""
    row = await db.fetch_one(
        "SELECT MIN(at) FROM (SELECT MIN(invited_at) AS at FROM surveys "
        "UNION ALL SELECT MIN(received_at) FROM answers) AS firsts"
    )
    return from_db_time(row[0]) if row and row[0] else None


@dataclass(frozen=True, slots=True)
class DriverSums:
    """Per touchpoint: sums over customers of x (mean experience score) and y (mean rating overall)."""

    touchpoint_id: int
    customers: int
    sum_x: float
    sum_y: float
    sum_xx: float
    sum_yy: float
    sum_xy: float


_driver_sums = _rows.mapper(DriverSums)


async def driver_sums(db: Database, start: datetime, end: datetime) -> list[DriverSums]:
    """Sums for a correlation of each touchpoint's experience with the customer's overall rating."""
    params = {"start": to_db_time(start), "end": to_db_time(end)}
    rows = await db.fetch_all(
        """
        WITH experience AS (
            SELECT a.customer_id AS cid, a.touchpoint_id AS tp, AVG(n.sentiment_score) AS x
            FROM answers AS a JOIN analyses AS n ON n.id = a.current_analysis_id
            WHERE a.question = 'experience' AND a.received_at >= :start AND a.received_at < :end
              AND a.touchpoint_id IS NOT NULL
            GROUP BY a.customer_id, a.touchpoint_id
        ), overall AS (
            SELECT a.customer_id AS cid, AVG(a.rating) AS y
            FROM answers AS a
            WHERE a.question = 'rating' AND a.received_at >= :start AND a.received_at < :end
              AND a.rating IS NOT NULL
            GROUP BY a.customer_id
        )
        SELECT experience.tp AS touchpoint_id, COUNT(*) AS customers, TOTAL(x) AS sum_x, TOTAL(y) AS sum_y,
               TOTAL(x * x) AS sum_xx, TOTAL(y * y) AS sum_yy, TOTAL(x * y) AS sum_xy
        FROM experience JOIN overall ON overall.cid = experience.cid
        GROUP BY experience.tp
        """,
        params,
    )
    return [_driver_sums(row) for row in rows]


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """Surveyed events of one touchpoint whose experience had one sentiment, and what followed."""

    touchpoint_id: int
    sentiment: str
    events: int
    came_back: int
    amount_events: int  # surveyed events that carry an amount
    amount_sum: float
    later_amount_sum: float  # spent within the comeback window after the event


# TOTAL sums to a float.
_outcome_row = _rows.mapper(OutcomeRow, came_back=int)


def _journey_params(start: datetime, end: datetime, comeback_window: timedelta) -> dict[str, str]:
    """The range, and the comeback window as the SQLite date modifier that adds it to an event's time."""
    return {
        "start": to_db_time(start),
        "end": to_db_time(end),
        "window": f"+{int(comeback_window.total_seconds())} seconds",
    }


async def outcomes(
    db: Database,
    start: datetime,
    end: datetime,
    comeback_window: timedelta,
    comeback_touchpoint_ids: Sequence[int],
) -> list[OutcomeRow]:
    """Comeback (a later event of the same customer within the window at one of the comeback touchpoints:
    a new purchase or visit, not any contact) and amounts, after a positive and after a negative experience
    (neutral ones say nothing about the difference and are skipped)."""
    # Integer ids only, so they can be inlined; none configured matches nothing.
    comeback_ids = ", ".join(str(int(i)) for i in comeback_touchpoint_ids) or "-1"
    rows = await db.fetch_all(
        f"""
        WITH surveyed AS (
            SELECT ev.id AS id, ev.customer_id AS cid, ev.touchpoint_id AS tp, ev.occurred_at AS at,
                   ev.amount AS amount, n.sentiment AS sentiment,
                   strftime('%Y-%m-%dT%H:%M:%fZ', ev.occurred_at, :window) AS until
            FROM touchpoint_events AS ev
            JOIN surveys AS s ON s.event_id = ev.id AND s.kind = 'touchpoint'
            JOIN answers AS a ON a.survey_id = s.id AND a.question = 'experience'
            JOIN analyses AS n ON n.id = a.current_analysis_id
            WHERE ev.occurred_at >= :start AND ev.occurred_at < :end
              AND n.sentiment IN ('positive', 'negative')
        ), followed AS (
            -- One index probe per surveyed event finds every later event of the customer in the window.
            SELECT sv.tp AS tp, sv.sentiment AS sentiment, sv.amount AS amount,
                   COUNT(l.id) > 0 AS came_back, TOTAL(l.amount) AS later
            FROM surveyed AS sv
            LEFT JOIN touchpoint_events AS l
                ON l.customer_id = sv.cid AND l.occurred_at > sv.at AND l.occurred_at <= sv.until
                AND l.touchpoint_id IN ({comeback_ids})
            GROUP BY sv.id, sv.sentiment, sv.tp, sv.amount
        )
        SELECT tp AS touchpoint_id, sentiment, COUNT(*) AS events, TOTAL(came_back) AS came_back,
               COUNT(amount) AS amount_events, TOTAL(amount) AS amount_sum, TOTAL(later) AS later_amount_sum
        FROM followed
        GROUP BY tp, sentiment
        """,
        _journey_params(start, end, comeback_window),
    )
    return [_outcome_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class TransitionRow:
    """Events at one touchpoint and where the customer went next (``to_touchpoint_id`` None: nowhere)."""

    from_touchpoint_id: int
    to_touchpoint_id: int | None
    count: int
    turned_negative: int  # next experience negative while this one was not
    analysed: int  # transitions whose next experience has a sentiment


# TOTAL sums to a float.
_transition_row = _rows.mapper(TransitionRow, turned_negative=int)


async def transitions(
    db: Database, start: datetime, end: datetime, comeback_window: timedelta
) -> list[TransitionRow]:
    """Consecutive touchpoints per customer for events in range; no next event within the window: drop-out."""
    rows = await db.fetch_all(
        f"""
        WITH ordered AS (
            SELECT e.id AS id, e.touchpoint_id AS tp, e.occurred_at AS at,
                   LEAD(e.touchpoint_id) OVER journey AS next_tp,
                   LEAD(e.id) OVER journey AS next_id,
                   LEAD(e.occurred_at) OVER journey AS next_at
            FROM touchpoint_events AS e
            WHERE e.occurred_at >= :start
            -- "+ 0": sort the events of the range rather than walk every event in customer order.
            WINDOW journey AS (PARTITION BY e.customer_id + 0 ORDER BY e.occurred_at, e.id)
        ), steps AS (
            SELECT o.tp AS tp, o.id AS id,
                   CASE WHEN o.next_at <= strftime('%Y-%m-%dT%H:%M:%fZ', o.at, :window) THEN o.next_tp END
                       AS next_tp,
                   CASE WHEN o.next_at <= strftime('%Y-%m-%dT%H:%M:%fZ', o.at, :window) THEN o.next_id END
                       AS next_id
            FROM ordered AS o
            WHERE o.at < :end
        ), feeling AS MATERIALIZED (
            -- How each event felt, looked up once (an event's answers come after it, so after :start).
            SELECT s.event_id AS event_id,
                   MAX(CASE WHEN n.sentiment = 'negative' THEN 1 ELSE 0 END) AS negative
            FROM answers AS a
            JOIN analyses AS n ON n.id = a.current_analysis_id
            JOIN surveys AS s ON s.id = a.survey_id
            WHERE a.question = 'experience' AND a.received_at >= :start
              AND s.kind = 'touchpoint' AND s.event_id IS NOT NULL
            GROUP BY {db.unindexed("s.event_id", numeric=True)}
        )
        SELECT steps.tp AS from_touchpoint_id, steps.next_tp AS to_touchpoint_id, COUNT(*) AS count,
               TOTAL(there.negative = 1 AND (here.negative IS NULL OR here.negative = 0)) AS turned_negative,
               COUNT(there.event_id) AS analysed
        FROM steps
        LEFT JOIN feeling AS here ON here.event_id = steps.id
        LEFT JOIN feeling AS there ON there.event_id = steps.next_id
        GROUP BY steps.tp, steps.next_tp
        """,
        _journey_params(start, end, comeback_window),
    )
    return [_transition_row(row) for row in rows]


@dataclass(frozen=True, slots=True)
class Quote:
    answer_id: int
    text: str
    question: str
    received_at: datetime
    sentiment: str
    sentiment_score: float
    emotion: str
    tier: str
    strength: float  # how strongly the answer shows what was asked for (0–1)


# json_extract gives an int for a score stored as 1 or 0.
_quote = _rows.mapper(Quote, strength=float)


async def quotes(
    db: Database,
    touchpoint_id: int,
    start: datetime,
    end: datetime,
    *,
    sentiment: str | None = None,
    emotion: str | None = None,
    limit: int = 5,
) -> list[Quote]:
    """The answers that show a sentiment or emotion most strongly (without a filter: the most extreme)."""
    clauses = [
        "a.touchpoint_id = :tp",
        "a.received_at >= :start",
        "a.received_at < :end",
        "a.text IS NOT NULL",
        "TRIM(a.text) != ''",
        f"a.question IN ({', '.join(repr(q) for q in QUOTABLE_QUESTIONS)})",
    ]
    params: dict[str, Any] = {
        "tp": touchpoint_id,
        "start": to_db_time(start),
        "end": to_db_time(end),
        "limit": limit,
    }
    if sentiment is not None:
        clauses.append("n.sentiment = :sentiment")
        params["sentiment"] = sentiment
        params["path"] = f'$."{sentiment}"'
        strength = "json_extract(n.sentiment_scores, :path)"
    elif emotion is not None:
        clauses.append("n.emotion = :emotion")
        params["emotion"] = emotion
        params["path"] = f'$."{emotion}"'
        strength = "json_extract(n.emotion_scores, :path)"
    else:
        strength = "ABS(n.sentiment_score)"
    rows = await db.fetch_all(
        f"""
        SELECT a.id AS answer_id, a.text AS text, a.question AS question, a.received_at AS received_at,
               n.sentiment AS sentiment, n.sentiment_score AS sentiment_score, n.emotion AS emotion,
               c.tier AS tier, COALESCE({strength}, 0) AS strength
        FROM answers AS a
        JOIN analyses AS n ON n.id = a.current_analysis_id
        JOIN customers AS c ON c.id = a.customer_id
        WHERE {" AND ".join(clauses)}
        ORDER BY strength DESC, LENGTH(a.text) DESC, a.id
        LIMIT :limit
        """,
        params,
    )
    return [_quote(row) for row in rows]


async def known_labels(db: Database) -> tuple[set[str], set[str]]:
    """Sentiment and emotion labels present in the analyses (so /quotes can tell a typo from no data)."""
    sentiments = {str(r[0]) for r in await db.fetch_all("SELECT DISTINCT sentiment FROM analyses")}
    emotions = {str(r[0]) for r in await db.fetch_all("SELECT DISTINCT emotion FROM analyses")}
    return sentiments, emotions


async def tiers(db: Database) -> list[str]:
    return [str(r[0]) for r in await db.fetch_all("SELECT DISTINCT tier FROM customers ORDER BY tier")]


@dataclass(frozen=True, slots=True)
class HistoryAnswer:
    question: str
    text: str | None
    rating: int | None
    sentiment: str | None
    emotion: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class HistorySurvey:
    survey_id: int | None  # None groups unsolicited feedback
    touchpoint_key: str | None
    kind: str
    status: str
    at: datetime
    answers: list[HistoryAnswer]


@dataclass(frozen=True, slots=True)
class HistoryAlert:
    alert_id: int
    touchpoint_key: str | None
    reason: str
    severity: str
    status: str
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    customer_id: int
    external_id: str
    display_name: str | None
    tier: str
    language: str | None
    consent: str
    linked: bool
    erased: bool
    events: int
    surveys: list[HistorySurvey]
    alerts: list[HistoryAlert]


_history_answer = _rows.mapper(HistoryAnswer)
_history_survey = _rows.mapper(HistorySurvey, joined=("answers",))
_history_alert = _rows.mapper(HistoryAlert)


async def customer_history(db: Database, external_id: str, *, surveys: int = 10) -> CustomerHistory | None:
    """The customer's newest surveys with their answers, unsolicited feedback, and alerts."""
    customer = await db.fetch_one("SELECT * FROM customers WHERE external_id = ?", (external_id,))
    if customer is None:
        return None
    cid = int(customer["id"])
    events_row = await db.fetch_one("SELECT COUNT(*) FROM touchpoint_events WHERE customer_id = ?", (cid,))
    survey_rows = await db.fetch_all(
        """
        SELECT s.id AS survey_id, t.key AS touchpoint_key, s.kind AS kind, s.status AS status,
               COALESCE(s.completed_at, s.invited_at, s.scheduled_at) AS at
        FROM surveys AS s LEFT JOIN touchpoints AS t ON t.id = s.touchpoint_id
        WHERE s.customer_id = ? ORDER BY at DESC, s.id DESC LIMIT ?
        """,
        (cid, surveys),
    )
    answer_rows = await db.fetch_all(
        """
        SELECT a.survey_id AS survey_id, a.question AS question, a.text AS text, a.rating AS rating,
               a.received_at AS received_at, n.sentiment AS sentiment, n.emotion AS emotion
        FROM answers AS a LEFT JOIN analyses AS n ON n.id = a.current_analysis_id
        WHERE a.customer_id = ? ORDER BY a.received_at, a.id
        """,
        (cid,),
    )
    by_survey: dict[int | None, list[HistoryAnswer]] = {}
    for row in answer_rows:
        by_survey.setdefault(row["survey_id"], []).append(_history_answer(row))
    history = [_history_survey(row, by_survey.get(row["survey_id"], [])) for row in survey_rows]
    unsolicited = by_survey.get(None, [])
    if unsolicited:
        history.append(
            HistorySurvey(
                survey_id=None,
                touchpoint_key=None,
                kind="unsolicited",
                status="completed",
                at=unsolicited[-1].received_at,
                answers=unsolicited[-surveys:],
            )
        )
        history.sort(key=lambda item: item.at, reverse=True)
    alert_rows = await db.fetch_all(
        """
        SELECT al.id AS alert_id, t.key AS touchpoint_key, al.reason AS reason, al.severity AS severity,
               al.status AS status, al.created_at AS created_at, al.resolved_at AS resolved_at
        FROM alerts AS al LEFT JOIN touchpoints AS t ON t.id = al.touchpoint_id
        WHERE al.customer_id = ? ORDER BY al.created_at DESC, al.id DESC LIMIT 10
        """,
        (cid,),
    )
    return CustomerHistory(
        customer_id=cid,
        external_id=str(customer["external_id"]),
        display_name=customer["display_name"],
        tier=str(customer["tier"]),
        language=customer["language"],
        consent=str(customer["consent"]),
        linked=customer["telegram_chat_id"] is not None,
        erased=customer["erased_at"] is not None,
        events=int(events_row[0]) if events_row else 0,
        surveys=history[:surveys],
        alerts=[_history_alert(row) for row in alert_rows],
    )


async def touchpoint_keys(db: Database) -> dict[int, str]:
    """Id -> key of every touchpoint ever configured (reports name removed ones too)."""
    return {int(r["id"]): str(r["key"]) for r in await db.fetch_all("SELECT id, key FROM touchpoints")}
