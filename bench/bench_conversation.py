"""Conversation benchmark: simulated customers answering surveys through the real Application, the Bot API
emulator over HTTP and the real classifier.

    python -m bench.bench_conversation --customers 1000 --concurrency 50

Each customer is linked, gets an invitation from the outreach clock, then answers: [Sure] → expectation →
experience → rating button → thanks. Turn latency = the update entering the emulator's queue → the bot's
reply reaching the emulator. Answers lost = answers the customers gave that the database does not hold.
Customers take --think seconds (uniform 0.5x-1.5x) to read and type each answer; --think 0 measures the
worst case of answers fired back instantly. Per-chat pacing is off (nobody types faster than 1 message/s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EXPECTATIONS = [
    "I hoped it would arrive before noon.",
    "I expected the parcel to be well packed.",
    "Esperaba que llegara el martes.",
    "Quick delivery, as promised on the website.",
    "Esperaba un trato amable.",
]


def _is_spanish(text: str) -> bool:
    return any(word in text for word in ("Esperaba", "Llegó", "Todo"))


EXPERIENCES = [
    "It came early and the driver was lovely.",
    "Everything was perfect, thank you!",
    "Llegó a tiempo y en perfecto estado.",
    "Fine, nothing special but on time.",
    "Todo bien, muy amables.",
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(
    customers: int,
    concurrency: int,
    think: float,
    workdir: Path,
    *,
    webhooks: list[dict[str, Any]] | None = None,
    webhook_secrets: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One run; *webhooks* (bench/bench_webhooks.py) configures outgoing webhooks as [[webhooks]] would."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bot.config import Settings
    from bot.outreach.scheduling import schedule_survey
    from bot.telegram.app import build_application
    from bot.telegram.services import services
    from sentiment import ClassifierSettings, open_classifier
    from storage import customers as customer_repo
    from storage import events, touchpoints
    from tests.fakes.bot_api import BotApiEmulator

    emulator = BotApiEmulator()
    await emulator.start()
    settings = Settings(
        telegram={
            "token": emulator.token,
            "base_url": emulator.base_url,
            "base_file_url": emulator.base_file_url,
            "staff_chat_id": -100100,
            "per_chat_interval": 0,
        },
        storage={"path": str(workdir / "bench.db")},
        survey={"tick_interval": "1h", "default_timezone": "UTC"},
        touchpoints=[{"key": "delivery", "names": {"en": "delivery", "es": "entrega"}, "invite_delay": "2h"}],
        webhooks=webhooks or [],
        webhook_secrets=webhook_secrets or {},
    )
    loaded = time.perf_counter()
    classifier = await open_classifier(ClassifierSettings())
    print(f"classifier loaded in {time.perf_counter() - loaded:.1f} s")
    app = build_application(settings, classifier=classifier)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=10)
    await app.start()
    try:
        db = services(app).db
        noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        outreach = services(app).outreach
        outreach.clock = lambda: noon
        touchpoint = await touchpoints.get_touchpoint(db, "delivery")
        assert touchpoint is not None
        sent_before = len(emulator.calls)  # the app's own clock may already send some while we set up
        for n in range(customers):
            user_id = 10_000 + n
            customer = await customer_repo.upsert_customer(db, f"bench-{n}")
            await customer_repo.link_telegram(
                db,
                customer.id,
                telegram_user_id=user_id,
                telegram_chat_id=user_id,
                display_name=f"C{n}",
                language="es" if n % 2 else "en",
            )
            await customer_repo.grant_consent(db, customer.id)
            event, _ = await events.record_event(
                db,
                external_id=f"bench-{n}",
                customer_id=customer.id,
                touchpoint_id=touchpoint.id,
                occurred_at=noon - timedelta(hours=2),
                attributes={},
            )
            await schedule_survey(db, settings, event=event, now=noon)
            emulator.user(user_id, f"C{n}", language_code="es" if n % 2 else "en")
        started = time.perf_counter()
        while (await outreach.tick()).invited:
            pass

        invite_seconds = time.perf_counter() - started
        invitations = {
            call.chat_id: call
            for call in emulator.calls[sent_before:]
            if call.method == "sendMessage" and call.ok and call.button_data()
        }
        latencies: list[float] = []
        completed = 0
        gate = asyncio.Semaphore(concurrency)
        rng = random.Random(7)

        by_kind: dict[str, list[float]] = {}

        async def turn(user_id: int, act: Any, kind: str = "") -> Any:
            if think > 0:
                await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))  # reading and typing
            mark = len(emulator.calls)
            pushed = time.monotonic()
            act()
            reply = await emulator.wait_for_call(
                "sendMessage", lambda call: call.chat_id == user_id, timeout=60, after=mark
            )
            latencies.append(reply.at - pushed)
            by_kind.setdefault(kind, []).append(reply.at - pushed)
            return reply

        async def customer_session(user_id: int) -> None:
            nonlocal completed
            user = emulator.users[user_id]
            invitation = invitations[user_id]
            async with gate:
                yes = next(d for d in invitation.button_data() if d.endswith(":yes"))
                await turn(user_id, lambda: user.press(yes, message_id=invitation.message_id), "sure")
                # Each customer writes in the language of their Telegram app: the bot answers in the language
                # written, so a customer switching language mid-survey would get a one-off notice first.
                spanish = user.language_code == "es"
                expectations = [t for t in EXPECTATIONS if _is_spanish(t) == spanish]
                experiences = [t for t in EXPERIENCES if _is_spanish(t) == spanish]
                await turn(user_id, lambda: user.send_text(rng.choice(expectations)), "expectation")
                rating_q = await turn(user_id, lambda: user.send_text(rng.choice(experiences)), "experience")
                stars = rng.choice((4, 5))
                choices = [d for d in rating_q.button_data() if d.endswith(f":r{stars}")]
                if not choices:
                    raise RuntimeError(f"expected the rating question, got {rating_q.plain_text!r}")
                data = choices[0]
                thanks = await turn(
                    user_id, lambda: user.press(data, message_id=rating_q.message_id), "rating"
                )
                if "🙏" in (thanks.plain_text or ""):
                    completed += 1

        started = time.perf_counter()
        await asyncio.gather(*(customer_session(user_id) for user_id in invitations))
        elapsed = time.perf_counter() - started
        row = await db.fetch_one("SELECT COUNT(*) AS n FROM answers")
        stored = int(row["n"]) if row else 0
        given = 3 * len(invitations)
        analysed = await db.fetch_one("SELECT COUNT(*) AS n FROM answers WHERE analysis_state = 'done'")
        webhooks_found: dict[str, int] = {}
        if webhooks:
            for _ in range(600):  # the clock sends what is left (at most a minute)
                left = await db.fetch_one(
                    "SELECT COUNT(*) AS n FROM webhook_outbox WHERE delivered_at IS NULL"
                )
                if left is not None and left["n"] == 0:
                    break
                await asyncio.sleep(0.1)
            counted = await db.fetch_one(
                "SELECT COUNT(*) AS n, SUM(CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END) AS d "
                "FROM webhook_outbox"
            )
            assert counted is not None
            webhooks_found = {
                "webhook_events": int(counted["n"]),
                "webhook_delivered": int(counted["d"] or 0),
            }
        return {
            **webhooks_found,
            "customers": customers,
            "concurrency": concurrency,
            "think_seconds": think,
            "invitations": len(invitations),
            "invite_seconds": round(invite_seconds, 2),
            "completed": completed,
            "seconds": round(elapsed, 2),
            "completed_per_second": round(completed / elapsed, 2),
            "turns": len(latencies),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1),
            "p95_ms_by_turn": {kind: round(percentile(v, 0.95) * 1000, 1) for kind, v in by_kind.items()},
            "answers_given": given,
            "answers_stored": stored,
            "answers_lost": given - stored,
            "answers_analysed": int(analysed["n"]) if analysed else 0,
        }
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        await classifier.aclose()
        await emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50, help="customers typing at the same time")
    parser.add_argument("--think", type=float, default=3.0, help="mean seconds a customer takes per answer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = asyncio.run(run(args.customers, args.concurrency, args.think, Path(workdir)))
    for key, value in result.items():
        print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
