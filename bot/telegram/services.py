"""The long-lived resources one running bot owns, opened in post_init and closed in post_shutdown, and the
typed context through which handlers reach them.

``context.services`` (a PTB custom ``CallbackContext``, as in PTB's contexttypesbot example) replaces string
keys in ``bot_data``: mypy and a reader can follow a handler to the engine. Nothing here is a module-level
singleton, so two Applications (a restart test, the demo) never share state by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.accounts.service import Accounts
from bot.config import Settings
from bot.conversation.engine import SurveyEngine
from bot.conversation.wiring import CxServices
from bot.outreach.dispatch import Outreach
from bot.outreach.invitations import Invitations
from bot.outreach.wire import WireJournal
from bot.recovery.alerts import Recovery
from sentiment import Classifier
from storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    classifier: Classifier
    cx: CxServices
    # Whether post_shutdown closes the classifier (False when a caller lent us a preloaded one).
    owns_classifier: bool = True

    @property
    def accounts(self) -> Accounts:
        return self.cx.accounts

    @property
    def engine(self) -> SurveyEngine:
        return self.cx.engine

    @property
    def outreach(self) -> Outreach:
        return self.cx.outreach

    @property
    def invitations(self) -> Invitations:
        return self.cx.invitations

    @property
    def recovery(self) -> Recovery:
        return self.cx.recovery


class BotData:
    """The Application's ``bot_data``: what the composition root was given, and what post_init opened."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        # A preloaded classifier a caller lends us (tests, demo); post_shutdown leaves it open.
        self.lent_classifier: Classifier | None = None
        self.services: Services | None = None
        # Where invitations that really left for Telegram are noted (bot.outreach.wire).
        self.wire: WireJournal | None = None
        # Outreach ticks so far (the clock retries failed analyses every few ticks).
        self.ticks = 0


class MomentoContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """Every handler's and job's context."""

    @property
    def services(self) -> Services:
        return services_of(self.bot_data)


CONTEXT_TYPES = ContextTypes(context=MomentoContext, bot_data=BotData)
# PTB's builder does not carry every type parameter through; the two that handlers rely on are exact.
MomentoApplication = Application[Any, MomentoContext, Any, Any, BotData, Any]


def services_of(bot_data: BotData) -> Services:
    if bot_data.services is None:
        raise RuntimeError("Momento services are not open yet (post_init has not run)")
    return bot_data.services


def services(application: MomentoApplication) -> Services:
    """The Services of a running Application (tests, the runner)."""
    return services_of(application.bot_data)
