"""Staff-facing wording of the reports (English, or Spanish for staff whose Telegram is in Spanish)."""

from __future__ import annotations

from bot.i18n import Catalogue

REPORTS: Catalogue = {
    "all_touchpoints": {"en": "all touchpoints", "es": "todos los puntos de contacto"},
    "general_feedback": {"en": "general feedback", "es": "comentarios generales"},
    "tier": {"en": "tier {tier}", "es": "segmento {tier}"},
    "summary_title": {"en": "Summary · {scope} · {period}", "es": "Resumen · {scope} · {period}"},
    "dates": {"en": "{start} to {end} ({zone})", "es": "del {start} al {end} ({zone})"},
    "responses": {
        "en": "Responses: <b>{completed}</b> of {invited} invited ({rate}) {change}",
        "es": "Respuestas: <b>{completed}</b> de {invited} invitados ({rate}) {change}",
    },
    "csat": {
        "en": "CSAT (4–5): <b>{csat}</b> of {ratings} ratings · mean {mean}/5 {change}",
        "es": "CSAT (4–5): <b>{csat}</b> de {ratings} valoraciones · media {mean}/5 {change}",
    },
    "sentiment": {
        "en": "Sentiment: 😊 {positive} · 😐 {neutral} · 😞 {negative} · net <b>{net}</b> {change}",
        "es": "Sentimiento: 😊 {positive} · 😐 {neutral} · 😞 {negative} · neto <b>{net}</b> {change}",
    },
    "emotions": {"en": "Top emotions: {emotions}", "es": "Emociones principales: {emotions}"},
    "gap": {
        "en": "Expectation → experience gap: <b>{gap}</b> over {surveys} surveys {change}",
        "es": "Brecha expectativa → experiencia: <b>{gap}</b> en {surveys} encuestas {change}",
    },
    "alerts": {
        "en": "Alerts: <b>{open}</b> open · median time to resolve {median}",
        "es": "Alertas: <b>{open}</b> abiertas · mediana hasta resolver {median}",
    },
    "vs_previous": {
        "en": "Changes are against the {days} days before.",
        "es": "Cambios frente a los {days} días anteriores.",
    },
    "ranked_header": {
        "en": "<b>Touchpoints by CSAT</b> (CSAT · ratings · net sentiment):",
        "es": "<b>Puntos de contacto por CSAT</b> (CSAT · valoraciones · sentimiento neto):",
    },
    "ranked_row": {
        "en": "{rank}. {name}: {csat} · {ratings} · {net}",
        "es": "{rank}. {name}: {csat} · {ratings} · {net}",
    },
    "no_data": {
        "en": "No answers in this period yet. Try a longer period, e.g. /summary 90d.",
        "es": "Todavía no hay respuestas en este periodo. Prueba con uno más largo, p. ej. /summary 90d.",
    },
    "next_worst": {
        "en": "Next: {name} has the lowest CSAT — /summary {key} {period} for details, /quotes {key} "
        "negative "
        "to read why.",
        "es": "Siguiente paso: {name} tiene el CSAT más bajo — /summary {key} {period} para el detalle, "
        "/quotes {key} negative para leer por qué.",
    },
    "next_touchpoint": {
        "en": "Next: /quotes {key} negative to read the most negative answers, /alerts to act on open "
        "alerts.",
        "es": "Siguiente paso: /quotes {key} negative para leer las respuestas más negativas, /alerts para "
        "atender las alertas abiertas.",
    },
    "next_alerts": {
        "en": "Next: {open} alerts are waiting — /alerts lists them oldest first.",
        "es": "Siguiente paso: hay {open} alertas esperando — /alerts las muestra de la más antigua a la "
        "más nueva.",
    },
    "chart_csat_title": {
        "en": "CSAT by touchpoint · {period}",
        "es": "CSAT por punto de contacto · {period}",
    },
    "chart_ratings_title": {"en": "Ratings · {scope} · {period}", "es": "Valoraciones · {scope} · {period}"},
    "chart_csat_axis": {"en": "CSAT (share of 4–5 ratings, %)", "es": "CSAT (porcentaje de 4–5)"},
    "chart_ratings_axis": {"en": "number of ratings", "es": "número de valoraciones"},
    "bad_argument": {
        "en": "I don't understand “{value}”. Use a touchpoint ({touchpoints}), a period (7d, 30d, "
        "this-month or "
        "YYYY-MM-DD..YYYY-MM-DD) or a customer tier ({tiers}). Example: /summary delivery 7d",
        "es": "No entiendo «{value}». Usa un punto de contacto ({touchpoints}), un periodo (7d, 30d, "
        "this-month "
        "o AAAA-MM-DD..AAAA-MM-DD) o un segmento de cliente ({tiers}). Ejemplo: /summary delivery 7d",
    },
    "bad_period": {
        "en": "That period doesn't work: {reason}. Example: /summary 7d or /summary 2026-01-01..2026-01-31",
        "es": "Ese periodo no sirve: {reason}. Ejemplo: /summary 7d o /summary 2026-01-01..2026-01-31",
    },
    # /touchpoints
    "drivers_title": {
        "en": "What drives satisfaction · {period}",
        "es": "Qué mueve la satisfacción · {period}",
    },
    "drivers_header": {
        "en": "<b>Key drivers</b> (experience vs the customer's overall rating, × weight):",
        "es": "<b>Factores clave</b> (experiencia frente a la valoración global del cliente, × peso):",
    },
    "driver_row": {
        "en": "{rank}. {name}: impact <b>{impact}</b> (r {r} × weight {weight}, {customers} customers)",
        "es": "{rank}. {name}: impacto <b>{impact}</b> (r {r} × peso {weight}, {customers} clientes)",
    },
    "driver_thin": {
        "en": "· {name}: not enough customers yet ({customers})",
        "es": "· {name}: aún no hay suficientes clientes ({customers})",
    },
    "gaps_header": {
        "en": "<b>Widest expectation → experience gaps</b> (most negative first):",
        "es": "<b>Mayores brechas expectativa → experiencia</b> (la más negativa primero):",
    },
    "gap_row": {
        "en": "· {name}: {gap} over {surveys} surveys",
        "es": "· {name}: {gap} en {surveys} encuestas",
    },
    "outcomes_header": {
        "en": "<b>Business outcomes</b> (came back within {window}; where experience matters most):",
        "es": "<b>Resultados de negocio</b> (volvió en {window}; donde más pesa la experiencia):",
    },
    "outcome_row": {
        "en": "· {name}: after a positive experience {good} came back, after a negative one {bad}",
        "es": "· {name}: tras una experiencia positiva volvió el {good}, tras una negativa el {bad}",
    },
    "outcome_amounts": {
        "en": "  amount per visit {good_amount} vs {bad_amount}; spent afterwards {good_later} vs "
        "{bad_later}",
        "es": "  importe por visita {good_amount} frente a {bad_amount}; gastado después {good_later} "
        "frente a "
        "{bad_later}",
    },
    "drivers_none": {
        "en": "Not enough answers in this period to rank touchpoints. Try /touchpoints 90d.",
        "es": "No hay suficientes respuestas en este periodo para ordenar los puntos de contacto. "
        "Prueba /touchpoints 90d.",
    },
    "drivers_next": {
        "en": "Next: improve {name} first — it moves overall satisfaction most. /quotes {key} negative "
        "shows why.",
        "es": "Siguiente paso: mejora primero {name}, es lo que más mueve la satisfacción global. "
        "/quotes {key} negative muestra por qué.",
    },
    "chart_drivers_title": {
        "en": "Key drivers of satisfaction · {period}",
        "es": "Factores clave de la satisfacción · {period}",
    },
    "chart_drivers_axis": {"en": "impact (correlation × weight)", "es": "impacto (correlación × peso)"},
    # /journey
    "journey_title": {"en": "Customer journey · {period}", "es": "Recorrido del cliente · {period}"},
    "journey_header": {
        "en": "<b>Transitions</b> (customers · share turning negative):",
        "es": "<b>Transiciones</b> (clientes · porcentaje que pasa a negativo):",
    },
    "journey_row": {"en": "· {a} → {b}: {count} · {negative}", "es": "· {a} → {b}: {count} · {negative}"},
    "dropout_header": {
        "en": "<b>Drop-out</b> (no next touchpoint within {window}):",
        "es": "<b>Abandono</b> (ningún punto de contacto siguiente en {window}):",
    },
    "dropout_row": {"en": "· after {name}: {share} of {count}", "es": "· tras {name}: {share} de {count}"},
    "journey_congested": {
        "en": "⚠️ Congested: {a} → {b} — {negative} turn negative.",
        "es": "⚠️ Congestión: {a} → {b} — el {negative} pasa a negativo.",
    },
    "journey_blocked": {
        "en": "⛔ Blocked: after {name} {share} of customers go no further.",
        "es": "⛔ Bloqueo: tras {name} el {share} de los clientes no sigue.",
    },
    "journey_none": {
        "en": "No customer has two touchpoints in this period yet. Try /journey 90d.",
        "es": "Ningún cliente tiene todavía dos puntos de contacto en este periodo. Prueba /journey 90d.",
    },
    "journey_next": {
        "en": "Next: /summary {key} to look at the step where the journey suffers most.",
        "es": "Siguiente paso: /summary {key} para ver el paso donde más sufre el recorrido.",
    },
    "chart_journey_title": {
        "en": "Journey transitions · {period}",
        "es": "Transiciones del recorrido · {period}",
    },
    "chart_journey_axis": {
        "en": "customers (label: share turning negative)",
        "es": "clientes (etiqueta: porcentaje que pasa a negativo)",
    },
    # /segments
    "segments_title": {"en": "Results per tier · {period}", "es": "Resultados por segmento · {period}"},
    "segment_row": {
        "en": "{flag} <b>{tier}</b>: CSAT {csat} (minimum {minimum}) · {ratings} ratings · mean {mean}/5 · "
        "net {net}",
        "es": "{flag} <b>{tier}</b>: CSAT {csat} (mínimo {minimum}) · {ratings} valoraciones · media "
        "{mean}/5 · "
        "neto {net}",
    },
    "segment_below": {
        "en": "Below the minimum: {tiers}. Next: /summary {tier} to see which touchpoints let them down.",
        "es": "Por debajo del mínimo: {tiers}. Siguiente paso: /summary {tier} para ver qué puntos de "
        "contacto "
        "les fallan.",
    },
    "segment_all_ok": {
        "en": "Every tier with a minimum meets it. Next: /touchpoints to see what would lift satisfaction "
        "further.",
        "es": "Todos los segmentos con mínimo lo cumplen. Siguiente paso: /touchpoints para ver qué subiría "
        "más la satisfacción.",
    },
    "segments_none": {
        "en": "No ratings in this period yet. Try /segments 90d.",
        "es": "Todavía no hay valoraciones en este periodo. Prueba /segments 90d.",
    },
    "no_minimum": {"en": "none set", "es": "sin definir"},
    # /customer
    "customer_usage": {
        "en": "Tell me whose history: /customer &lt;external id&gt;, e.g. /customer C-1042",
        "es": "Dime de quién: /customer &lt;id externo&gt;, p. ej. /customer C-1042",
    },
    "customer_unknown": {
        "en": "No customer has the id “{id}”. Check the spelling (ids are the company's own customer ids).",
        "es": "Ningún cliente tiene el id «{id}». Revisa cómo está escrito (es el id de cliente de la "
        "empresa).",
    },
    "customer_title": {"en": "Customer {id}", "es": "Cliente {id}"},
    "customer_profile": {
        "en": "Tier {tier} · language {language} · consent {consent} · {linked} · {events} touchpoint events",
        "es": "Segmento {tier} · idioma {language} · consentimiento {consent} · {linked} · {events} eventos",
    },
    "linked": {"en": "on Telegram", "es": "en Telegram"},
    "not_linked": {"en": "not on Telegram", "es": "sin Telegram"},
    "erased": {
        "en": "Personal data erased on request; ratings and labels remain.",
        "es": "Datos personales borrados a petición; quedan valoraciones y etiquetas.",
    },
    "customer_no_surveys": {
        "en": "No surveys or feedback yet.",
        "es": "Todavía sin encuestas ni comentarios.",
    },
    "customer_alerts": {"en": "<b>Alerts</b>:", "es": "<b>Alertas</b>:"},
    "customer_next": {
        "en": "Next: /alerts to act on open alerts.",
        "es": "Siguiente paso: /alerts para atender las alertas abiertas.",
    },
    # /quotes
    "quotes_usage": {
        "en": "Which touchpoint? /quotes &lt;touchpoint&gt; [sentiment or emotion], e.g. /quotes delivery "
        "negative. "
        "Touchpoints: {touchpoints}",
        "es": "¿Qué punto de contacto? /quotes &lt;punto&gt; [sentimiento o emoción], p. ej. /quotes "
        "delivery "
        "negative. Puntos: {touchpoints}",
    },
    "quotes_bad_filter": {
        "en": "“{value}” is neither a sentiment (negative, neutral, positive) nor an emotion we have seen "
        "({emotions}).",
        "es": "«{value}» no es un sentimiento (negative, neutral, positive) ni una emoción registrada "
        "({emotions}).",
    },
    "quotes_title": {
        "en": "Quotes · {name} · {filter} · {period}",
        "es": "Citas · {name} · {filter} · {period}",
    },
    "quotes_most_telling": {"en": "most telling", "es": "más representativas"},
    "quotes_none": {
        "en": "No matching answers in this period. Try a longer period: /quotes {key} {filter} 90d",
        "es": "No hay respuestas que encajen en este periodo. Prueba uno más largo: /quotes {key} {filter} "
        "90d",
    },
    "quotes_next": {
        "en": "Next: /customer &lt;id&gt; for a customer's full history, /summary {key} for the figures.",
        "es": "Siguiente paso: /customer &lt;id&gt; para el historial de un cliente, /summary {key} para "
        "las cifras.",
    },
    # /alerts
    "alerts_none": {
        "en": "No open alerts. 🎉 Next: /summary to see how customers feel overall.",
        "es": "No hay alertas abiertas. 🎉 Siguiente paso: /summary para ver cómo se sienten los clientes.",
    },
    "alerts_header": {
        "en": "<b>{count} open alerts</b>, oldest first{more}:",
        "es": "<b>{count} alertas abiertas</b>, de la más antigua a la más nueva{more}:",
    },
    "alerts_more": {"en": " (showing the first {shown})", "es": " (se muestran las primeras {shown})"},
    # digest
    "digest_daily": {"en": "☀️ Daily digest", "es": "☀️ Resumen diario"},
    "digest_weekly": {"en": "📅 Weekly digest", "es": "📅 Resumen semanal"},
}
