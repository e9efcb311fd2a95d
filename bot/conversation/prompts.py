"""The messages of the dialogue, built from the script: one place that knows texts and buttons per step."""

from __future__ import annotations

from bot.config import Settings
from bot.conversation.scripts import phrase, script_text, touchpoint_label
from bot.messaging import Button, OutgoingMessage
from storage.models import Customer, Survey

Buttons = tuple[tuple[Button, ...], ...]

# Callback data: "sv:<survey id>:<action>" — short, and names the survey so an old button can't answer a
# newer survey.
PREFIX = "sv"


def data(survey_id: int, action: str) -> str:
    return f"{PREFIX}:{survey_id}:{action}"


def parse_data(value: str) -> tuple[int, str] | None:
    parts = value.split(":")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2]


def invitation_buttons(survey_id: int, language: str) -> Buttons:
    return (
        (Button(phrase("btn_sure", language), data(survey_id, "yes")),),
        (
            Button(phrase("btn_not_now", language), data(survey_id, "later")),
            Button(phrase("btn_never", language), data(survey_id, "never")),
        ),
    )


def rating_buttons(survey_id: int) -> Buttons:
    return (tuple(Button(str(n), data(survey_id, f"r{n}")) for n in range(1, 6)),)


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
        return OutgoingMessage(chat, phrase(f"followup_{step}", language))
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
    if step == "improvement":
        return OutgoingMessage(
            chat, script_text(settings, touchpoint_key, "improvement", language, name=name)
        )
    if step == "callback":
        return OutgoingMessage(
            chat,
            script_text(settings, touchpoint_key, "callback_offer", language, name=name),
            callback_buttons(survey.id, language),
        )
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
