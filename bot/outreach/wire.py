"""Which invitations actually left for Telegram: one line per survey, appended the moment its request goes
on the wire (after the rate limiter's wait, not when the send began).

An invitation whose send began but never reached the wire before a kill -9 (it was waiting for a slot of
Telegram's 30 messages a second) certainly never arrived: it is sent again at once instead of waiting a day
for its reminder. Only one whose request did go out may have arrived, and stays "delivery unconfirmed".
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_INVITATION = re.compile(r'"sv:([1-9][0-9]{0,17}):yes"')


class WireJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def beside(cls, database: str | Path) -> WireJournal | None:
        path = Path(str(database))
        return None if path.name == ":memory:" else cls(path.with_name(path.name + ".wire"))

    def record_markup(self, markup_json: str) -> None:
        """Called with a sendMessage's reply_markup just before the request is written to the socket."""
        ids = _INVITATION.findall(markup_json)
        if not ids:
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._fd, "".join(f"{survey_id}\n" for survey_id in ids).encode())

    def sent(self) -> set[int]:
        """The surveys whose invitation (or reminder) request went out, as far as the journal knows."""
        if not self.path.exists():
            return set()
        lines = self.path.read_text(encoding="ascii", errors="ignore").splitlines()
        return {int(line) for line in lines if line.isdigit()}

    def forget(self) -> None:
        """After a restart has judged the previous run's sends: start a fresh journal."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)
