"""Themes: what customers talk about per touchpoint, computed on the clock and read by /themes and /quotes.

Runs are calendar buckets of the company's time zone (weeks from Monday, months), so "change vs the
previous period" compares two stored runs and /themes reads a handful of rows whatever the answer count.
The current week and month are recomputed every ``[themes] interval``; a finished bucket is computed once
more after it ends, then left alone.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from bot.config import Settings
from bot.i18n import translate
from bot.reports.charts import BAD, PLAIN, Bar, Chart, Legend, horizontal_bars
from bot.reports.common import Report, ReportError, chart_title, known_tiers, touchpoint_ids, touchpoint_name
from bot.reports.periods import Period
from bot.reports.texts import REPORTS
from sentiment.themes import DeclaredTheme, Grouping, ThemeSettings, group_answers
from storage import themes as theme_repo
from storage.db import Database

# What /themes accepts as a period, and which bucket kind each names.
THEME_PERIODS = {"this-week": "week", "last-week": "week", "this-month": "month", "last-month": "month"}
DEFAULT_THEME_PERIOD = "this-week"
TOP_THEMES = 8
QUOTE_CHARS = 200

# Encodes phrases (text, language) with the classifier: one vector per phrase, None when it has none.
Encode = Callable[[Sequence[str], Sequence[str | None]], Awaitable[Sequence[np.ndarray | None]]]


# -- buckets ---------------------------------------------------------------------------------------


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def bucket(kind: str, now: datetime, timezone: str, *, back: int = 0) -> Period:
    """The calendar week or month holding *now* (local time), or the one *back* buckets before it."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    if kind == "week":
        monday = today - timedelta(days=today.weekday() + 7 * back)
        return Period(_midnight(monday, zone), _midnight(monday + timedelta(days=7), zone), kind)
    index = today.year * 12 + today.month - 1 - back
    first = date(index // 12, index % 12 + 1, 1)
    following = date((index + 1) // 12, (index + 1) % 12 + 1, 1)
    return Period(_midnight(first, zone), _midnight(following, zone), kind)


# -- computing (the clock) -------------------------------------------------------------------------


def declared_themes(settings: Settings, touchpoint: str | None) -> list[DeclaredTheme]:
    """A touchpoint's declared themes; for all answers (None), every touchpoint's, merged by key."""
    merged: dict[str, DeclaredTheme] = {}
    for tp in settings.touchpoints:
        if touchpoint is not None and tp.key != touchpoint:
            continue
        for theme in tp.themes:
            known = merged.get(theme.key)
            examples = {lang: list(phrases) for lang, phrases in theme.examples.items()}
            if known is not None:
                for lang, phrases in known.examples.items():
                    examples[lang] = [*phrases, *examples.get(lang, [])]
            merged[theme.key] = DeclaredTheme(theme.key, dict(theme.names), examples)
    return list(merged.values())


class ExampleVectors:
    """Vectors of the declared example phrases, encoded once per process (the config rarely changes)."""

    def __init__(self, encode: Encode) -> None:
        self.encode = encode
        self._cache: dict[tuple[str, str], np.ndarray | None] = {}

    async def of(self, themes: Sequence[DeclaredTheme]) -> dict[str, list[tuple[str, np.ndarray]]]:
        wanted = [
            (phrase, lang)
            for theme in themes
            for lang, phrases in theme.examples.items()
            for phrase in phrases
            if phrase.strip() and (phrase, lang) not in self._cache
        ]
        if wanted:
            found = await self.encode([p for p, _ in wanted], [lang for _, lang in wanted])
            for key, vector in zip(wanted, found, strict=True):
                self._cache[key] = vector
        result: dict[str, list[tuple[str, np.ndarray]]] = {}
        for theme in themes:
            for lang, phrases in theme.examples.items():
                for phrase in phrases:
                    vector = self._cache.get((phrase, lang))
                    if vector is not None:
                        result.setdefault(theme.key, []).append((lang, vector))
        return result


async def compute_run(
    db: Database,
    settings: Settings,
    examples: ExampleVectors,
    touchpoint: str | None,
    period: Period,
    *,
    model_id: str | None,
    now: datetime,
) -> int:
    """Group one touchpoint's (None: all) answers of one bucket and store the run; returns its id."""
    ids = await touchpoint_ids(db)
    tp_id = ids.get(touchpoint) if touchpoint is not None else None
    if touchpoint is not None and tp_id is None:
        return 0
    loaded = await theme_repo.vectorised_answers(
        db, tp_id, period.start, period.end, model_id=model_id, all_touchpoints=touchpoint is None
    )
    found = loaded.answers
    declared = declared_themes(settings, touchpoint)
    vectors = await examples.of(declared) if declared else {}
    known = await theme_repo.known_centroids(
        db, tp_id, period.label, period.start, runs=settings.themes.alert_baseline_weeks
    )
    config = settings.themes
    grouping: Grouping = await asyncio.to_thread(
        group_answers,
        [a.text for a in found],
        [a.language for a in found],
        loaded.vectors if found else np.zeros((0, 1), dtype=np.float32),
        declared=declared,
        declared_vectors=vectors,
        known=known,
        settings=ThemeSettings(
            declared_threshold=config.declared_threshold,
            max_themes=config.max_themes,
            min_theme_size=config.min_theme_size,
        ),
    )
    rows = [
        theme_repo.ThemeRow(
            key=theme.key,
            kind=theme.kind,
            names=theme.names,
            words=theme.words,
            answer_ids=[found[i].answer_id for i in theme.members],
            negative=sum(1 for i in theme.members if found[i].negative),
            representative_answer_id=found[theme.representative].answer_id
            if theme.representative is not None
            else None,
            centroid=theme.centroid,
            tiers=_tier_counts(found, theme.members, theme.representative),
        )
        for theme in grouping.themes
    ]
    return await theme_repo.save_run(
        db, tp_id, period.label, period.start, period.end, rows, answers=len(found), computed_at=now
    )


def _tier_counts(
    found: Sequence[theme_repo.VectorisedAnswer], members: Sequence[int], representative: int | None
) -> dict[str, tuple[int, int, int | None]]:
    """Per tier: answers, negative ones, and the quote (the representative if of that tier, else the
    tier's first member)."""
    counts: dict[str, tuple[int, int, int | None]] = {}
    for i in members:
        answer = found[i]
        answers, negative, quote = counts.get(answer.tier, (0, 0, None))
        if quote is None or i == representative:
            quote = answer.answer_id
        counts[answer.tier] = (answers + 1, negative + int(answer.negative), quote)
    return counts


async def compute_due(
    db: Database, settings: Settings, examples: ExampleVectors, *, model_id: str | None, now: datetime
) -> list[int]:
    """The clock's pass: this week's and month's runs for all answers and each touchpoint, and last
    week's and month's once more if they were last computed before they ended."""
    runs: list[int] = []
    zone = settings.survey.default_timezone
    for touchpoint in [None, *(tp.key for tp in settings.touchpoints)]:
        ids = await touchpoint_ids(db)
        tp_id = ids.get(touchpoint) if touchpoint is not None else None
        for kind in ("week", "month"):
            # The weeks the alert baseline reads (last month for months), computed once after they ended.
            depth = settings.themes.alert_baseline_weeks if kind == "week" else 1
            for back in range(depth, 0, -1):
                previous = bucket(kind, now, zone, back=back)
                stored = await theme_repo.run_at(db, tp_id, kind, previous.start)
                if stored is None or stored.computed_at < previous.end:
                    runs.append(
                        await compute_run(
                            db, settings, examples, touchpoint, previous, model_id=model_id, now=now
                        )
                    )
            current = bucket(kind, now, zone)
            runs.append(
                await compute_run(db, settings, examples, touchpoint, current, model_id=model_id, now=now)
            )
    return [run for run in runs if run]


# -- /themes ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThemeLine:
    theme: theme_repo.StoredTheme
    previous: int | None  # answers in the previous bucket's theme of the same key (None: not there)


@dataclass(frozen=True, slots=True)
class ThemesResult:
    touchpoint: str | None
    tier: str | None
    period: Period
    label: str
    run: theme_repo.ThemeRun | None
    lines: list[ThemeLine]


async def parse_themes_request(
    db: Database, settings: Settings, args: Sequence[str], *, language: str
) -> tuple[str | None, str, str | None]:
    """(touchpoint, period label, tier) from ``/themes [touchpoint] [period] [tier]`` in any order."""
    keys = [tp.key for tp in settings.touchpoints]
    tiers = await known_tiers(db, settings)
    touchpoint: str | None = None
    label: str | None = None
    tier: str | None = None
    for raw in args:
        value = raw.strip()
        lowered = value.lower()
        if not value:
            continue
        if lowered in THEME_PERIODS and label is None:
            label = lowered
        elif lowered in keys and touchpoint is None:
            touchpoint = lowered
        elif lowered in [t.lower() for t in tiers] and tier is None:
            tier = next(t for t in tiers if t.lower() == lowered)
        else:
            raise ReportError(
                translate(
                    REPORTS,
                    "themes_usage",
                    language,
                    value=html.escape(value[:40]),
                    touchpoints=", ".join(keys) or "–",
                    periods=", ".join(THEME_PERIODS),
                    tiers=html.escape(", ".join(tiers)) or "–",
                )
            )
    return touchpoint, label or DEFAULT_THEME_PERIOD, tier


async def build_themes(
    db: Database,
    settings: Settings,
    touchpoint: str | None,
    label: str,
    tier: str | None,
    *,
    now: datetime,
) -> ThemesResult:
    """Read the stored run of the bucket and the one before it: a few rows, whatever the answer count."""
    kind = THEME_PERIODS[label]
    back = 1 if label.startswith("last-") else 0
    period = bucket(kind, now, settings.survey.default_timezone, back=back)
    ids = await touchpoint_ids(db)
    tp_id = ids.get(touchpoint) if touchpoint is not None else None
    run = await theme_repo.run_at(db, tp_id, kind, period.start)
    if run is None:
        return ThemesResult(touchpoint, tier, period, label, None, [])
    themes = await theme_repo.run_themes(db, run.run_id, tier=tier)
    before = await theme_repo.run_at(
        db, tp_id, kind, bucket(kind, now, settings.survey.default_timezone, back=back + 1).start
    )
    earlier = (
        {t.key: t.answers for t in await theme_repo.run_themes(db, before.run_id, tier=tier)}
        if before
        else {}
    )
    lines = [ThemeLine(theme, earlier.get(theme.key) if before else None) for theme in themes]
    return ThemesResult(touchpoint, tier, period, label, run, lines)


def theme_name(theme: theme_repo.StoredTheme, language: str) -> str:
    return theme.names.get(language) or theme.names.get("en") or ", ".join(theme.words) or theme.key


def render_themes(result: ThemesResult, settings: Settings, language: str) -> Report:
    """Top themes: answers, share negative, change vs the previous bucket, one escaped quote, a chart."""
    name = (
        touchpoint_name(settings, result.touchpoint, language)
        if result.touchpoint
        else translate(REPORTS, "themes_all", language)
    )
    tier = f" · {html.escape(result.tier)}" if result.tier else ""
    lines = [
        f"<b>{translate(REPORTS, 'themes_title', language, name=name, period=result.label)}{tier}</b>",
        "",
    ]
    if result.run is None or not result.lines:
        lines.append(translate(REPORTS, "themes_none", language))
        return Report("\n".join(lines))
    total = max(sum(line.theme.answers for line in result.lines), 1)
    shown = result.lines[:TOP_THEMES]
    for rank, line in enumerate(shown, start=1):
        theme = line.theme
        negative = round(100 * theme.negative / theme.answers) if theme.answers else 0
        if line.previous is None:
            change = translate(REPORTS, "themes_new", language)
        else:
            delta = theme.answers - line.previous
            change = translate(REPORTS, "themes_change", language, delta=f"{delta:+d}")
        lines.append(
            translate(
                REPORTS,
                "themes_row",
                language,
                rank=rank,
                name=html.escape(theme_name(theme, language)),
                key=html.escape(theme.key),
                count=theme.answers,
                share=round(100 * theme.answers / total),
                negative=negative,
                change=change,
            )
        )
        if theme.quote:
            quote = theme.quote if len(theme.quote) <= QUOTE_CHARS else theme.quote[: QUOTE_CHARS - 1] + "…"
            lines.append(f"   “{html.escape(quote)}”")
    key = result.touchpoint or "&lt;touchpoint&gt;"
    lines += ["", translate(REPORTS, "themes_next", language, key=key, theme=html.escape(shown[0].theme.key))]
    return Report("\n".join(lines), _chart(result, settings, language, shown))


def _chart(result: ThemesResult, settings: Settings, language: str, shown: Sequence[ThemeLine]) -> Chart:
    bars = [
        Bar(
            html.unescape(theme_name(line.theme, language))[:40],
            float(line.theme.answers),
            note=f"{round(100 * line.theme.negative / max(line.theme.answers, 1))}% −",
            color=BAD if line.theme.negative * 2 > line.theme.answers else PLAIN,
        )
        for line in shown
    ]
    title = chart_title(settings, translate(REPORTS, "themes_chart", language), result.period, language)
    return horizontal_bars(
        title,
        bars,
        xlabel=translate(REPORTS, "themes_axis", language),
        legend=[
            Legend(BAD, translate(REPORTS, "themes_legend_negative", language)),
            Legend(PLAIN, translate(REPORTS, "themes_legend_other", language)),
        ],
        filename="themes.png",
    )


# -- /quotes <touchpoint> theme:<key> --------------------------------------------------------------


async def theme_quotes_report(
    db: Database, settings: Settings, touchpoint: str | None, key: str, *, now: datetime, language: str
) -> Report:
    """More answers of one theme of this week's run (or last week's when this week has none)."""
    ids = await touchpoint_ids(db)
    tp_id = ids.get(touchpoint) if touchpoint is not None else None
    zone = settings.survey.default_timezone
    for back in (0, 1):
        period = bucket("week", now, zone, back=back)
        run = await theme_repo.run_at(db, tp_id, "week", period.start)
        if run is None:
            continue
        themes = {t.key: t for t in await theme_repo.run_themes(db, run.run_id)}
        if key not in themes:
            continue
        quotes = await theme_repo.theme_quotes(db, run.run_id, key, limit=10)
        name = (
            touchpoint_name(settings, touchpoint, language)
            if touchpoint
            else translate(REPORTS, "themes_all", language)
        )
        lines = [
            "<b>"
            + translate(
                REPORTS,
                "themes_quotes_title",
                language,
                name=name,
                theme=html.escape(theme_name(themes[key], language)),
                period="this-week" if back == 0 else "last-week",
            )
            + "</b>",
            "",
        ]
        lines += [
            f"“{html.escape(q if len(q) <= QUOTE_CHARS else q[: QUOTE_CHARS - 1] + '…')}”" for q in quotes
        ]
        return Report("\n".join(lines))
    raise ReportError(translate(REPORTS, "themes_unknown", language, theme=html.escape(key[:40])))


# -- theme alerts ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThemeSpike:
    """A theme whose negative answers this week are well beyond its own baseline (or a new negative one)."""

    touchpoint: str | None
    period: Period
    theme: theme_repo.StoredTheme
    baseline: float  # mean negative answers per week over the baseline weeks
    new: bool
    quotes: list[str]

    @property
    def claim_key(self) -> str:
        """One card per theme, touchpoint and week: a spike that keeps growing is not posted again."""
        return f"theme_alert:{self.touchpoint or '*'}:{self.theme.key}:{self.period.start.date().isoformat()}"


async def theme_spikes(db: Database, settings: Settings, *, now: datetime) -> list[ThemeSpike]:
    """The rule, over the stored week runs of each touchpoint: negative answers this week >=
    max(alert_min_negative, alert_growth x the mean over the alert_baseline_weeks before), or, for a
    theme absent from all those weeks, >= alert_new_theme_min."""
    config = settings.themes
    zone = settings.survey.default_timezone
    ids = await touchpoint_ids(db)
    spikes: list[ThemeSpike] = []
    for tp in settings.touchpoints:
        tp_id = ids.get(tp.key)
        if tp_id is None:
            continue
        period = bucket("week", now, zone)
        run = await theme_repo.run_at(db, tp_id, "week", period.start)
        if run is None:
            continue
        history: list[dict[str, int]] = []
        for back in range(1, config.alert_baseline_weeks + 1):
            earlier = await theme_repo.run_at(db, tp_id, "week", bucket("week", now, zone, back=back).start)
            if earlier is not None:
                history.append({t.key: t.negative for t in await theme_repo.run_themes(db, earlier.run_id)})
        for theme in await theme_repo.run_themes(db, run.run_id):
            seen = any(theme.key in week for week in history)
            baseline = sum(week.get(theme.key, 0) for week in history) / config.alert_baseline_weeks
            if seen:
                spike = theme.negative >= max(config.alert_min_negative, config.alert_growth * baseline)
            else:
                spike = theme.negative >= config.alert_new_theme_min
            if spike:
                quotes = await theme_repo.theme_quotes(db, run.run_id, theme.key, limit=3, negative_only=True)
                spikes.append(ThemeSpike(tp.key, period, theme, baseline, not seen, quotes))
    return spikes


def theme_alert_card(spike: ThemeSpike, settings: Settings, language: str) -> str:
    """The card posted to the touchpoint's team chat: counts, the baseline, up to three escaped quotes."""
    name = touchpoint_name(settings, spike.touchpoint, language)
    lines = [
        translate(
            REPORTS,
            "theme_alert_new" if spike.new else "theme_alert_spike",
            language,
            name=name,
            theme=html.escape(theme_name(spike.theme, language)),
            negative=spike.theme.negative,
            count=spike.theme.answers,
            baseline=f"{spike.baseline:.1f}",
        ),
        "",
    ]
    lines += [
        f"“{html.escape(q if len(q) <= QUOTE_CHARS else q[: QUOTE_CHARS - 1] + '…')}”" for q in spike.quotes
    ]
    lines += [
        "",
        translate(
            REPORTS, "themes_next", language, key=spike.touchpoint or "", theme=html.escape(spike.theme.key)
        ),
    ]
    return "\n".join(lines)


def theme_alert_data(spike: ThemeSpike) -> dict[str, object]:
    """The ``theme.alert`` webhook payload."""
    return {
        "key": spike.theme.key,
        "kind": spike.theme.kind,
        "names": spike.theme.names,
        "words": spike.theme.words,
        "touchpoint": spike.touchpoint,
        "period_start": spike.period.start.isoformat(),
        "answers": spike.theme.answers,
        "negative": spike.theme.negative,
        "baseline": spike.baseline,
        "new": spike.new,
    }


# -- matching one answer (the theme-specific follow-up) ---------------------------------------------

# Below this many stored answers of a language its mean is not trusted: the answer is compared uncentred.
MIN_ANSWERS_FOR_FRAME = 20


async def match_declared_theme(
    db: Database,
    settings: Settings,
    examples: ExampleVectors,
    touchpoint: str,
    vector: np.ndarray,
    language: str | None,
    *,
    model_id: str,
) -> str | None:
    """The touchpoint's declared theme one answer talks about, or None. The answer and the example phrases
    are centred on their language's mean over recent stored answers (raw multilingual vectors sit close
    together whatever they say), then the nearest example must reach ``[themes] followup_threshold``."""
    declared = declared_themes(settings, touchpoint)
    if not declared:
        return None
    vectors = await examples.of(declared)
    means = await theme_repo.language_means(db, model_id)

    def centred(raw: np.ndarray, lang: str | None) -> np.ndarray:
        unit = np.asarray(raw, dtype=np.float32) / max(float(np.linalg.norm(raw)), 1e-12)
        frame = means.get((lang or "und").split("-")[0].lower())
        if frame is not None and frame[1] >= MIN_ANSWERS_FOR_FRAME:
            unit = unit - frame[0]
        return unit / max(float(np.linalg.norm(unit)), 1e-12)

    answer = centred(vector, language)
    best_key, best = None, -2.0
    for theme in declared:
        for lang, example in vectors.get(theme.key, ()):
            similarity = float(answer @ centred(example, lang))
            if similarity > best:
                best_key, best = theme.key, similarity
    return best_key if best >= settings.themes.followup_threshold else None


# -- themes in /summary <touchpoint> and the digest ------------------------------------------------------


async def theme_lines(
    db: Database, settings: Settings, touchpoint: str | None, *, now: datetime, language: str, limit: int = 3
) -> list[str]:
    """A short "top themes this week" block from the stored run; nothing when themes are off or not run."""
    if not settings.themes.enabled:
        return []
    result = await build_themes(db, settings, touchpoint, DEFAULT_THEME_PERIOD, None, now=now)
    if result.run is None or not result.lines:
        return []
    lines = ["", translate(REPORTS, "themes_summary_header", language)]
    for line in result.lines[:limit]:
        theme = line.theme
        lines.append(
            translate(
                REPORTS,
                "themes_summary_row",
                language,
                name=html.escape(theme_name(theme, language)),
                count=theme.answers,
                negative=round(100 * theme.negative / theme.answers) if theme.answers else 0,
            )
        )
    return lines
