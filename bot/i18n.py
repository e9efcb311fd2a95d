"""Language choice and text catalogues: the bot answers in the customer's language (English or Spanish).

Each feature keeps its own catalogue (a dict of key -> {language: text}) next to its code, so wording
changes stay local; this module only picks the language and formats safely.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.config import SUPPORTED_LANGUAGES

Catalogue = Mapping[str, Mapping[str, str]]
FALLBACK_LANGUAGE = "en"


def pick_language(*candidates: str | None, default: str = FALLBACK_LANGUAGE) -> str:
    """First supported language among the candidates ('es-MX' -> 'es'), else *default*.

    Callers pass the stored preference first, then Telegram's language_code.
    """
    for candidate in candidates:
        if candidate:
            base = candidate.strip().lower().replace("_", "-").split("-")[0]
            if base in SUPPORTED_LANGUAGES:
                return base
    return default if default in SUPPORTED_LANGUAGES else FALLBACK_LANGUAGE


def translate(catalogue: Catalogue, key: str, language: str, /, **values: object) -> str:
    """The text for *key* in *language* (English if missing there), with {placeholders} filled."""
    variants = catalogue[key]
    template = variants.get(language) or variants[FALLBACK_LANGUAGE]
    return template.format(**values) if values else template


COMMON: Catalogue = {
    "welcome": {
        "en": (
            "Hi {name}! 👋 I'm Momento, and I help <b>{company}</b> listen to its customers.\n\n"
            "After a purchase, a delivery or a call I may ask you two or three short questions about how it "
            "went. You can also just write to me any time: every message is read by the team.\n\n"
            "Type /help to see what I can do."
        ),
        "es": (
            "¡Hola, {name}! 👋 Soy Momento y ayudo a <b>{company}</b> a escuchar a sus clientes.\n\n"
            "Después de una compra, una entrega o una llamada puede que te haga dos o tres preguntas breves "
            "sobre cómo fue. También puedes escribirme cuando quieras: el equipo lee cada mensaje.\n\n"
            "Escribe /help para ver lo que puedo hacer."
        ),
    },
    "help": {
        "en": (
            "Here is what you can do:\n"
            "/start — start again\n"
            "/language — change the language (English / Español)\n"
            "/mydata — get a copy of everything we store about you\n"
            "/delete — erase your personal data\n"
            "/stop — stop all surveys\n\n"
            "Or simply write to me: tell us about any experience with us, good or bad."
        ),
        "es": (
            "Esto es lo que puedes hacer:\n"
            "/start — empezar de nuevo\n"
            "/language — cambiar el idioma (English / Español)\n"
            "/mydata — recibir una copia de todo lo que guardamos sobre ti\n"
            "/delete — borrar tus datos personales\n"
            "/stop — no recibir más encuestas\n\n"
            "O simplemente escríbeme: cuéntanos cualquier experiencia con nosotros, buena o mala."
        ),
    },
    "staff_help": {
        "en": (
            "Staff commands:\n"
            "/summary [touchpoint] [7d|30d|this-month|YYYY-MM-DD..YYYY-MM-DD] [tier] — satisfaction summary\n"
            "/touchpoints — which touchpoints drive satisfaction\n"
            "/journey — where the customer journey gets blocked\n"
            "/segments — results per customer tier\n"
            "/alerts — open alerts\n"
            "/customer &lt;id&gt; — one customer's history\n"
            "/quotes &lt;touchpoint&gt; [sentiment|emotion] — telling verbatims\n"
            "Admins: /export [csv|xlsx|jsonl] [period] [touchpoint], /staff add|remove|list"
        ),
        "es": (
            "Comandos para el equipo:\n"
            "/summary [punto de contacto] [7d|30d|this-month|AAAA-MM-DD..AAAA-MM-DD] [segmento] — resumen\n"
            "/touchpoints — qué puntos de contacto mueven la satisfacción\n"
            "/journey — dónde se bloquea el recorrido del cliente\n"
            "/segments — resultados por segmento de cliente\n"
            "/alerts — alertas abiertas\n"
            "/customer &lt;id&gt; — historial de un cliente\n"
            "/quotes &lt;punto de contacto&gt; [sentimiento|emoción] — citas representativas\n"
            "Administradores: /export [csv|xlsx|jsonl] [periodo] [punto de contacto], /staff add|remove|list"
        ),
    },
    "unknown_command": {
        "en": "Sorry, I don't know that command. Type /help to see what I can do.",
        "es": "Lo siento, no conozco ese comando. Escribe /help para ver lo que puedo hacer.",
    },
    "internal_error": {
        "en": "Sorry, something went wrong on our side. Nothing you sent is lost — "
        "please try again in a moment.",
        "es": "Lo siento, algo ha fallado por nuestra parte. No se ha perdido nada de lo que enviaste: "
        "inténtalo de nuevo en un momento.",
    },
    "not_allowed": {
        "en": "Sorry, that is not available.",
        "es": "Lo siento, eso no está disponible.",
    },
}
