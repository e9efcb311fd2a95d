"""What the bot says at each survey step: Momento's default script and the messages with their buttons.

The voice is a person who listens: short, warm, one question at a time, never a form. Companies rewrite any
of the seven configurable texts per touchpoint and language (``[touchpoints.texts.<lang>]``), and such a
rewrite always wins; the defaults are the ``script.*`` messages of the gettext catalogues in ``bot/locale``,
and everything else (buttons, confirmations, polite refusals) is ``phrases.*``. Shared by the dialogue
(questions) and outreach (invitations, reminders), so it sits below both.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Literal, get_args

from bot.config import Settings, TouchpointSettings
from bot.i18n import Catalogue, translate
from bot.messaging import Button, OutgoingMessage, SurveyAction, SurveyPress, encode
from storage.models import Customer, Survey

ScriptKey = Literal[
    "invitation",
    "expectation",
    "experience",
    "rating",
    "improvement",
    "callback_offer",
    "thanks",
    "callback_next",
]
SCRIPT_KEYS: tuple[ScriptKey, ...] = get_args(ScriptKey)  # one list: the Literal above

# The texts are the script.* and phrases.* messages of the catalogues in bot/locale (see bot.i18n).
DEFAULT_SCRIPT = Catalogue("script")
PHRASES = Catalogue("phrases")


def _values(language: str, touchpoint: str, name: str | None) -> dict[str, str]:
    shown = f", {html.escape(name)}" if name else ""
    return {"touchpoint": html.escape(touchpoint), "name": shown}


def touchpoint_label(settings: Settings, key: str | None, language: str) -> str:
    touchpoint = settings.touchpoint(key) if key else None
    if touchpoint is None:
        return translate(PHRASES, "general_topic", language)
    return touchpoint.name(language)


def script_text(
    settings: Settings, touchpoint_key: str | None, key: ScriptKey, language: str, *, name: str | None = None
) -> str:
    """The touchpoint's own wording if the company wrote one, else Momento's default, placeholders filled."""
    touchpoint: TouchpointSettings | None = settings.touchpoint(touchpoint_key) if touchpoint_key else None
    template: str | None = None
    if touchpoint is not None:
        texts = touchpoint.texts.get(language)
        template = getattr(texts, key) if texts is not None else None
    if template is None:
        template = translate(DEFAULT_SCRIPT, key, language)
    return _fill(template, _values(language, touchpoint_label(settings, touchpoint_key, language), name))


def phrase(
    key: str, language: str, *, touchpoint: str = "", name: str | None = None, **values: object
) -> str:
    return translate(PHRASES, key, language, **_values(language, touchpoint, name), **values)


def _fill(template: str, values: Mapping[str, str]) -> str:
    """A company's text with an unknown {placeholder} or a stray brace still shows, never crashes."""
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


Buttons = tuple[tuple[Button, ...], ...]


def data(survey_id: int, action: SurveyAction) -> str:
    """A survey button's data; it names the survey, so an old button can't answer a newer survey."""
    return encode(SurveyPress(survey_id, action))


def invitation_buttons(survey_id: int, language: str) -> Buttons:
    return (
        (Button(phrase("btn_sure", language), data(survey_id, "yes")),),
        (
            Button(phrase("btn_not_now", language), data(survey_id, "later")),
            Button(phrase("btn_never", language), data(survey_id, "never")),
        ),
    )


_RATINGS: tuple[SurveyAction, ...] = ("r1", "r2", "r3", "r4", "r5")


def rating_buttons(survey_id: int) -> Buttons:
    return (tuple(Button(str(n), data(survey_id, action)) for n, action in enumerate(_RATINGS, 1)),)


def callback_buttons(survey_id: int, language: str) -> Buttons:
    return (
        (
            Button(phrase("btn_yes", language), data(survey_id, "cb1")),
            Button(phrase("btn_no", language), data(survey_id, "cb0")),
        ),
    )


def _chat(customer: Customer) -> int:
    if customer.telegram_chat_id is None:
        raise ValueError(f"customer {customer.id} has no Telegram chat")
    return customer.telegram_chat_id


def invitation(
    settings: Settings, survey: Survey, customer: Customer, touchpoint_key: str | None, language: str
) -> OutgoingMessage:
    if survey.kind == "recovery_followup":
        text = phrase(
            "followup_invitation",
            language,
            touchpoint=touchpoint_label(settings, touchpoint_key, language),
            name=customer.display_name,
        )
    else:
        text = script_text(settings, touchpoint_key, "invitation", language, name=customer.display_name)
    return OutgoingMessage(_chat(customer), text, invitation_buttons(survey.id, language))


def question(
    settings: Settings,
    survey: Survey,
    customer: Customer,
    touchpoint_key: str | None,
    language: str,
    step: str,
) -> OutgoingMessage:
    """The prompt for *step* (expectation, experience, rating, improvement, callback, done)."""
    chat = _chat(customer)
    name = customer.display_name
    if step in ("expectation", "experience") and survey.kind == "recovery_followup":
        return OutgoingMessage(
            chat, phrase("followup_expectation" if step == "expectation" else "followup_experience", language)
        )
    if step == "expectation" and survey.kind == "general":
        return OutgoingMessage(chat, phrase("general_invitation", language))
    if step == "expectation":
        return OutgoingMessage(
            chat, script_text(settings, touchpoint_key, "expectation", language, name=name)
        )
    if step == "experience":
        return OutgoingMessage(chat, script_text(settings, touchpoint_key, "experience", language, name=name))
    if step == "rating":
        return OutgoingMessage(
            chat,
            script_text(settings, touchpoint_key, "rating", language, name=name),
            rating_buttons(survey.id),
        )
    tone = survey.state.get("tone") or ("negative" if survey.state.get("negative") else "positive")
    if step == "improvement":
        if tone != "negative":
            # A 3, or a high rating with unhappy words: no apology, just an open door.
            return OutgoingMessage(chat, phrase("improvement_neutral", language, name=name))
        theme = survey.state.get("theme")
        asked = (
            theme_question(settings, touchpoint_key, theme, language, name)
            if isinstance(theme, str)
            else None
        )
        return OutgoingMessage(
            chat, asked or script_text(settings, touchpoint_key, "improvement", language, name=name)
        )
    if step == "callback":
        return OutgoingMessage(
            chat,
            script_text(settings, touchpoint_key, "callback_offer", language, name=name),
            callback_buttons(survey.id, language),
        )
    return closing(settings, survey, customer, touchpoint_key, language)


def theme_question(
    settings: Settings, touchpoint_key: str | None, theme: str, language: str, name: str | None
) -> str | None:
    """The follow-up for a negative answer about a declared theme: the company's own question for it, else
    Momento's default for a common theme, else None (the generic question is asked)."""
    touchpoint = settings.touchpoint(touchpoint_key) if touchpoint_key else None
    declared = next((t for t in touchpoint.themes if t.key == theme), None) if touchpoint else None
    if declared is not None:
        own = declared.question.get(language) or (declared.question.get("en") if language == "en" else None)
        if own:
            return _fill(own, _values(language, touchpoint_label(settings, touchpoint_key, language), name))
    match theme:
        case "late_delivery":
            return phrase("theme_question_late_delivery", language, name=name)
        case "damaged_item":
            return phrase("theme_question_damaged_item", language, name=name)
        case "rude_staff":
            return phrase("theme_question_rude_staff", language, name=name)
        case "long_wait":
            return phrase("theme_question_long_wait", language, name=name)
        case "refund":
            return phrase("theme_question_refund", language, name=name)
    return None


def closing(
    settings: Settings, survey: Survey, customer: Customer, touchpoint_key: str | None, language: str
) -> OutgoingMessage:
    """The last message fits the experience: "have a great day! 🙏" only for a happy customer; after "Yes,
    call me", what happens next and a one-tap button to share a phone number (never required)."""
    chat, name = _chat(customer), customer.display_name
    state = survey.state
    tone = state.get("tone") or ("negative" if state.get("negative") else "positive")
    if state.get("callback") is True:
        promise = script_text(settings, touchpoint_key, "callback_next", language, name=name)
        return OutgoingMessage(
            chat,
            f"{promise}\n\n{phrase('contact_invite', language)}",
            contact_request=phrase("btn_share_contact", language),
        )
    if tone == "negative":
        return OutgoingMessage(chat, phrase("thanks_unhappy", language, name=name))
    if tone == "mixed":
        return OutgoingMessage(chat, phrase("thanks_mixed", language, name=name))
    return OutgoingMessage(chat, script_text(settings, touchpoint_key, "thanks", language, name=name))


def reminder(
    settings: Settings, survey: Survey, customer: Customer, touchpoint_key: str | None, language: str
) -> list[OutgoingMessage]:
    """One gentle nudge, with the buttons or question the customer had left open."""
    nudge = phrase(
        "reminder",
        language,
        touchpoint=touchpoint_label(settings, touchpoint_key, language),
        name=customer.display_name,
    )
    if survey.status == "invited" or survey.step in (None, "invitation"):
        return [OutgoingMessage(_chat(customer), nudge, invitation_buttons(survey.id, language))]
    follow = question(settings, survey, customer, touchpoint_key, language, survey.step or "expectation")
    return [OutgoingMessage(_chat(customer), nudge), follow]
