"""The moment-of-truth dialogue, and only the dialogue: a state machine stored per survey, plus reading the
customer's words (``understanding``) and classifying answers (``analysis``). No Telegram import.

How anything drives it — the PTB handlers, `momento demo`, `momento chat`, tests::

    from bot.conversation.wiring import build_cx_services
    from bot.messaging import IncomingPress, IncomingText, Sender

    cx = build_cx_services(db, settings, classifier, messenger)   # messenger: bot.messaging.Messenger
    who = Sender(user_id=42, chat_id=42, display_name="Ana", language_code="es")
    await cx.engine.on_text(IncomingText(who, message_id=7, text="Esperaba rapidez pero tardó. 2/5", at=now))
    await cx.engine.on_press(IncomingPress(who, data="sv:3:yes", message_id=5, at=now))  # a survey button
    await cx.engine.on_skip(who, at=now)        # /skip
    await cx.engine.on_non_text(who)            # sticker, photo, voice, document, location
    await cx.engine.on_edit(IncomingText(...))  # an edited message updates its answer
    await cx.engine.start_general(who, at=now)  # "give feedback" without a touchpoint

Invitations and reminders are outreach's (``cx.outreach.tick()``, deep links through
``cx.invitations.invite_now``); account buttons go to ``cx.accounts``; alert buttons to ``cx.recovery``.

Steps: invitation [Sure / Not now / Don't ask me again] → expectation → experience → rating (buttons 1–5 or
"4", "4/5", "cuatro", "⭐⭐⭐⭐") → on a negative experience: improvement → callback [Yes / No] → done.
One message may answer several steps; the engine never re-asks what it already has. State lives in the
``surveys`` row (step + JSON state), so a restart resumes at the same step.
"""
