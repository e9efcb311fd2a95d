"""The moment-of-truth dialogue: a state machine stored per survey, with no Telegram import.

Port (how anything drives it — the PTB handlers, `momento demo`, `momento chat`, tests)::

    from bot.conversation import SurveyEngine, Sender, IncomingText, IncomingPress, OutgoingMessage, Messenger

    class MyMessenger:                      # implements bot.messaging.Messenger
        async def send(self, message: OutgoingMessage) -> int: ...        # returns a message id
        async def edit(self, chat_id, message_id, text, buttons) -> None: ...
        # raise RecipientUnreachable (blocked, 403), RetryLater(seconds) (429) or DeliveryUnknown (no
        # answer came back: the message may have arrived); nothing else is special

    engine = SurveyEngine(db, settings, classifier, messenger, clock=utcnow)
    who = Sender(user_id=42, chat_id=42, display_name="Ana", language_code="es")
    await engine.on_text(IncomingText(who, message_id=7, text="Esperaba rapidez pero tardó. 2/5", at=now))
    result = await engine.on_press(IncomingPress(who, data="sv:3:yes", message_id=5, at=now))  # a button
    await engine.on_skip(who, at=now)        # /skip
    await engine.on_non_text(who)            # sticker, photo, voice, document, location
    await engine.on_edit(IncomingText(...))  # an edited message updates its answer
    await engine.start_general(who, at=now)  # "give feedback" without a touchpoint

Outgoing messages (``OutgoingMessage(chat_id, text, buttons)``, HTML, customer text escaped) go to the
messenger, which also carries recovery alerts to team chats. Invitations and reminders are sent by
``bot.outreach.dispatch.Outreach.tick()`` through the same messenger; surveys are planned with
``bot.outreach.dispatch.schedule_survey(db, settings, event=..., now=...)``.

Steps: invitation [Sure / Not now / Don't ask me again] → expectation → experience → rating (buttons 1–5 or
"4", "4/5", "cuatro", "⭐⭐⭐⭐") → on a negative experience: improvement → callback [Yes / No] → done.
One message may answer several steps; the engine never re-asks what it already has. State lives in the
``surveys`` row (step + JSON state), so a restart resumes at the same step.
"""

from bot.messaging import (
    Button,
    DeliveryUnknown,
    IncomingPress,
    IncomingText,
    Messenger,
    OutgoingMessage,
    PressResult,
    RecipientUnreachable,
    RetryLater,
    Sender,
)

__all__ = [
    "Button",
    "DeliveryUnknown",
    "IncomingPress",
    "IncomingText",
    "Messenger",
    "OutgoingMessage",
    "PressResult",
    "RecipientUnreachable",
    "RetryLater",
    "Sender",
]
