"""What simulated customers say: varied, realistic answers in English and Spanish, good days and bad days.

Written like chat messages, not survey prose: short and long, typos, emoji, irony, negation, mixed feelings.
The demo picks from these by touchpoint, mood and language, so the classifier sees the kind of text it will
meet in production.
"""

from __future__ import annotations

import random
from typing import Literal

Mood = Literal["good", "mixed", "bad"]
Language = Literal["en", "es"]
Step = Literal["expectation", "experience", "improvement", "followup"]

# The journey the demo walks every customer through (keys of the sample touchpoint map).
PURCHASE, DELIVERY, SUPPORT = "online_order", "delivery", "support_call"

EXPECTATIONS: dict[str, dict[Language, list[str]]] = {
    PURCHASE: {
        "en": [
            "I expected a quick checkout, nothing fancy",
            "Honestly just wanted to find the size I needed and pay without hassle",
            "that the discount code would actually work lol",
            "I was hoping for clear info on delivery times before paying",
            "Easy ordering like last time",
            "Expected the website to remember my address",
            "to get the jacket at the price shown in the ad",
            "nothing special, a normal online order",
        ],
        "es": [
            "Esperaba pagar rápido y sin líos",
            "que el código de descuento funcionara, la verdad",
            "Encontrar mi talla y ya",
            "Quería saber cuándo me llegaba antes de pagar",
            "lo normal, hacer el pedido en dos minutos",
            "Esperaba que la web guardara mi dirección como la otra vez",
            "comprar las zapatillas al precio del anuncio",
            "que fuera fácil, como siempre",
        ],
    },
    DELIVERY: {
        "en": [
            "Delivery on the day they promised",
            "I expected it by Tuesday as the email said",
            "that the courier would at least ring the bell",
            "Fast shipping, it said 24h",
            "package in one piece and on time, that's all",
            "I was told between 9 and 2 so I stayed home",
            "a tracking link that actually updates",
            "to get it before the weekend for my daughter's birthday",
        ],
        "es": [
            "Que llegara el día prometido",
            "Esperaba recibirlo el martes, como decía el correo",
            "que el repartidor llamara al timbre por lo menos",
            "Envío rápido, ponía 24 horas",
            "el paquete entero y a tiempo, nada más",
            "me dijeron de 9 a 14 y me quedé en casa esperando",
            "un seguimiento que se actualizara de verdad",
            "tenerlo antes del finde para el cumple de mi hija",
        ],
    },
    SUPPORT: {
        "en": [
            "I expected them to sort out my missing parcel",
            "Someone who listens and gives me a clear answer",
            "a refund for the broken item",
            "to not be transferred five times",
            "that they would fix the wrong size they sent",
            "just an update on where my order is",
            "I hoped for a quick solution, I'd already waited a week",
            "to change the delivery address",
        ],
        "es": [
            "Que me solucionaran lo del paquete perdido",
            "Alguien que escuche y me dé una respuesta clara",
            "el reembolso del producto roto",
            "no tener que contar lo mismo a cinco personas",
            "que me cambiaran la talla equivocada",
            "solo saber dónde estaba mi pedido",
            "una solución rápida, llevaba una semana esperando",
            "cambiar la dirección de entrega",
        ],
    },
}

EXPERIENCES: dict[str, dict[Language, dict[Mood, list[str]]]] = {
    PURCHASE: {
        "en": {
            "good": [
                "Super easy, paid in a minute and got the confirmation right away 👍",
                "Great, the code worked and checkout was smooth",
                "really happy, found everything I needed and the site was fast",
                "Exactly as expected, no complaints at all",
                "Loved it! Apple Pay made it so quick",
                "better than I thought, they even suggested the right size",
            ],
            "mixed": [
                "It was ok but the site was slow at checkout",
                "fine in the end, though the discount code failed twice",
                "Not bad, but I had to type my address again",
                "Average. Got it done but the delivery dates were confusing",
            ],
            "bad": [
                "Terrible, the payment failed three times and I was charged twice!!",
                "The price changed at checkout, felt like a scam",
                "awful website, it crashed and I had to start over",
                "Very frustrating, the discount code never worked and nobody answered the chat",
                "I'm disappointed, the item showed in stock and then the order was cancelled",
            ],
        },
        "es": {
            "good": [
                "Facilísimo, pagué en un minuto y me llegó la confirmación al momento 👍",
                "Genial, el código funcionó y el pago fue muy fluido",
                "muy contenta, encontré todo y la web iba rápida",
                "Tal cual lo esperaba, ninguna queja",
                "¡Me encantó! Con Bizum fue rapidísimo",
                "mejor de lo que pensaba, hasta me recomendaron la talla correcta",
            ],
            "mixed": [
                "Bien, aunque la web iba lenta al pagar",
                "al final bien, pero el código de descuento falló dos veces",
                "No estuvo mal, pero tuve que volver a escribir mi dirección",
                "Normalito. Lo conseguí pero las fechas de entrega eran confusas",
            ],
            "bad": [
                "Fatal, el pago falló tres veces y me cobraron dos!!",
                "El precio cambió al pagar, parecía una estafa",
                "web horrible, se colgó y tuve que empezar de nuevo",
                "Muy frustrante, el código nunca funcionó y nadie contestaba el chat",
                "Qué decepción, salía en stock y luego me cancelaron el pedido",
            ],
        },
    },
    DELIVERY: {
        "en": {
            "good": [
                "Arrived a day early, well packed. Brilliant!",
                "On time and the courier was really friendly",
                "perfect, got a text 30 min before and it came right on time",
                "Fast and no problems at all 😊",
                "Very good, left it with my neighbour as I asked",
            ],
            "mixed": [
                "It came, but a day late and without any notice",
                "OK in the end, the box was a bit crushed but the product was fine",
                "The tracking never updated, but it did arrive on the promised day",
                "Courier was nice but came at 8pm instead of the morning",
            ],
            "bad": [
                "Still waiting. It's been 5 days and the tracking says delivered. It's NOT here",
                "The courier left it in the rain outside the door, everything soaked",
                "Arrived broken. The box was clearly dropped",
                "Awful. I stayed home all morning and they claimed nobody was in",
                "Great, another 'attempted delivery' while I was literally at home 🙄",
                "too late for the birthday, what a letdown",
                "They delivered to the wrong address and I had to go find it myself",
            ],
        },
        "es": {
            "good": [
                "Llegó un día antes y bien embalado. ¡Genial!",
                "Puntual y el repartidor muy amable",
                "perfecto, me avisaron media hora antes y llegó a su hora",
                "Rápido y sin ningún problema 😊",
                "Muy bien, lo dejaron con mi vecina como pedí",
            ],
            "mixed": [
                "Llegó, pero un día tarde y sin avisar",
                "Bien al final, la caja venía algo aplastada pero el producto bien",
                "El seguimiento no se actualizó nunca, pero llegó el día prometido",
                "El repartidor fue amable pero vino a las 8 de la tarde en vez de por la mañana",
            ],
            "bad": [
                "Sigo esperando. Van 5 días y el seguimiento dice entregado. NO está aquí",
                "El repartidor lo dejó en la puerta bajo la lluvia, todo empapado",
                "Llegó roto. Se nota que la caja se cayó",
                "Horrible. Me quedé toda la mañana en casa y dicen que no había nadie",
                "Genial, otro 'intento de entrega' mientras yo estaba en casa 🙄",
                "llegó tarde para el cumpleaños, qué decepción",
                "Lo entregaron en otra dirección y tuve que ir a buscarlo yo",
            ],
        },
    },
    SUPPORT: {
        "en": {
            "good": [
                "Sofia on the phone was amazing, refund done in 5 minutes",
                "Really helpful, they found my parcel and sent it the next day",
                "quick and kind, problem solved on the first call",
                "Much better than I feared, they called me back as promised",
            ],
            "mixed": [
                "They were nice but I still don't have a date for the refund",
                "Solved in the end, but I waited 25 minutes on hold",
                "The agent tried, but I had to explain everything twice",
            ],
            "bad": [
                "Useless. 40 minutes on hold and then they hung up on me",
                "Nobody knows anything, they just keep telling me to wait",
                "I'm furious. Third call and still no refund",
                "They promised a callback that never came",
                "Rude agent, no solution, I will not order again",
            ],
        },
        "es": {
            "good": [
                "Sofía al teléfono fue estupenda, reembolso hecho en 5 minutos",
                "Muy útiles, encontraron mi paquete y lo mandaron al día siguiente",
                "rápidos y amables, resuelto en la primera llamada",
                "Mucho mejor de lo que temía, me devolvieron la llamada como dijeron",
            ],
            "mixed": [
                "Fueron amables pero sigo sin fecha para el reembolso",
                "Al final se resolvió, pero estuve 25 minutos en espera",
                "La chica lo intentó, pero tuve que explicarlo todo dos veces",
            ],
            "bad": [
                "Inútiles. 40 minutos en espera y luego me colgaron",
                "Nadie sabe nada, solo me dicen que espere",
                "Estoy indignada. Tercera llamada y sigo sin reembolso",
                "Prometieron llamarme y nunca lo hicieron",
                "Agente borde, ninguna solución, no vuelvo a comprar",
            ],
        },
    },
}

IMPROVEMENTS: dict[Language, list[str]] = {
    "en": [
        "Just tell me the truth about delivery times",
        "Answer the phone! And call back when you say you will",
        "Refund me and check your couriers",
        "Better packaging and a courier who actually rings",
        "Give your agents the power to solve things on the first call",
        "A real tracking link would have saved me a lot of stress",
        "Fix the checkout, it's been broken for weeks",
    ],
    "es": [
        "Simplemente decir la verdad sobre los plazos de entrega",
        "¡Coger el teléfono! Y llamar cuando decís que vais a llamar",
        "Devolverme el dinero y revisar a los repartidores",
        "Mejor embalaje y un repartidor que llame al timbre",
        "Que los agentes puedan solucionar las cosas en la primera llamada",
        "Un seguimiento real me habría ahorrado mucho estrés",
        "Arreglar el pago de la web, lleva semanas fallando",
    ],
}

# Answers to the recovery follow-up ("is everything right now?") after staff resolved an alert.
FOLLOWUPS: dict[Language, dict[Mood, list[str]]] = {
    "en": {
        "good": [
            "Yes, they called me and sorted it out. Thanks for following up!",
            "All good now, refund arrived yesterday 🙂",
            "Much better, the replacement came quickly",
        ],
        "mixed": ["Sort of, the refund came but only half of it", "It's fixed, but it took way too long"],
        "bad": ["No, nobody ever contacted me", "Still not solved. Very disappointed"],
    },
    "es": {
        "good": [
            "Sí, me llamaron y lo solucionaron. ¡Gracias por preguntar!",
            "Todo bien ya, el reembolso llegó ayer 🙂",
            "Mucho mejor, el cambio llegó rapidísimo",
        ],
        "mixed": ["Más o menos, me devolvieron solo la mitad", "Está arreglado, pero tardó demasiado"],
        "bad": ["No, nadie se puso en contacto conmigo", "Sigue sin resolverse. Muy decepcionada"],
    },
}

# How a rating is typed when the customer does not press a button.
TYPED_RATINGS: dict[Language, dict[int, list[str]]] = {
    "en": {1: ["1", "1/5", "one"], 2: ["2", "2/5", "⭐⭐"], 3: ["3", "3/5", "three"],
           4: ["4", "4/5", "⭐⭐⭐⭐"], 5: ["5", "5/5", "five!", "⭐⭐⭐⭐⭐"]},
    "es": {1: ["1", "1/5", "uno"], 2: ["2", "2/5", "dos"], 3: ["3", "3/5", "tres"],
           4: ["4", "4/5", "cuatro"], 5: ["5", "5/5", "cinco!", "⭐⭐⭐⭐⭐"]},
}  # fmt: skip

FIRST_NAMES: dict[Language, list[str]] = {
    "en": ["Emma", "Oliver", "Ava", "Liam", "Mia", "Noah", "Grace", "Jack", "Chloe", "Harry", "Ruby", "Leo"],
    "es": [
        "Lucía",
        "Hugo",
        "Martina",
        "Mateo",
        "Sofía",
        "Pablo",
        "Valeria",
        "Diego",
        "Carmen",
        "Álvaro",
        "Inés",
    ],
}
TIME_ZONES: dict[Language, list[str]] = {
    "en": ["Europe/London", "Europe/Dublin", "America/New_York"],
    "es": ["Europe/Madrid", "America/Mexico_City", "America/Bogota"],
}

# Chance of each mood per touchpoint: deliveries go wrong most often, as in real CX data.
MOOD_ODDS: dict[str, tuple[float, float, float]] = {
    PURCHASE: (0.68, 0.20, 0.12),
    DELIVERY: (0.52, 0.20, 0.28),
    SUPPORT: (0.50, 0.20, 0.30),
}


def pick_mood(rng: random.Random, touchpoint: str, *, grumpy: bool = False) -> Mood:
    good, mixed, _ = MOOD_ODDS.get(touchpoint, (0.6, 0.25, 0.15))
    if grumpy:  # a customer already let down is harder to please
        good, mixed = good * 0.6, mixed * 1.2
    roll = rng.random()
    return "good" if roll < good else "mixed" if roll < good + mixed else "bad"


def rating_for(rng: random.Random, mood: Mood) -> int:
    if mood == "good":
        return rng.choice((4, 5, 5))
    if mood == "mixed":
        return rng.choice((2, 3, 3, 4))
    return rng.choice((1, 1, 2))


def answer(rng: random.Random, step: Step, touchpoint: str | None, mood: Mood, language: Language) -> str:
    """A text answer for *step*; touchpoints outside the journey (general feedback) borrow the delivery's."""
    key = touchpoint if touchpoint in EXPERIENCES else DELIVERY
    if step == "expectation":
        return rng.choice(EXPECTATIONS[key][language])
    if step == "experience":
        return rng.choice(EXPERIENCES[key][language][mood])
    if step == "followup":
        return rng.choice(FOLLOWUPS[language][mood])
    return rng.choice(IMPROVEMENTS[language])


def typed_rating(rng: random.Random, rating: int, language: Language) -> str:
    return rng.choice(TYPED_RATINGS[language][rating])
