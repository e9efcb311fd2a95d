"""The dialogue engine: one customer message or button press in, the next messages out.

Each turn reads the survey row, stores the answers (idempotent per Telegram message), classifies them,
decides the next step and writes step + state back with a compare-and-set, all under a per-customer lock so
two quick messages from one person never race. Nothing here imports telegram.

Every reply the customer is owed is written to the outbox in the same transaction as the survey's new step
(``bot.conversation.replies``) and sent from there, so a crash, a 429 or a 5xx never leaves a customer
waiting; a replayed update finds what it stored and re-sends only what Telegram has not confirmed. The
rating decides the tone (see the README, "What customers see"); alert posts to the team go through their own
task and never hold up the customer's reply.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import metrics, script
from bot.accounts.service import Accounts
from bot.config import SUPPORTED_LANGUAGES, Settings
from bot.conversation.analysis import analyse_answers
from bot.conversation.replies import Replies
from bot.conversation.understanding import read_message, read_yes_no
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
from bot.outreach import webhooks
from bot.outreach.invitations import Invitations
from bot.outreach.scheduling import DEFAULT_EXPIRY
from bot.recovery.alerts import NEGATIVE_EMOTIONS, Recovery, severity_of
from bot.reports.themes import ExampleVectors, match_declared_theme
from bot.script import phrase
from sentiment import Analysis, Classifier
from sentiment.detect import detect_language
from storage import answers as answer_repo
from storage import customers as customer_repo
from storage import surveys as survey_repo
from storage import themes as theme_repo
from storage import touchpoints as touchpoint_repo
from storage.db import Database, to_db_time, utcnow
from storage.models import AnalysisRecord, Answer, Customer, Survey, SurveyStatus

log = logging.getLogger(__name__)

CORE = ("expectation", "experience", "rating")
TEXT_STEPS = ("expectation", "experience", "improvement")
OPEN: tuple[SurveyStatus, ...] = ("invited", "in_progress")


# A message that is only a number (or a number "out of" something): at the rating question one outside 1-5
# ("10", "3.5", "0") is a rating to ask for again, never a comment.
_NUMBERISH = re.compile(r"^\s*[-+]?\d+(?:[.,]\d+)?\s*(?:/\s*\d+|(?:out\s+of|de|of)\s+\d+)?\s*[.!]*\s*$", re.I)
# Words that carry no answer at the invitation: they accept, nothing is filed.
_EMPTY_OPENING = re.compile(
    r"^\W*(?:hi|hello|hey|hiya|hola|buenas|buenos\s+d[ií]as|buenas\s+tardes|ok|okay|vale|what|qu[eé]|"
    r"sure|yes|yeah|s[ií]|claro)?\W*$",
    re.I,
)

Tone = str  # "negative" | "mixed" | "positive"


def tone_of(state: dict[str, Any]) -> Tone:
    """The rating decides the tone: 1-2 negative (apology, what could be better, a call back); 3, or 4-5 with
    clearly unhappy words, mixed (a neutral "anything we could do better?"); 4-5 otherwise positive. Without
    a rating (skipped) the words decide between negative and positive."""
    rating = state.get("rating")
    unhappy = (
        state.get("experience_sentiment") == "negative"
        or state.get("experience_emotion") in NEGATIVE_EMOTIONS
    )
    if isinstance(rating, int):
        if rating <= 2:
            return "negative"
        if rating == 3 or unhappy:
            return "mixed"
        return "positive"
    return "negative" if unhappy else "positive"


def _tone(state: dict[str, Any]) -> Tone | None:
    tone = state.get("tone")
    if isinstance(tone, str):
        return tone
    if "negative" in state:  # a survey begun before the tone rule: negative or not
        return "negative" if state["negative"] else "positive"
    return None


def next_step(state: dict[str, Any]) -> str:
    """The first thing the survey does not have yet; keys present with None were skipped."""
    for question in CORE:
        if question not in state:
            return question
    tone = _tone(state)
    follow_up = {"negative": ("improvement", "callback"), "mixed": ("improvement",)}.get(tone or "", ())
    for question in follow_up:
        if question not in state:
            return question
    return "done"


def is_negative(state: dict[str, Any]) -> bool:
    return tone_of(state) == "negative"


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
        replies: Replies | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.classifier = classifier
        self._theme_examples: ExampleVectors | None = None
        self.messenger = messenger
        self.clock = clock
        self.accounts = accounts or Accounts(db, settings)
        self.recovery = recovery or Recovery(db, settings, messenger, clock)
        self.invitations = invitations or Invitations(db, settings, messenger)
        self.replies = replies or Replies(db, messenger)
        self._locks: dict[int, asyncio.Lock] = {}

    # -- customers ---------------------------------------------------------------------------------------

    def _lock(self, user_id: int) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            if len(self._locks) > 10_000:
                self._locks = {uid: held for uid, held in self._locks.items() if held.locked()}
            lock = self._locks[user_id] = asyncio.Lock()
        return lock

    async def _send(self, key: str, message: OutgoingMessage, survey_id: int | None = None) -> int | None:
        """Owe *message* under *key* and deliver it now; what Telegram does not take, the clock sends."""
        try:
            return await self.replies.send(key, message, survey_id=survey_id)
        except Exception as exc:
            # The answer is stored already; a lost reply must not turn into a lost answer.
            log.warning("reply to chat %s not recorded: %s", message.chat_id, exc)
            return None

    async def _language(
        self, customer: Customer, sender: Sender | None, survey: Survey | None, text: str | None
    ) -> tuple[str, str | None]:
        """(the language to answer in, the language *text* is written in if it says). A /language choice
        wins; else the language the customer writes; else the survey's; else Telegram's."""
        written = detect_language(text, SUPPORTED_LANGUAGES) if text else None
        if await customer_repo.language_chosen(self.db, customer.id):
            return self.accounts.language_of(customer, sender), written
        if written is not None:
            return written, written
        if survey is not None and survey.language:
            return survey.language, None
        return self.accounts.language_of(customer, sender), None

    # -- incoming text --------------------------------------------------------------------------------------

    async def on_text(self, message: IncomingText) -> None:
        started = time.perf_counter()
        try:
            await self._on_text(message)
        finally:
            metrics.TURN_SECONDS.observe(time.perf_counter() - started)

    async def _on_text(self, message: IncomingText) -> None:
        async with self._lock(message.sender.user_id):
            customer = await self.accounts.customer_for(message.sender)
            chat = message.sender.chat_id
            await self.replies.deliver_chat(chat)  # anything still owed goes first, in order
            limit = self.settings.survey.max_answer_chars
            text, truncated = message.text, len(message.text) > limit
            if truncated:
                text = text[:limit]
            seen = await answer_repo.answers_for_message(self.db, chat, message.message_id)
            survey = await survey_repo.active_survey_for_customer(self.db, customer.id)
            if seen:
                # The same update again (replayed after a crash): finish what it began, send nothing twice.
                await self._resume(survey, customer, seen, message.at)
                return
            language, written = await self._language(customer, message.sender, survey, text)
            if truncated:
                await self._send(
                    f"m{chat}:{message.message_id}:too_long",
                    OutgoingMessage(chat, phrase("too_long", language, limit=limit)),
                )
            if survey is None:
                survey = await survey_repo.reopen_postponed(self.db, customer.id, now=message.at)
                if survey is not None:
                    await self._offer_again(survey, customer, message, text, language)
                    return
                await self._unsolicited(customer, message, text, truncated, language, written)
                return
            await self._answer(survey, customer, message, text, truncated, language, written)

    async def _resume(
        self, survey: Survey | None, customer: Customer, seen: list[Answer], at: datetime
    ) -> None:
        """A replayed message whose answers are stored: if the survey never took them in (the process died
        between the two writes), take them in and owe the next question now."""
        if survey is None or any(answer.survey_id != survey.id for answer in seen):
            return
        state = dict(survey.state)
        missing = [a for a in seen if a.question in (*CORE, "improvement") and a.question not in state]
        if not missing:
            return
        for answer in missing:
            state[answer.question] = answer.rating if answer.question == "rating" else answer.id
        language = survey.language or self.accounts.language_of(customer)
        await self._advance(survey, customer, state, missing, language, at)

    async def _unsolicited(
        self,
        customer: Customer,
        message: IncomingText,
        text: str,
        truncated: bool,
        language: str,
        written: str | None,
    ) -> None:
        chat = message.sender.chat_id
        async with self.db.transaction():
            answer, created = await answer_repo.record_answer(
                self.db,
                survey_id=None,
                customer_id=customer.id,
                touchpoint_id=None,
                question="unsolicited",
                text=text,
                rating=None,
                language=written or language,
                truncated=truncated,
                chat_id=chat,
                message_id=message.message_id,
                received_at=message.at,
            )
            if created:
                await self.replies.owe(
                    f"m{chat}:{message.message_id}:thanks",
                    OutgoingMessage(chat, phrase("unsolicited_thanks", language)),
                )
        if not created:
            return
        await self.replies.deliver_chat(chat)
        await analyse_answers(self.db, self.classifier, [answer], settings=self.settings)

    async def _offer_again(
        self, survey: Survey, customer: Customer, message: IncomingText, text: str, language: str
    ) -> None:
        """After "Not now" the customer was told "just write to me": they wrote, so the survey is offered
        again (anything they said with it is kept as a comment)."""
        chat = message.sender.chat_id
        if not _EMPTY_OPENING.match(text):
            await answer_repo.record_answer(
                self.db,
                survey_id=survey.id,
                customer_id=customer.id,
                touchpoint_id=survey.touchpoint_id,
                question="comment",
                text=text,
                rating=None,
                language=language,
                chat_id=chat,
                message_id=message.message_id,
                received_at=message.at,
            )
        key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
        offer = script.invitation(self.settings, survey, customer, key, language)
        await self._send(
            f"m{chat}:{message.message_id}:offer",
            OutgoingMessage(chat, f"{phrase('offer_again', language)}\n\n{offer.text}", offer.buttons),
            survey.id,
        )

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
        if step == "invitation":
            # Typed instead of pressed: it accepts. What it says is kept, but never as the experience
            # answer, so every question is still asked.
            if reading.text and not _EMPTY_OPENING.match(reading.text):
                pieces.append(_Piece("comment", reading.text))
            return pieces, True if not pieces else None
        if reading.text:
            pieces.append(_Piece(self._target(step, state, reading.text), reading.text))
        return pieces, None

    @staticmethod
    def _target(step: str, state: dict[str, Any], text: str) -> str:
        """The open text question a free message answers: the current one, else the next one missing."""
        order = [q for q in TEXT_STEPS if q != "improvement" or _tone(state) in ("negative", "mixed")]
        start = order.index(step) if step in order else 0
        return next((q for q in order[start:] if q not in state), "comment")

    async def _answer(
        self,
        survey: Survey,
        customer: Customer,
        message: IncomingText,
        text: str,
        truncated: bool,
        language: str,
        written: str | None,
    ) -> None:
        chat = message.sender.chat_id
        step = survey.step or "invitation"
        state = dict(survey.state)
        if step == "rating" and _NUMBERISH.match(text) and find_rating_only(text) is None:
            # "10", "3.5", "0": a rating out of range is asked for again, and never filed as a comment.
            await self._send(
                f"m{chat}:{message.message_id}:rating_invalid",
                OutgoingMessage(chat, phrase("rating_invalid", language), script.rating_buttons(survey.id)),
                survey.id,
            )
            return
        pieces, yes_no = self._pieces(step, state, text)
        await self._announce_language(survey, customer, state, language)
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
            answer, _ = await answer_repo.record_answer(
                self.db,
                survey_id=survey.id,
                customer_id=customer.id,
                touchpoint_id=survey.touchpoint_id,
                question=piece.question,
                text=piece.text,
                rating=piece.rating,
                language=written or language,
                truncated=truncated and piece.text is not None,
                chat_id=chat,
                message_id=message.message_id,
                received_at=message.at,
            )
            stored.append(answer)
            if piece.question != "comment":
                state[piece.question] = piece.rating if piece.question == "rating" else answer.id
        await self._advance(survey, customer, state, stored, language, message.at, hint_step=step)

    async def _announce_language(
        self, survey: Survey, customer: Customer, state: dict[str, Any], language: str
    ) -> None:
        """The customer writes in another language than the survey's: say once that the bot follows."""
        if survey.language is None or survey.language == language:
            return
        if state.get("language_announced"):
            return
        state["language_announced"] = True
        await self._send(
            f"s{survey.id}:language:{language}",
            OutgoingMessage(self._chat(customer), phrase("language_followed", language)),
            survey.id,
        )

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
        if _tone(state) is None and all(question in state for question in CORE):
            # The branch needs the experience's reading: the only model call a customer waits for.
            read = await self._read_experience(state, stored)
            tone = tone_of(state)
            state["tone"] = tone
            state["negative"] = tone == "negative"
            if tone == "mixed":
                state["mixed"] = True  # a stored flag reports can count
            if tone == "negative":
                theme = await self._experience_theme(survey, state)
                if theme is not None:
                    state["theme"] = theme  # the follow-up asks about what they just said
            upcoming = next_step(state)
        key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
        done = upcoming == "done"
        chat = self._chat(customer)
        hint: OutgoingMessage | None = None
        if hint_step == upcoming == "rating":
            hint = OutgoingMessage(chat, phrase("rating_hint", language), script.rating_buttons(survey.id))
        elif hint_step == upcoming == "callback" and "callback" not in state:
            hint = OutgoingMessage(
                chat, phrase("callback_hint", language), script.callback_buttons(survey.id, language)
            )
        completed: dict[str, Any] | None = None
        if done and webhooks.wants(self.settings, "survey.completed"):
            # Read before the write lock is taken: a transaction never waits on reads.
            completed = await self._completed_data(survey, customer, state, language, key, at)
        async with self.db.transaction():
            # The new step and the message it owes the customer are one write: neither without the other.
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
            if updated is not None:
                if hint is not None:
                    owed_key = f"s{survey.id}:hint:{upcoming}:{len(stored)}:{at.timestamp()}"
                    await self.replies.owe(owed_key, hint, survey_id=survey.id)
                else:
                    message = script.question(self.settings, updated, customer, key, language, upcoming)
                    await self.replies.owe(f"s{survey.id}:{upcoming}", message, survey_id=survey.id)
                if completed is not None:
                    # Reported in the same transaction as the completion (bot.outreach.webhooks).
                    await webhooks.enqueue_event(
                        self.db,
                        self.settings,
                        "survey.completed",
                        completed,
                        at=at,
                        customer_id=updated.customer_id,
                    )
        if updated is None:
            await self._send(
                f"s{survey.id}:closed:{at.timestamp()}",
                OutgoingMessage(chat, phrase("survey_closed", language)),
            )
            return
        await self.replies.deliver_chat(chat)
        if _tone(state) == "negative" and (step_before != upcoming or "callback" in state):
            await self._alert(updated, state)
        await self._classify_later(stored, read)

    async def _completed_data(
        self,
        survey: Survey,
        customer: Customer,
        state: dict[str, Any],
        language: str,
        touchpoint_key: str | None,
        at: datetime,
    ) -> dict[str, Any]:
        answers = await answer_repo.answers_for_survey(self.db, survey.id)
        return {
            "survey": {
                "id": survey.id,
                "kind": survey.kind,
                "touchpoint": touchpoint_key,
                "language": language,
                "rating": state.get("rating") if isinstance(state.get("rating"), int) else None,
                "tone": state.get("tone"),
                "callback_requested": state.get("callback") is True,
                "invited_at": to_db_time(survey.invited_at) if survey.invited_at else None,
                "completed_at": to_db_time(at),
            },
            "answers": [
                {"id": a.id, "question": a.question, "text": a.text, "rating": a.rating} for a in answers
            ],
            "customer": {"id": customer.id, "external_id": customer.external_id},
        }

    async def _classify_later(self, stored: list[Answer], read: set[int]) -> None:
        """Answers are stored before anything else, so classifying after the reply loses nothing and keeps
        the model off the customer's wait."""
        await analyse_answers(
            self.db, self.classifier, [a for a in stored if a.id not in read], settings=self.settings
        )

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
            analysis = (
                await analyse_answers(self.db, self.classifier, [answer], settings=self.settings)
            ).get(answer.id)
        if analysis is not None:
            state["experience_sentiment"] = analysis.sentiment
            state["experience_emotion"] = analysis.emotion
        return {answer.id}

    async def _experience_theme(self, survey: Survey, state: dict[str, Any]) -> str | None:
        """The declared theme of the touchpoint the experience answer talks about (None: none matches, no
        declared themes, or the model gives no vectors). Never fails the survey."""
        key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
        touchpoint = self.settings.touchpoint(key) if key else None
        experience_id = state.get("experience")
        if touchpoint is None or not touchpoint.themes or not isinstance(experience_id, int):
            return None
        try:
            vector = await theme_repo.vector_of(self.db, experience_id)
            answer = await answer_repo.get_answer(self.db, experience_id)
            if vector is None or answer is None:
                return None
            if self._theme_examples is None:
                classifier = self.classifier

                async def encode(texts: Sequence[str], languages: Sequence[str | None]) -> list[Any]:
                    return [a.vector for a in await classifier.analyse(texts, languages)]

                self._theme_examples = ExampleVectors(encode)
            return await match_declared_theme(
                self.db,
                self.settings,
                self._theme_examples,
                touchpoint.key,
                vector,
                answer.language,
                model_id=self.classifier.model_id,
            )
        except Exception:
            log.exception("matching the experience answer to a declared theme failed; generic follow-up")
            return None

    async def _alert(self, survey: Survey, state: dict[str, Any]) -> None:
        """Open (or raise) the survey's alert; the post to the team goes through its own task."""
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
                wait=False,
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
            await self.replies.deliver_chat(press.sender.chat_id)
            survey = await survey_repo.get_survey(self.db, survey_id)
            language = self.accounts.language_of(customer, press.sender)
            if survey is not None and survey.customer_id == customer.id and survey.status == "scheduled":
                # A press within milliseconds of the invitation: the send's own acknowledgement may get
                # there first, so read the survey again rather than judge the row read before.
                confirmed = await self.invitations.confirm_by_press(survey, customer, press.message_id)
                survey = confirmed or await survey_repo.get_survey(self.db, survey_id)
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
                answer, _ = await answer_repo.record_answer(
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
                # Not created: the same press replayed after a crash; the survey still takes it in.
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
            key = await touchpoint_repo.touchpoint_key(self.db, survey.touchpoint_id)
            async with self.db.transaction():
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
                    message = script.question(self.settings, updated, customer, key, language, upcoming)
                    await self.replies.owe(f"s{survey.id}:{upcoming}", message, survey_id=survey.id)
            await self.replies.deliver_chat(chat)
            return
        state = {**survey.state, "postponed": action == "later"}
        async with self.db.transaction():
            updated = await survey_repo.update_survey_if(
                self.db, survey.id, OPEN, status="declined", step=None, state=state
            )
            if updated is not None:
                text = phrase("never" if action == "never" else "not_now", language)
                await self.replies.owe(f"s{survey.id}:{action}:{at.timestamp()}", OutgoingMessage(chat, text))
        if action == "never":
            await self.accounts.opt_out(customer, at)
        await self.replies.deliver_chat(chat)

    # -- commands and other input ---------------------------------------------------------------------------

    async def on_skip(self, sender: Sender, *, at: datetime) -> None:
        """/skip: leave the current question unanswered and go on."""
        async with self._lock(sender.user_id):
            customer = await self.accounts.customer_for(sender)
            survey = await survey_repo.active_survey_for_customer(self.db, customer.id)
            language = self.accounts.language_of(customer, sender)
            if survey is None:
                await self._send(
                    f"c{sender.chat_id}:skip:{at.timestamp()}",
                    OutgoingMessage(sender.chat_id, phrase("skip_nothing", language)),
                )
                return
            language = survey.language or language
            step = survey.step or "invitation"
            if step == "invitation":
                await self._invitation_choice(survey, customer, "later", language, at)
                return
            state = dict(survey.state)
            state[step] = False if step == "callback" else None
            await self._advance(survey, customer, state, [], language, at)

    async def on_contact(self, sender: Sender, phone: str, *, message_id: int, at: datetime) -> None:
        """The customer shared their number with the contact button: the team's card shows it."""
        async with self._lock(sender.user_id):
            customer = await self.accounts.customer_for(sender)
            language = self.accounts.language_of(customer, sender)
            surveys = await survey_repo.surveys_for_customer(self.db, customer.id)
            asked = [s for s in surveys if s.state.get("callback") is True]
            shown = await self.recovery.add_contact(asked[-1].id, phone) if asked else False
            text = phrase("contact_saved" if shown else "contact_unexpected", language)
            await self._send(
                f"m{sender.chat_id}:{message_id}:contact",
                OutgoingMessage(sender.chat_id, text, remove_keyboard=True),
            )

    async def on_non_text(self, sender: Sender) -> None:
        """Stickers, photos, voice, documents, locations: a polite nudge; the survey stays where it was."""
        customer = await self.accounts.customer_for(sender)
        await self._send(
            f"c{sender.chat_id}:non_text:{utcnow().timestamp()}",
            OutgoingMessage(sender.chat_id, phrase("non_text", self.accounts.language_of(customer, sender))),
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
            await analyse_answers(self.db, self.classifier, updated, settings=self.settings)
            customer = await self.accounts.customer_for(message.sender)
            await self._send(
                f"m{message.sender.chat_id}:{message.message_id}:edited:{message.at.timestamp()}",
                OutgoingMessage(
                    message.sender.chat_id, phrase("edited", self.accounts.language_of(customer))
                ),
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
            async with self.db.transaction():
                updated = await survey_repo.update_survey(
                    self.db,
                    survey.id,
                    status="in_progress",
                    step="expectation",
                    invited_at=at,
                    started_at=at,
                )
                message = script.question(self.settings, updated, customer, None, language, "expectation")
                await self.replies.owe(f"s{survey.id}:expectation", message, survey_id=survey.id)
            await self.replies.deliver_chat(sender.chat_id)


def find_rating_only(text: str) -> int | None:
    """A rating the message is nothing but (the rating question's reading)."""
    return read_message(text, rating_expected=True).rating
