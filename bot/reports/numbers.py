"""Number formatting for phones: one decimal, percentages as such, signed changes, Spanish decimal comma."""

from __future__ import annotations

from collections.abc import Sequence


def _decimal(text: str, language: str) -> str:
    return text.replace(".", ",") if language == "es" else text


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def count(value: int, language: str = "en") -> str:
    """20088 -> '20,088' ('20.088' in Spanish): big counts stay readable on a phone."""
    text = f"{value:,}"
    return text.replace(",", ".") if language == "es" else text


def pct(value: float | None, language: str = "en") -> str:
    """0.725 -> '72.5%' ('72,5 %' in Spanish); None -> '–'."""
    if value is None:
        return "–"
    text = _decimal(f"{value * 100:.1f}", language)
    return f"{text} %" if language == "es" else f"{text}%"


def number(value: float | None, digits: int = 1, language: str = "en") -> str:
    if value is None:
        return "–"
    return _decimal(f"{value:.{digits}f}", language)


def signed(value: float | None, digits: int = 2, language: str = "en") -> str:
    """Scores in [-1, 1] with their sign, using a real minus sign so it reads well on a phone."""
    if value is None:
        return "–"
    text = _decimal(f"{abs(value):.{digits}f}", language)
    if round(value, digits) == 0:
        return text
    return ("+" if value > 0 else "−") + text


def change_points(now: float | None, before: float | None, language: str = "en") -> str:
    """Change of a share in percentage points: '▲ +2.5 pts', '▼ −1.0 pts', '= 0.0 pts'; '' if unknown."""
    if now is None or before is None:
        return ""
    delta = (now - before) * 100
    unit = "pp" if language == "es" else "pts"
    shown = _decimal(f"{abs(delta):.1f}", language)
    if round(delta, 1) == 0:
        return f"= 0{',' if language == 'es' else '.'}0 {unit}"
    return f"{'▲ +' if delta > 0 else '▼ −'}{shown} {unit}"


def change_value(now: float | None, before: float | None, digits: int = 2, language: str = "en") -> str:
    if now is None or before is None:
        return ""
    delta = now - before
    if round(delta, digits) == 0:
        return "= " + _decimal(f"{0:.{digits}f}", language)
    return ("▲ " if delta > 0 else "▼ ") + signed(delta, digits, language)


def change_count(now: int, before: int, language: str = "en") -> str:
    if before == 0:
        return ""
    delta = (now - before) / before
    if round(delta * 100, 1) == 0:
        return "= 0%"
    return ("▲ +" if delta > 0 else "▼ −") + pct(abs(delta), language)


def duration(seconds: float | None, language: str = "en") -> str:
    """Resolution times: '45m', '4h 20m', '2d 3h'."""
    if seconds is None:
        return "–"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}m" if language != "es" else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m" if language != "es" else f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if language != "es" else f"{days} d {hours} h"


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
