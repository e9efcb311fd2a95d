"""The CX services one running bot (or the demo, or a test) owns, built in one place with one messenger.

The Telegram composition root, ``momento demo`` and ``momento chat`` all call :func:`build_cx_services`, so
the engine, the outreach clock and deep links share one send protocol and one recovery desk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.accounts.service import Accounts
from bot.config import Settings
from bot.conversation.engine import SurveyEngine
from bot.conversation.replies import Replies
from bot.messaging import Messenger
from bot.outreach.dispatch import Outreach
from bot.outreach.invitations import Invitations
from bot.outreach.webhooks import WebhookSender
from bot.recovery.alerts import Recovery
from sentiment import Classifier
from storage.db import Database, utcnow


@dataclass(frozen=True, slots=True)
class CxServices:
    accounts: Accounts
    invitations: Invitations
    outreach: Outreach
    recovery: Recovery
    engine: SurveyEngine
    replies: Replies
    # Outgoing webhooks, sent by the clock (bot.outreach.webhooks).
    webhooks: WebhookSender


def build_cx_services(
    db: Database,
    settings: Settings,
    classifier: Classifier,
    messenger: Messenger,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> CxServices:
    accounts = Accounts(db, settings, clock)
    invitations = Invitations(db, settings, messenger)
    recovery = Recovery(db, settings, messenger, clock)
    outreach = Outreach(db, settings, messenger, clock, invitations=invitations)
    replies = Replies(db, messenger)
    engine = SurveyEngine(
        db,
        settings,
        classifier,
        messenger,
        clock=clock,
        accounts=accounts,
        recovery=recovery,
        invitations=invitations,
        replies=replies,
    )
    webhooks = WebhookSender(db, settings, clock)
    return CxServices(accounts, invitations, outreach, recovery, engine, replies, webhooks)
