"""The dialogue engine: one customer message or button press in, the next messages out.

Each turn reads the survey row, stores the answers (idempotent per Telegram message), classifies them,
decides the next step and writes step + state back with a compare-and-set, all under a per-customer lock so
two quick messages from one person never race. Nothing here imports telegram.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import script
from bot.accounts.service import Accounts
from bot.config import Settings
from bot.conversation.analysis import analyse_answers
from bot.conversation.understanding import mentions_expectation, read_message, read_yes_no
from bot.messaging import (
    IncomingPress,
    IncomingText,
    Messenger,
    OutgoingMessage,
    PressResult,
    Sender,
    SurveyPress,
    decode,
)
from bot.outreach.invitations import Invitations
from bot.outreach.scheduling import DEFAULT_EXPIRY
from bot.recovery.alerts import NEGATIVE_EMOTIONS, Recovery, severity_of
from bot.script import phrase
from sentiment import Analysis, Classifier
from storage import answers as answer_repo
from storage import surveys as survey_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database, utcnow
from storage.models import AnalysisRecord, Answer, Customer, Survey, SurveyStatus

log = logging.getLogger(__name__)

CORE = ("expectation", "experience", "rating")
TEXT_STEPS = ("expectation", "experience", "improvement")
OPEN: tuple[SurveyStatus, ...] = ("invited", "in_progress")


def next_step(state: dict[str, Any]) -> str:
    """The first thing the survey does not have yet; keys present with None were skipped."""
    for question in CORE:
        if question not in state:
            return question
    if state.get("negative"):
        for question in ("improvement", "callback"):
            if question not in state:
                return question
    return "done"


def is_negative(state: dict[str, Any]) -> bool:
    rating = state.get("rating")
    return (
        (isinstance(rating, int) and rating <= 2)
        or state.get("experience_sentiment") == "negative"
        or state.get("experience_emotion") in NEGATIVE_EMOTIONS
    )


@dataclass(frozen=True, slots=True)
class _Piece:
    question: str
    text: str | None = None
    rating: int | None = None


class SurveyEngine:
    """Drives every survey dialogue; see the package docstring for the port."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        classifier: Classifier,
        messenger: Messenger,
        *,
        clock: Callable[[], datetime] = utcnow,
        accounts: Accounts | None = None,
        recovery: Recovery | None = None,
        invitations: Invitations | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.classifier = classifier
        self.messenger = messenger
        self.clock = clock
        self.accounts = accounts or Accounts(db, settings)
        self.recovery = recovery or Recovery(db, settings, messenger, clock)
        self.invitations = invitations or Invitations(db, settings, messenger)
        self._locks: dict[int, asyncio.Lock] = {}

    # -- customers ---------------------------------------------------------------------------------------

    def _lock(self, user_id: int) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            if len(self._locks) > 10_000:
                self._locks = {uid: held for uid, held in self._locks.items() if held.locked()}
            lock = self._locks[user_id] = asyncio.Lock()
        return lock

    async def _send(self, message: OutgoingMessage) -> int | None:
        try:
            return await self.messenger.send(message)
        except Exception as exc:
            # The answer is stored already; a lost reply must not turn into a lost answer.
            log.warning("reply to chat %s not sent: %s", message.chat_id, exc)
            return None

    # -- incoming text --------------------------------------------------------------------------------------

    async def on_text(self, message: IncomingText) -> None:
        async with self._lock(message.sender.user_id):
            customer = await self.accounts.customer_for(message.sender)
            limit = self.settings.survey.max_answer_chars
            text, truncated = message.text, len(message.text) > limit
            if truncated:
                text = text[:limit]
            language = self.accounts.language_of(customer, message.sender)
            if await answer_repo.message_seen(self.db, message.sender.chat_id, message.message_id):
                return  # the same update again (redelivered after a restart): already answered
            survey = await survey_repo.active_survey_for_customer(self.db, customer.id)
            if truncated:
                await self._send(
                    OutgoingMessage(message.sender.chat_id, phrase("too_long", language, limit=limit))
                )
            if survey is None:
                await self._unsolicited(customer, message, text, truncated, language)
                return
            await self._answer(survey, customer, message, text, truncated)

    async def _unsolicited(
        self, customer: Customer, message: IncomingText, text: str, truncated: bool, language: str
    ) -> None:
        answer, created = await answer_repo.record_answer(
            self.db,
            survey_id=None,
            customer_id=customer.id,
            touchpoint_id=None,
            question="unsolicited",
            text=text,
            rating=None,
            language=language,
            truncated=truncated,
            chat_id=message.sender.chat_id,
            message_id=message.message_id,
            received_at=message.at,
        )
        if not created:
            return
        await self._send(OutgoingMessage(message.sender.chat_id, phrase("unsolicited_thanks", language)))
        await analyse_answers(self.db, self.classifier, [answer])

    def _pieces(self, step: str, state: dict[str, Any], text: str) -> tuple[list[_Piece], bool | None]:
        """Which questions one message answers (and, at the invitation, whether it was a plain yes/no)."""
        reading = read_message(text, rating_expected=step == "rating")
        pieces: list[_Piece] = []
        if reading.rating is not None and state.get("rating") is None:
            pieces.append(_Piece("rating", rating=reading.rating))
        if step == "invitation" and reading.rating is None and len(text.split()) <= 3:
            answer = read_yes_no(text)
            if answer is not None:
                return [], answer
        if step == "callback":
            answer = read_yes_no(text)
            if answer is not None:
                return [*pieces, _Piece("callback", text=None, rating=None)], answer
        if (
            reading.expectation
            and reading.experience
            and "expectation" not in state
            and "experience" not in state
        ):
            pieces.append(_Piece("expectation", reading.expectation))
            pieces.append(_Piece("experience", reading.experience))
            return pieces, None
        if reading.text:
            pieces.append(_Piece(self._target(step, state, reading.text), reading.text))
        return pieces, None

    @staticmethod
    def _target(step: str, state: dict[str, Any], text: str) -> str:
        """The open text question a free message answers: the current one, else the next one missing."""
        if step == "invitation":
            step = "expectation" if mentions_expectation(text) else "experience"
        order = [q for q in TEXT_STEPS if q != "improvement" or state.get("negative")]
        start = order.index(step) if step in order else 0
        return next((q for q in order[start:] if q not in state), "comment")

    async def _answer(
        self, survey: Survey, customer: Customer, message: IncomingText, text: str, truncated: bool
    ) -> None:
        step = survey.step or "invitation"
        state = dict(survey.state)
        pieces, yes_no = self._pieces(step, state, text)
        language = survey.language or self.accounts.language_of(customer, message.sender)
        if step == "invitation" and yes_no is not None and not pieces:
            await self._invitation_choice(
                survey, customer, "yes" if yes_no else "later", language, message.at
            )
            return
        if step == "callback" and yes_no is not None:
            state["callback"] = yes_no
        stored: list[Answer] = []
        for piece in pieces:
            if piece.question == "callback":
                continue
            answer, created = await answer_repo.record_answer(
                self.db,
                survey_id=survey.id,
                customer_id=customer.id,
                touchpoint_id=survey.touchpoint_id,
                question=piece.question,
                text=piece.text,
                rating=piece.rating,
                language=language,
                truncated=truncated and piece.text is not None,
                chat_id=message.sender.chat_id,
                message_id=message.message_id,
                received_at=message.at,
            )
            if not created:
                return  # the same Telegram message again (a redelivered update): already handled
            stored.append(answer)
            if piece.question != "comment":
                state[piece.question] = piece.rating if piece.question == "rating" else answer.id
        await self._advance(survey, customer, state, stored, language, message.at, hint_step=step)

    async def _advance(
        self,
        survey: Survey,
        customer: Customer,
        state: dict[str, Any],
        stored: list[Answer],
        language: str,
        at: datetime,
        *,
        hint_step: str | None = None,
    ) -> None:
        step_before = survey.step or "invitation"
        upcoming = next_step(state)
        read: set[int] = set()
        if "negative" not in state and all(question in state for question in CORE):
            # The branch needs the experience's reading: the only model call a customer waits for.
            read = await self._read_experience(state, stored)
            state["negative"] = is_negative(state)
            upcoming = next_step(state)
        key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
        done = upcoming == "done"
        updated = await survey_repo.update_survey_if(
            self.db,
            survey.id,
            OPEN,
            status="completed" if done else "in_progress",
            step=upcoming,
            state=state,
            language=language,
            started_at=survey.started_at or at,
            completed_at=at if done else None,
        )
        if updated is None:
            await self._send(OutgoingMessage(self._chat(customer), phrase("survey_closed", language)))
            return
        if state.get("negative") and (step_before != upcoming or "callback" in state):
            await self._alert(updated, state)
        if hint_step == upcoming == "rating":
            await self._send(
                OutgoingMessage(
                    self._chat(customer), phrase("rating_hint", language), script.rating_buttons(survey.id)
                )
            )
            return
        if hint_step == upcoming == "callback" and "callback" not in state:
            await self._send(
                OutgoingMessage(
                    self._chat(customer),
                    phrase("callback_hint", language),
                    script.callback_buttons(survey.id, language),
                )
            )
            return
        await self._send(script.question(self.settings, updated, customer, key, language, upcoming))
        await self._classify_later(stored, read)

    async def _classify_later(self, stored: list[Answer], read: set[int]) -> None:
        """Answers are stored before anything else, so classifying after the reply loses nothing and keeps
        the model off the customer's wait."""
        await analyse_answers(self.db, self.classifier, [a for a in stored if a.id not in read])

    async def _read_experience(self, state: dict[str, Any], stored: list[Answer]) -> set[int]:
        """Put the experience answer's sentiment and emotion into the state (classifying it if needed)."""
        experience_id = state.get("experience")
        if not isinstance(experience_id, int):
            return set()
        answer = next((a for a in stored if a.id == experience_id), None)
        if answer is None:
            answer = await answer_repo.get_answer(self.db, experience_id)
        if answer is None:
            return set()
        analysis: Analysis | AnalysisRecord | None = answer.analysis
        if analysis is None:
            analysis = (await analyse_answers(self.db, self.classifier, [answer])).get(answer.id)
        if analysis is not None:
            state["experience_sentiment"] = analysis.sentiment
            state["experience_emotion"] = analysis.emotion
        return {answer.id}

    async def _alert(self, survey: Survey, state: dict[str, Any]) -> None:
        rating = state.get("rating")
        reason, severity = severity_of(
            rating if isinstance(rating, int) else None,
            state.get("experience_sentiment"),
            state.get("experience_emotion"),
        )
        try:
            await self.recovery.open(
                survey_id=survey.id,
                customer_id=survey.customer_id,
                touchpoint_id=survey.touchpoint_id,
                reason=reason,
                severity=severity,
                callback_requested=state.get("callback") is True,
            )
        except Exception:
            # The unposted alert is retried by the clock; the customer's dialogue goes on.
            log.exception("alert for survey %s not opened", survey.id)

    @staticmethod
    def _chat(customer: Customer) -> int:
        assert customer.telegram_chat_id is not None
        return customer.telegram_chat_id

    # -- buttons --------------------------------------------------------------------------------------------

    async def on_press(self, press: IncomingPress) -> PressResult:
        parsed = decode(press.data)
        if not isinstance(parsed, SurveyPress):
            return PressResult()
        survey_id, action = parsed.survey_id, parsed.action
        async with self._lock(press.sender.user_id):
            customer = await self.accounts.customer_for(press.sender)
            survey = await survey_repo.get_survey(self.db, survey_id)
            language = self.accounts.language_of(customer, press.sender)
            if survey is not None and survey.customer_id == customer.id:
                survey = await self.invitations.confirm_by_press(survey, customer, press.message_id) or survey
            if survey is None or survey.customer_id != customer.id or survey.status not in OPEN:
                return PressResult(phrase("survey_closed", language))
            language = survey.language or language
            if action in ("yes", "later", "never"):
                if (survey.step or "invitation") == "invitation" or action != "yes":
                    await self._invitation_choice(survey, customer, action, language, press.at)
                if press.message_id is not None:  # after the reply: the customer doesn't wait for it
                    await self.drop_buttons(customer, press.message_id)
                return PressResult()
            state = dict(survey.state)
            stored: list[Answer] = []
            if action in ("r1", "r2", "r3", "r4", "r5"):
                if state.get("rating") is not None:
                    return PressResult()
                answer, created = await answer_repo.record_answer(
                    self.db,
                    survey_id=survey.id,
                    customer_id=customer.id,
                    touchpoint_id=survey.touchpoint_id,
                    question="rating",
                    text=None,
                    rating=int(action[1:]),
                    language=language,
                    chat_id=press.sender.chat_id,
                    message_id=press.message_id,
                    received_at=press.at,
                )
                if not created:
                    return PressResult()
                state["rating"] = answer.rating
                stored.append(answer)
            elif action in ("cb1", "cb0"):
                if "callback" in state:
                    return PressResult()
                state["callback"] = action == "cb1"
            else:
                return PressResult()
            await self._advance(survey, customer, state, stored, language, press.at)
            if action in ("cb1", "cb0") and press.message_id is not None:
                await self.drop_buttons(customer, press.message_id)
            return PressResult()

    async def drop_buttons(self, customer: Customer, message_id: int) -> None:
        """Remove the buttons of a message the customer answered, so an old button can't be pressed twice."""
        try:
            await self.messenger.edit(self._chat(customer), message_id, None, ())
        except Exception as exc:
            log.debug("could not remove buttons from message %s: %s", message_id, exc)

    async def _invitation_choice(
        self, survey: Survey, customer: Customer, action: str, language: str, at: datetime
    ) -> None:
        chat = self._chat(customer)
        if action == "yes":
            state = dict(survey.state)
            upcoming = next_step(state)
            updated = await survey_repo.update_survey_if(
                self.db,
                survey.id,
                OPEN,
                status="in_progress",
                step=upcoming,
                started_at=at,
                language=language,
            )
            if updated is not None:
                key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
                await self._send(script.question(self.settings, updated, customer, key, language, upcoming))
            return
        await survey_repo.update_survey_if(self.db, survey.id, OPEN, status="declined", step=None)
        if action == "never":
            await self.accounts.opt_out(customer, at)
            await self._send(OutgoingMessage(chat, phrase("never", language)))
        else:
            await self._send(OutgoingMessage(chat, phrase("not_now", language)))

    # -- commands and other input ---------------------------------------------------------------------------

    async def on_skip(self, sender: Sender, *, at: datetime) -> None:
        """/skip: leave the current question unanswered and go on."""
        async with self._lock(sender.user_id):
            customer = await self.accounts.customer_for(sender)
            survey = await survey_repo.active_survey_for_customer(self.db, customer.id)
            language = self.accounts.language_of(customer, sender)
            if survey is None:
                await self._send(OutgoingMessage(sender.chat_id, phrase("skip_nothing", language)))
                return
            language = survey.language or language
            step = survey.step or "invitation"
            if step == "invitation":
                await self._invitation_choice(survey, customer, "later", language, at)
                return
            state = dict(survey.state)
            state[step] = False if step == "callback" else None
            await self._advance(survey, customer, state, [], language, at)

    async def on_non_text(self, sender: Sender) -> None:
        """Stickers, photos, voice, documents, locations: a polite nudge; the survey stays where it was."""
        customer = await self.accounts.customer_for(sender)
        await self._send(
            OutgoingMessage(sender.chat_id, phrase("non_text", self.accounts.language_of(customer, sender)))
        )

    async def on_edit(self, message: IncomingText) -> None:
        """An edited message updates the answers it carried (and their analysis)."""
        async with self._lock(message.sender.user_id):
            text = message.text[: self.settings.survey.max_answer_chars]
            updated = await answer_repo.update_answer_text(
                self.db,
                chat_id=message.sender.chat_id,
                message_id=message.message_id,
                text=text,
                edited_at=message.at,
            )
            if not updated:
                return
            await analyse_answers(self.db, self.classifier, updated)
            customer = await self.accounts.customer_for(message.sender)
            await self._send(
                OutgoingMessage(message.sender.chat_id, phrase("edited", self.accounts.language_of(customer)))
            )

    async def start_general(self, sender: Sender, *, at: datetime) -> None:
        """Feedback without a touchpoint ("tell us anything"), as the same short dialogue."""
        async with self._lock(sender.user_id):
            customer = await self.accounts.customer_for(sender)
            if await survey_repo.active_survey_for_customer(self.db, customer.id) is not None:
                return
            language = self.accounts.language_of(customer, sender)
            survey, _ = await survey_repo.create_survey(
                self.db,
                customer_id=customer.id,
                touchpoint_id=None,
                event_id=None,
                kind="general",
                status="scheduled",
                scheduled_at=at,
                expires_at=at + DEFAULT_EXPIRY,
                language=language,
            )
            updated = await survey_repo.update_survey(
                self.db,
                survey.id,
                status="in_progress",
                step="expectation",
                invited_at=at,
                started_at=at,
            )
            await self._send(script.question(self.settings, updated, customer, None, language, "expectation"))
