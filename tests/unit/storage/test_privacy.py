"""A customer's data rights: erasure leaves nothing personal behind but keeps reports countable; export
gives the customer everything we hold about them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import alerts, answers, audit, customers, events, privacy, surveys, touchpoints
from storage.db import Database
from storage.models import NotFoundError, TouchpointSpec
from tests.support.postgres import BOTH_ENGINES

AT = datetime(2026, 2, 10, 15, 0, tzinfo=UTC)
NAME = "Valentina Quesada"
USER_ID = 734_519_882
CRM_ID = "crm-ZX-99817"
ORDER_ID = "ORD-55120931"
TEXTS = (
    "Esperaba el paquete el lunes",
    "Llegó roto y el repartidor Ramiro fue grosero",
    "Llamadme al 600123456",
)
OTHER_TEXTS = ("Nada especial", "Todo correcto", "No hace falta")
NOTE = f"Called {NAME}, refund promised"


@dataclass(frozen=True)
class Reading:
    sentiment: str = "negative"
    emotion: str = "anger"
    model_id: str = "m"
    model_version: str = "1"

    @property
    def sentiment_scores(self) -> dict[str, float]:
        return {"negative": 0.9, "neutral": 0.05, "positive": 0.05}

    @property
    def emotion_scores(self) -> dict[str, float]:
        return {"anger": 0.8, "sadness": 0.2}


@dataclass(frozen=True)
class Seeded:
    customer_id: int
    other_id: int
    path: Path


async def seed_customer(
    db: Database,
    external_id: str,
    user_id: int,
    name: str,
    tp_id: int,
    order_id: str = ORDER_ID,
    texts: tuple[str, str, str] = TEXTS,
) -> int:
    customer = await customers.upsert_customer(db, external_id, display_name=name, timezone="America/Bogota")
    await customers.link_telegram(
        db, customer.id, telegram_user_id=user_id, telegram_chat_id=user_id, display_name=name, language="es"
    )
    event, _ = await events.record_event(
        db,
        external_id=f"{external_id}-{order_id}",
        customer_id=customer.id,
        touchpoint_id=tp_id,
        occurred_at=AT,
        attributes={"order_id": order_id, "address": f"Calle 8 #12 for {name}", "amount": 120.5},
    )
    survey, _ = await surveys.create_survey(
        db,
        customer_id=customer.id,
        touchpoint_id=tp_id,
        event_id=event.id,
        kind="touchpoint",
        status="scheduled",
        scheduled_at=AT,
        expires_at=AT + timedelta(days=2),
        language="es",
    )
    await surveys.update_survey(
        db,
        survey.id,
        status="completed",
        step="done",
        invitation_message_id=4411,
        state={"expectation": texts[0], "name": name},
        last_error=f"earlier failure writing to {name}",
    )
    for number, (question, text, rating) in enumerate(
        (
            ("expectation", texts[0], None),
            ("experience", texts[1], None),
            ("rating", None, 1),
            ("callback", texts[2], None),
        )
    ):
        stored, _ = await answers.record_answer(
            db,
            survey_id=survey.id,
            customer_id=customer.id,
            touchpoint_id=tp_id,
            question=question,
            text=text,
            rating=rating,
            language="es",
            chat_id=user_id,
            message_id=900 + number,
            received_at=AT + timedelta(minutes=number),
        )
        if text:
            await answers.save_analysis(db, stored.id, Reading())
    alert, _ = await alerts.open_alert(
        db,
        survey_id=survey.id,
        customer_id=customer.id,
        touchpoint_id=tp_id,
        reason="low_rating",
        severity="high",
        callback_requested=True,
    )
    await alerts.mark_posted(db, alert.id, -100200, 5151, AT)
    await alerts.resolve(db, alert.id, 77, AT + timedelta(hours=3), notes=f"Called {name}, refund promised")
    return customer.id


@pytest.fixture
async def seeded(storage_target: str | Path) -> AsyncIterator[tuple[Database, Seeded]]:
    path = storage_target
    db = await Database.open(path)
    [tp] = await touchpoints.sync_touchpoints(
        db, [TouchpointSpec("delivery", {"en": "delivery"}, "direct", 3, 1.5, "courier")]
    )
    customer_id = await seed_customer(db, CRM_ID, USER_ID, NAME, tp.id)
    other_id = await seed_customer(
        db, "crm-other", 111_222, "Otro Cliente", tp.id, order_id="ORD-1", texts=OTHER_TEXTS
    )
    yield db, Seeded(customer_id, other_id, path)
    await db.close()


async def all_text_in_database(target: str | Path) -> str:
    """Every value of every column of every row, as text: what a reader of the database could find."""
    async with await Database.open(target) as db:
        listing = (
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
            if db.engine == "postgresql"
            else "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
        chunks = []
        for table in [row["name"] for row in await db.fetch_all(listing)]:
            for row in await db.fetch_all(f'SELECT * FROM "{table}"'):
                chunks.extend(str(value) for value in tuple(row) if value is not None)
        return "\n".join(chunks)


@BOTH_ENGINES
async def test_erasure_clears_every_personal_column_of_the_customer(seeded: tuple[Database, Seeded]) -> None:
    db, s = seeded
    await privacy.erase_customer(db, s.customer_id, actor="telegram:900")

    customer = await db.fetch_one("SELECT * FROM customers WHERE id = ?", (s.customer_id,))
    assert customer is not None
    assert customer["external_id"] == f"erased:{s.customer_id}"
    for column in ("telegram_user_id", "telegram_chat_id", "display_name", "timezone"):
        assert customer[column] is None, column
    assert customer["erased_at"] is not None and customer["consent"] == "opted_out"

    for row in await db.fetch_all("SELECT * FROM touchpoint_events WHERE customer_id = ?", (s.customer_id,)):
        assert row["external_id"] == f"erased:{row['id']}"
        assert json.loads(row["attributes"]) == {}
    for row in await db.fetch_all("SELECT * FROM surveys WHERE customer_id = ?", (s.customer_id,)):
        assert json.loads(row["state"]) == {}
        for column in ("step", "invitation_message_id", "last_error"):
            assert row[column] is None, column
    rows = await db.fetch_all("SELECT * FROM answers WHERE customer_id = ?", (s.customer_id,))
    assert len(rows) == 4
    for row in rows:
        for column in ("text", "chat_id", "message_id"):
            assert row[column] is None, column
    for row in await db.fetch_all("SELECT * FROM alerts WHERE customer_id = ?", (s.customer_id,)):
        for column in ("notes", "posted_message_id"):
            assert row[column] is None, column

    # Every column the module declares personal was checked above.
    checked = {
        "customers": {"external_id", "telegram_user_id", "telegram_chat_id", "display_name", "timezone"},
        "touchpoint_events": {"external_id", "attributes"},
        "surveys": {"state", "step", "invitation_message_id", "last_error"},
        "answers": {"text", "chat_id", "message_id"},
        "alerts": {"notes", "posted_message_id"},
    }
    assert {table: set(columns) for table, columns in privacy.ERASED_COLUMNS.items()} == checked


@BOTH_ENGINES
async def test_no_trace_of_the_erased_customer_is_left_anywhere_in_the_file(
    seeded: tuple[Database, Seeded],
) -> None:
    db, s = seeded
    before = await all_text_in_database(s.path)
    personal = [NAME, str(USER_ID), CRM_ID, ORDER_ID, f"Calle 8 #12 for {NAME}", *TEXTS, NOTE, "Valentina"]
    assert all(value in before for value in personal)  # the search would find them

    await privacy.erase_customer(db, s.customer_id, actor="cli")
    await db.close()
    reopened = await Database.open(s.path)  # checkpoint: nothing only in the WAL
    await reopened.close()

    after = await all_text_in_database(s.path)
    for value in personal:
        assert value not in after, value
    # The other customer is untouched.
    assert "Otro Cliente" in after and "crm-other" in after and OTHER_TEXTS[1] in after


async def test_erased_values_are_not_left_in_the_raw_bytes_of_the_files(
    seeded: tuple[Database, Seeded],
) -> None:
    """Not only invisible to queries: freed space and the WAL are overwritten too."""
    db, s = seeded
    personal = [NAME, CRM_ID, ORDER_ID, *TEXTS, NOTE]

    def raw() -> bytes:
        files = [s.path, Path(f"{s.path}-wal")]
        return b"".join(path.read_bytes() for path in files if path.exists())

    assert all(value.encode() in raw() for value in personal)
    await privacy.erase_customer(db, s.customer_id, actor="cli")

    data = raw()
    for value in personal:
        assert value.encode() not in data, value
    assert OTHER_TEXTS[1].encode() in data


@BOTH_ENGINES
async def test_erased_answers_stay_countable_for_reports(seeded: tuple[Database, Seeded]) -> None:
    db, s = seeded

    async def counts() -> tuple[object, ...]:
        row = await db.fetch_one(
            """SELECT COUNT(*), TOTAL(a.rating), SUM(n.sentiment = 'negative'), SUM(n.emotion = 'anger'),
                      COUNT(DISTINCT a.touchpoint_id), MIN(a.received_at)
               FROM answers a LEFT JOIN analyses n ON n.id = a.current_analysis_id WHERE a.customer_id = ?""",
            (s.customer_id,),
        )
        assert row is not None
        alert = await db.fetch_one(
            "SELECT severity, status, created_at, resolved_at FROM alerts WHERE customer_id = ?",
            (s.customer_id,),
        )
        assert alert is not None
        return (*tuple(row), *tuple(alert))

    before = await counts()
    await privacy.erase_customer(db, s.customer_id, actor="cli")
    assert await counts() == before


@BOTH_ENGINES
async def test_a_self_service_erasure_leaves_no_telegram_id_in_the_audit_log(
    seeded: tuple[Database, Seeded],
) -> None:
    db, s = seeded
    await privacy.export_customer(db, s.customer_id, actor=f"telegram:{USER_ID}")
    await privacy.erase_customer(db, s.customer_id, actor=f"telegram:{USER_ID}")

    entries = await audit.list_entries(db)
    assert [(e.actor, e.action) for e in entries] == [
        (f"customer:{s.customer_id}", "customer.erase"),
        (f"customer:{s.customer_id}", "customer.export"),
    ]
    assert str(USER_ID) not in await all_text_in_database(s.path)


@BOTH_ENGINES
async def test_erasure_is_audited_and_repeatable(seeded: tuple[Database, Seeded]) -> None:
    db, s = seeded
    await privacy.erase_customer(db, s.customer_id, actor="telegram:900")
    await privacy.erase_customer(db, s.customer_id, actor="telegram:900")

    entries = await audit.list_entries(db)
    assert [(e.actor, e.action, e.subject, e.details) for e in entries] == [
        ("telegram:900", "customer.erase", f"customer:{s.customer_id}", {"already_erased": True}),
        ("telegram:900", "customer.erase", f"customer:{s.customer_id}", {"already_erased": False}),
    ]
    customer = await customers.get_customer(db, s.customer_id)
    assert customer is not None and not customer.reachable
    with pytest.raises(NotFoundError):
        await privacy.erase_customer(db, 99_999, actor="cli")


@BOTH_ENGINES
async def test_an_erased_customer_who_writes_again_starts_as_a_stranger(
    seeded: tuple[Database, Seeded],
) -> None:
    db, s = seeded
    await privacy.erase_customer(db, s.customer_id, actor="cli")

    again = await customers.ensure_telegram_customer(
        db, telegram_user_id=USER_ID, telegram_chat_id=USER_ID, display_name="V", language="es"
    )

    assert again.id != s.customer_id
    assert await answers.answers_for_customer(db, again.id) == []
    # A stale deep link to the erased record cannot attach the person to it again.
    with pytest.raises(NotFoundError, match="erased"):
        await customers.link_telegram(
            db,
            s.customer_id,
            telegram_user_id=USER_ID,
            telegram_chat_id=USER_ID,
            display_name=NAME,
            language="es",
        )
    still = await customers.get_by_telegram_user(db, USER_ID)
    assert still is not None and still.id == again.id


@BOTH_ENGINES
async def test_export_holds_everything_about_the_customer_and_nothing_else(
    seeded: tuple[Database, Seeded],
) -> None:
    db, s = seeded
    exported = await privacy.export_customer(db, s.customer_id)
    assert [(e.actor, e.action) for e in await audit.list_entries(db)] == [
        (f"customer:{s.customer_id}", "customer.export")
    ]
    text = json.dumps(exported, ensure_ascii=False)  # JSON-ready: no datetime or other objects

    assert exported["customer"]["display_name"] == NAME
    assert exported["customer"]["external_id"] == CRM_ID
    assert [e["attributes"]["order_id"] for e in exported["events"]] == [ORDER_ID]
    assert [sv["status"] for sv in exported["surveys"]] == ["completed"]
    assert [a["text"] for a in exported["answers"]] == [TEXTS[0], TEXTS[1], None, TEXTS[2]]
    assert [len(a["analyses"]) for a in exported["answers"]] == [1, 1, 0, 1]
    assert exported["answers"][1]["analyses"][0]["sentiment"] == "negative"
    assert exported["alerts"][0]["notes"] == NOTE
    assert exported["answers"][0]["received_at"] == "2026-02-10T15:00:00.000000Z"
    assert "Otro Cliente" not in text and "crm-other" not in text


async def test_erasure_during_a_streaming_export_completes_and_a_later_checkpoint_finishes_the_scrub(
    seeded: tuple[Database, Seeded],
) -> None:
    db, s = seeded
    stream = db.iterate("SELECT id, text FROM answers ORDER BY id", batch=1)
    first = await anext(stream)  # an export is half-way: its read snapshot predates the erasure
    assert first is not None

    await privacy.erase_customer(db, s.customer_id, actor="cli")  # does not fail, does not hang
    remaining = [row async for row in stream]
    assert remaining  # the export finished on its own snapshot

    assert await db.checkpoint() is True
    data = b"".join(p.read_bytes() for p in (s.path, Path(f"{s.path}-wal")) if p.exists())
    for value in (NAME, *TEXTS):
        assert value.encode() not in data, value
