"""What the bot says: Momento's default script in English and Spanish, overridable per touchpoint.

The voice is a person who listens: short, warm, one question at a time, never a form. Companies rewrite any
of the seven configurable texts per touchpoint and language (``[touchpoints.texts.<lang>]``); everything else
(buttons, confirmations, polite refusals) lives in :data:`PHRASES`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Literal

from bot.config import Settings, TouchpointSettings
from bot.i18n import Catalogue, translate

ScriptKey = Literal[
    "invitation", "expectation", "experience", "rating", "improvement", "callback_offer", "thanks"
]
SCRIPT_KEYS: tuple[ScriptKey, ...] = (
    "invitation",
    "expectation",
    "experience",
    "rating",
    "improvement",
    "callback_offer",
    "thanks",
)

DEFAULT_SCRIPT: Catalogue = {
    "invitation": {
        "en": "Hi{name}! 👋 Thanks for your recent {touchpoint}. Could I ask you two or three quick "
        "questions about how it went? It takes about a minute.",
        "es": "¡Hola{name}! 👋 Gracias por tu reciente {touchpoint}. ¿Te puedo hacer dos o tres preguntas "
        "rápidas sobre cómo fue? Es solo un minuto.",
    },
    "expectation": {
        "en": "Lovely, thank you! Before it happened, what were you expecting from your {touchpoint}?",
        "es": "¡Genial, gracias! Antes de que ocurriera, ¿qué esperabas de tu {touchpoint}?",
    },
    "experience": {
        "en": "Got it. And how did it actually go?",
        "es": "Entendido. ¿Y cómo fue en realidad?",
    },
    "rating": {
        "en": "Thanks for telling me. All in all, how would you rate it from 1 (poor) to 5 (excellent)?",
        "es": "Gracias por contármelo. En general, ¿qué nota le darías del 1 (mal) al 5 (excelente)?",
    },
    "improvement": {
        "en": "I'm sorry it wasn't what you hoped for. What could we have done better?",
        "es": "Siento que no fuera lo que esperabas. ¿Qué podríamos haber hecho mejor?",
    },
    "callback_offer": {
        "en": "Would you like someone from our team to contact you about it?",
        "es": "¿Te gustaría que alguien de nuestro equipo se pusiera en contacto contigo?",
    },
    "thanks": {
        "en": "Thank you so much{name} — this really helps us. Have a great day! 🙏",
        "es": "Muchísimas gracias{name}, de verdad nos ayuda. ¡Que tengas un buen día! 🙏",
    },
}

PHRASES: Catalogue = {
    "btn_sure": {"en": "Sure", "es": "Claro"},
    "btn_not_now": {"en": "Not now", "es": "Ahora no"},
    "btn_never": {"en": "Don't ask me again", "es": "No volver a preguntar"},
    "btn_yes": {"en": "Yes, please", "es": "Sí, por favor"},
    "btn_no": {"en": "No, thanks", "es": "No, gracias"},
    "general_topic": {"en": "experience with us", "es": "experiencia con nosotros"},
    "general_invitation": {
        "en": "I'd love to hear about it. What were you expecting from us?",
        "es": "Me encantaría saberlo. ¿Qué esperabas de nosotros?",
    },
    "followup_invitation": {
        "en": "Hi{name}! A little while ago you told us your {touchpoint} didn't go well, and our team "
        "followed it up. May I ask how things are now?",
        "es": "¡Hola{name}! Hace poco nos contaste que tu {touchpoint} no fue bien y nuestro equipo se ocupó "
        "de ello. ¿Te puedo preguntar cómo va ahora?",
    },
    "followup_expectation": {
        "en": "Thank you! What did you hope we would do to put it right?",
        "es": "¡Gracias! ¿Qué esperabas que hiciéramos para solucionarlo?",
    },
    "followup_experience": {
        "en": "And how did it go in the end?",
        "es": "¿Y cómo terminó todo?",
    },
    "reminder": {
        "en": "Just a gentle nudge{name}: if you have a minute, I'd still love to hear how your {touchpoint} "
        "went. If not, no worries at all.",
        "es": "Solo un recordatorio{name}: si tienes un minuto, me encantaría saber cómo fue tu "
        "{touchpoint}. Si no, no pasa nada.",
    },
    "not_now": {
        "en": "No problem at all! If you change your mind, just write to me. 😊",
        "es": "¡Sin problema! Si cambias de idea, escríbeme cuando quieras. 😊",
    },
    "never": {
        "en": "Understood — I won't send you any more surveys. You can still write to me any time.",
        "es": "Entendido, no te enviaré más encuestas. Puedes escribirme cuando quieras.",
    },
    "callback_yes": {
        "en": "Thank you. Someone from our team will get in touch with you soon.",
        "es": "Gracias. Alguien de nuestro equipo se pondrá en contacto contigo pronto.",
    },
    "rating_hint": {
        "en": "Sorry, I didn't catch a rating there — could you pick a number from 1 to 5?",
        "es": "Perdona, no he entendido la nota: ¿puedes elegir un número del 1 al 5?",
    },
    "callback_hint": {
        "en": "Just tap Yes or No, please. 🙂",
        "es": "Solo pulsa Sí o No, por favor. 🙂",
    },
    "invitation_hint": {
        "en": "Would you like to answer a couple of questions? Tap a button below, or just tell me in your "
        "own words how it went.",
        "es": "¿Quieres responder un par de preguntas? Pulsa un botón, o cuéntame con tus palabras cómo fue.",
    },
    "non_text": {
        "en": "Thanks! I can only read text, though — please answer with text or the buttons. 🙂",
        "es": "¡Gracias! Aunque solo puedo leer texto: responde con texto o con los botones, por favor. 🙂",
    },
    "too_long": {
        "en": "That was a long message — thank you! I kept the first {limit} characters.",
        "es": "¡Qué mensaje tan completo, gracias! He guardado los primeros {limit} caracteres.",
    },
    "unsolicited_thanks": {
        "en": "Thank you for telling us! Your message goes straight to the team. 🙏",
        "es": "¡Gracias por contárnoslo! Tu mensaje llega directamente al equipo. 🙏",
    },
    "skip_nothing": {
        "en": "There's nothing to skip right now. 🙂",
        "es": "Ahora mismo no hay nada que saltar. 🙂",
    },
    "edited": {
        "en": "Got it, I've updated your answer.",
        "es": "Entendido, he actualizado tu respuesta.",
    },
    "survey_closed": {
        "en": "That survey is already closed — but you can always just write to me.",
        "es": "Esa encuesta ya está cerrada, pero siempre puedes escribirme.",
    },
}


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
        template = DEFAULT_SCRIPT[key].get(language) or DEFAULT_SCRIPT[key]["en"]
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
