"""Row -> model conversion for the repositories and report queries (one place that knows column encodings)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from operator import itemgetter
from typing import Any, TypeVar, cast, get_type_hints

import aiosqlite

from storage.db import from_db_time, to_db_time
from storage.models import (
    Alert,
    AnalysisRecord,
    Answer,
    AuditEntry,
    Customer,
    StaffMember,
    Survey,
    Touchpoint,
    TouchpointEvent,
)

Row = sqlite3.Row
M = TypeVar("M")
Params = Sequence[Any] | dict[str, Any]


async def one(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> Row | None:
    """A row read on the writer connection: sees the transaction's own uncommitted changes.

    One trip to aiosqlite's thread instead of three (execute, fetch, close): each trip is a thread hand-off,
    and hand-offs dominated bulk ingestion's profile. For statements that yield one row (or very few).
    """
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def all_rows(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> list[Row]:
    return list(await conn.execute_fetchall(sql, params))


async def changed(conn: aiosqlite.Connection, sql: str, params: Params = ()) -> int:
    """Run a write, return how many rows it touched."""
    async with conn.execute(sql, params) as cursor:
        return cursor.rowcount


def conditions(*filters: tuple[str, Any]) -> tuple[list[str], list[Any]]:
    """The ``column = ?``-style conditions of the filters given a value, and their parameters in order.

    None leaves a filter out (it means "any", never "IS NULL"), so a report or export with optional
    filters states them once as a table; a datetime is bound as the UTC text the columns store.
    """
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in filters:
        if value is not None:
            clauses.append(clause)
            params.append(to_db_time(value) if isinstance(value, datetime) else value)
    return clauses, params


def dumps(value: Mapping[str, Any] | None) -> str:
    """Compact JSON that keeps non-ASCII text readable (Spanish answers, names)."""
    return json.dumps(dict(value or {}), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    loaded = json.loads(value)
    return loaded if isinstance(loaded, dict) else {}


def _required_time(value: str) -> datetime:
    moment = from_db_time(value)
    assert moment is not None
    return moment


def _names(value: str | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in loads(value).items()}


# How the schema stores a field of each type (see 0001_initial.sql): what reading a column undoes.
_STORED_AS: dict[object, Callable[[Any], Any]] = {
    datetime: _required_time,  # UTC text
    datetime | None: from_db_time,
    bool: bool,  # 0/1
    dict[str, Any]: loads,  # JSON objects
    dict[str, float]: loads,
    dict[str, str]: _names,
}


def mapper(
    model: type[M], *, prefix: str = "", joined: tuple[str, ...] = (), **decoders: Callable[[Any], Any]
) -> Callable[..., M]:
    """Row -> *model* for a row whose columns are named like the model's fields (after *prefix*): a table's
    own columns, or a report query's aliases.

    Each column is decoded by its field's type (_STORED_AS), so a new column is one field in the model;
    *decoders* name the exceptions (an int field filled by a float TOTAL). The *joined* fields (the last
    ones) are not columns of the row: the caller passes them after it. One itemgetter reads the columns and
    the model is built positionally: cheaper per row than one keyword argument per field.
    """
    names = [f.name for f in fields(cast(Any, model))]
    columns = names[: len(names) - len(joined)]
    assert tuple(names[len(columns) :]) == joined, f"{model.__name__}: joined fields must come last"
    assert len(columns) > 1, "itemgetter of one column returns the bare value, not a tuple"
    assert not set(decoders) - set(columns), f"{model.__name__} has no column {sorted(decoders)}"
    types = get_type_hints(model)
    read = itemgetter(*(prefix + name for name in columns))
    decode = [
        (i, decoder)
        for i, name in enumerate(columns)
        if (decoder := decoders.get(name) or _STORED_AS.get(types[name])) is not None
    ]

    def build(row: Row, *joined_values: Any) -> M:
        values = list(read(row))
        for i, decoder in decode:
            values[i] = decoder(values[i])
        return model(*values, *joined_values)

    return build


customer = mapper(Customer)
touchpoint = mapper(Touchpoint)
event = mapper(TouchpointEvent)
survey = mapper(Survey)
analysis = mapper(AnalysisRecord)

ANSWER_WITH_ANALYSIS = """
    SELECT a.*, n.id AS an_id, n.answer_id AS an_answer_id, n.model_id AS an_model_id,
           n.model_version AS an_model_version, n.sentiment AS an_sentiment,
           n.sentiment_scores AS an_sentiment_scores, n.sentiment_score AS an_sentiment_score,
           n.emotion AS an_emotion, n.emotion_scores AS an_emotion_scores, n.analysed_at AS an_analysed_at
    FROM answers AS a LEFT JOIN analyses AS n ON n.id = a.current_analysis_id
"""
# The current analysis as ANSWER_WITH_ANALYSIS joins it (an_ columns; all NULL when there is none).
_current_analysis = mapper(AnalysisRecord, prefix="an_")
_answer = mapper(Answer, joined=("analysis",))


def answer(row: Row, *, with_analysis: bool = False) -> Answer:
    """With *with_analysis*, the row comes from ANSWER_WITH_ANALYSIS and carries the current analysis."""
    current = _current_analysis(row) if with_analysis and row["an_id"] is not None else None
    return _answer(row, current)


alert = mapper(Alert)
staff_member = mapper(StaffMember)
audit_entry = mapper(AuditEntry)
