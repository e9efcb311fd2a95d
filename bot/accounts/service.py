"""The customer's account as the customer sees it: who they are to us, linking, consent, language, opt-out,
erasure and their own data — one place, so the dialogue never touches account rows itself."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot.accounts.links import LinkError, verify_start_payload
from bot.config import Settings
from bot.i18n import pick_language
from bot.messaging import Sender
from storage import customers as customer_repo
from storage import outreach as outreach_repo
from storage import privacy
from storage import surveys as survey_repo
from storage.db import Database, utcnow
from storage.models import Customer, NotFoundError, SurveyStatus

log = logging.getLogger(__name__)

OPEN: tuple[SurveyStatus, ...] = ("invited", "in_progress")


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """What a /start link did: the linked customer and the event it names (None when refused), and the
    language to answer in."""

    customer: Customer | None
    language: str
    event_id: int | None = None
    # Why a genuine link was refused: used by another account, or revoked by a fresh one.
    refused: Literal["taken", "revoked"] | None = None


@dataclass
class Accounts:
    db: Database
    settings: Settings
    clock: Callable[[], datetime] = utcnow

    async def customer_for(self, sender: Sender) -> Customer:
        """The customer behind a Telegram user, created and linked on first contact."""
        found = await customer_repo.get_by_telegram_user(self.db, sender.user_id)
        if found is not None and found.telegram_chat_id == sender.chat_id and found.unreachable_at is None:
            return found
        language = pick_language(sender.language_code) if sender.language_code else None
        return await customer_repo.ensure_telegram_customer(
            self.db,
            telegram_user_id=sender.user_id,
            telegram_chat_id=sender.chat_id,
            display_name=sender.display_name,
            language=language,
        )

    def language_of(self, customer: Customer, sender: Sender | None = None) -> str:
        return pick_language(
            customer.language,
            sender.language_code if sender else None,
            default=self.settings.survey.default_language,
        )

    async def language_for(self, sender: Sender) -> str:
        """The language to answer *sender* in (creating their customer row on first contact)."""
        customer = await customer_repo.get_by_telegram_user(self.db, sender.user_id)
        if customer is None:
            customer = await self.customer_for(sender)
        return self.language_of(customer, sender)

    async def link(self, sender: Sender, payload: str) -> LinkOutcome:
        """A signed /start payload connects this chat to the customer it names and grants consent."""
        language = pick_language(sender.language_code, default=self.settings.survey.default_language)
        try:
            target = verify_start_payload(self.settings.links.signing_key, payload, now=self.clock())
        except LinkError as exc:
            log.info("refused a /start link from user %s: %s", sender.user_id, exc.problem)
            return LinkOutcome(None, language)
        customer = await customer_repo.get_customer(self.db, target.customer_id)
        if customer is None or customer.erased_at is not None:
            return LinkOutcome(None, language)
        try:
            claim = await customer_repo.claim_link(
                self.db,
                customer.id,
                generation=target.generation,
                telegram_user_id=sender.user_id,
                telegram_chat_id=sender.chat_id,
                display_name=sender.display_name,
                language=language if sender.language_code else None,
            )
        except NotFoundError:  # erased in the meantime
            return LinkOutcome(None, language)
        if claim.outcome in ("taken", "revoked"):
            log.warning(
                "refused a /start link for customer %s from user %s: %s",
                customer.id,
                sender.user_id,
                "already used by another account" if claim.outcome == "taken" else "a newer link was issued",
            )
            return LinkOutcome(None, language, refused=claim.outcome)
        customer = await customer_repo.grant_consent(self.db, claim.customer.id)
        await outreach_repo.schedule_after_linking(self.db, customer.id, now=self.clock())  # waiting events
        return LinkOutcome(customer, self.language_of(customer, sender), target.event_id)

    async def set_language(self, customer: Customer, language: str) -> Customer:
        """/language: the customer's choice, and the rest of an open survey follows it."""
        customer = await customer_repo.set_language(self.db, customer.id, language)
        survey = await survey_repo.active_survey_for_customer(self.db, customer.id)
        if survey is not None:
            await survey_repo.update_survey_if(self.db, survey.id, OPEN, language=language)
        return customer

    async def opt_out(self, customer: Customer, at: datetime) -> None:
        await customer_repo.opt_out(self.db, customer.id, at)
        await outreach_repo.close_open_surveys(self.db, customer.id)

    async def erase(self, customer: Customer) -> None:
        await outreach_repo.close_open_surveys(self.db, customer.id)
        await privacy.erase_customer(self.db, customer.id, actor=f"telegram:{customer.telegram_user_id}")

    async def export(self, customer: Customer) -> dict[str, Any]:
        return await privacy.export_customer(self.db, customer.id)
