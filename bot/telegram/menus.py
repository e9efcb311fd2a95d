"""The command menus Telegram shows: customers in private chats, staff in the staff chat and admins' chats.

The descriptions are the ``menu.*`` messages of the catalogues in ``bot/locale`` (see :mod:`bot.i18n`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import Catalogue, translate

MENU = Catalogue("menu")


@dataclass(frozen=True, slots=True)
class MenuEntry:
    command: str
    # Its text is menu.<key>: the command's name, unless one command means two things (the staff /help).
    key: str = ""

    @property
    def text_key(self) -> str:
        return self.key or self.command

    def description(self, language: str) -> str:
        return translate(MENU, self.text_key, language)


CUSTOMER_MENU: tuple[MenuEntry, ...] = (
    MenuEntry("start"),
    MenuEntry("help"),
    MenuEntry("language"),
    MenuEntry("mydata"),
    MenuEntry("delete"),
    MenuEntry("stop"),
)

STAFF_MENU: tuple[MenuEntry, ...] = (
    MenuEntry("summary"),
    MenuEntry("touchpoints"),
    MenuEntry("journey"),
    MenuEntry("segments"),
    MenuEntry("alerts"),
    MenuEntry("customer"),
    MenuEntry("quotes"),
    MenuEntry("help", "staff_help"),
)

ADMIN_MENU: tuple[MenuEntry, ...] = (
    *STAFF_MENU,
    MenuEntry("export"),
    MenuEntry("staff"),
)
