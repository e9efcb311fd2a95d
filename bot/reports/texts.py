"""Staff-facing wording of the reports (English, or Spanish for staff whose Telegram is in Spanish).

The texts are the ``reports.*`` messages of the gettext catalogues in ``bot/locale`` (see :mod:`bot.i18n`).
"""

from __future__ import annotations

from bot.i18n import Catalogue

REPORTS = Catalogue("reports")
