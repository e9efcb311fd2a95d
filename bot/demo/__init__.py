"""`momento demo`: the whole job on one machine, without Telegram.

A fresh database, the sample touchpoint map, simulated customers (English and Spanish) who buy online, get a
delivery and sometimes call support, and answer the bot through the production engine, storage and
classifier; then the staff reports, charts, a CSV export and the conversations, written to one folder.
"""

from __future__ import annotations

import random
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from bot.config import LinkSettings, Settings, StorageSettings
from bot.demo.outputs import Outputs, write_outputs
from bot.demo.simulation import STAFF_CHAT_ID, STAFF_USER_ID, DemoStats, Persona, Simulation, demo_window
from bot.demo.simulation import make_personas as make_personas
from sentiment import Classifier

SAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config.example.toml"
DB_NAME = "momento-demo.db"


@dataclass
class DemoResult:
    out_dir: Path
    db_path: Path
    stats: DemoStats
    outputs: Outputs
    transcripts: Path
    sample_conversation: list[str] = field(default_factory=list)


def demo_settings(db_path: Path) -> Settings:
    """The sample config with the demo's own database, staff chat and signing key.

    The demo shortens the frequency cap to a day so every step of a journey gets its survey; everything else
    is the shipped sample. Forced after loading, so no MOMENTO_* variable can point the demo at a real file.
    """
    data = tomllib.loads(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    settings = Settings(**data)
    telegram = settings.telegram.model_copy(
        update={"staff_chat_id": STAFF_CHAT_ID, "admin_user_ids": [STAFF_USER_ID], "per_chat_interval": 0.0}
    )
    survey = settings.survey.model_copy(update={"frequency_cap": timedelta(days=1)})
    return settings.model_copy(
        update={
            "storage": StorageSettings(path=db_path),
            "telegram": telegram,
            "survey": survey,
            "links": LinkSettings(signing_key=SecretStr(secrets.token_urlsafe(32))),
        }
    )


CONFIG_NAME = "config.toml"


def write_folder_config(out_dir: Path) -> Path:
    """The sample config pointing at the demo's database, beside it: ``momento export`` (and every other
    command) then works in the demo's folder as it is."""
    text = SAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace('path = "momento.db"', f'path = "{DB_NAME}"', 1)
    path = out_dir / CONFIG_NAME
    path.write_text(text, encoding="utf-8")
    return path


def _fresh(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def _sample(personas: list[Persona], transcripts: dict[int, list[str]]) -> list[str]:
    """A conversation worth reading: a Spanish customer whose delivery went wrong, else the longest."""
    for persona in personas:
        lines = transcripts.get(persona.user_id, [])
        if persona.language == "es" and persona.moods.get("delivery") == "bad" and len(lines) >= 8:
            return lines
    return max(transcripts.values(), key=len, default=[])


async def run_demo(
    *,
    customers: int = 200,
    out_dir: Path,
    days: int = 45,
    seed: int = 7,
    classifier: Classifier | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Simulate *customers* over the last *days* days and write the results to *out_dir*."""
    from bot.api import ingest
    from bot.conversation.analysis import retry_pending
    from sentiment import open_classifier
    from storage.db import Database

    out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
    db_path = out_dir / DB_NAME
    _fresh(db_path)
    settings = demo_settings(db_path)
    start, end = demo_window(days, now=now)
    personas = make_personas(random.Random(seed), customers, start=start, days=days)
    model = classifier if classifier is not None else await open_classifier(settings.sentiment)
    try:
        async with await Database.open(db_path) as db:
            await ingest.sync_configured_touchpoints(db, settings)
            simulation = Simulation(db, settings, model, personas, start=start, end=end, seed=seed)
            stats = await simulation.run(progress)
            await retry_pending(db, model)
            outputs = await write_outputs(db, settings, out_dir, now=end)
    finally:
        if classifier is None:
            await model.aclose()
    write_folder_config(out_dir)
    transcripts = out_dir / "conversations.txt"
    with transcripts.open("w", encoding="utf-8") as handle:
        handle.write(
            "# Every simulated conversation; times in UTC (invitations keep each customer's quiet hours)\n\n"
        )
        for persona in personas:
            lines = simulation.messenger.transcripts.get(persona.user_id)
            if lines:
                handle.write(
                    f"## {persona.name} ({persona.external_id}, {persona.language}, {persona.tier})\n"
                )
                handle.write("\n".join(lines) + "\n\n")
    return DemoResult(
        out_dir=out_dir,
        db_path=db_path,
        stats=stats,
        outputs=outputs,
        transcripts=transcripts,
        sample_conversation=_sample(personas, simulation.messenger.transcripts),
    )


__all__ = ["DemoResult", "demo_settings", "run_demo"]
