"""The command menus Telegram shows: customers in private chats, staff in the staff chat and admins' chats."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MenuEntry:
    command: str
    en: str
    es: str


CUSTOMER_MENU: tuple[MenuEntry, ...] = (
    MenuEntry("start", "Start or restart", "Empezar o reiniciar"),
    MenuEntry("help", "What I can do", "Qué puedo hacer"),
    MenuEntry("language", "Change language", "Cambiar idioma"),
    MenuEntry("mydata", "Get a copy of your data", "Recibir una copia de tus datos"),
    MenuEntry("delete", "Erase your personal data", "Borrar tus datos personales"),
    MenuEntry("stop", "Stop all surveys", "No recibir más encuestas"),
)

STAFF_MENU: tuple[MenuEntry, ...] = (
    MenuEntry("summary", "Satisfaction summary", "Resumen de satisfacción"),
    MenuEntry("touchpoints", "What drives satisfaction", "Qué mueve la satisfacción"),
    MenuEntry("journey", "Where the journey gets blocked", "Dónde se bloquea el recorrido"),
    MenuEntry("segments", "Results per customer tier", "Resultados por segmento"),
    MenuEntry("alerts", "Open alerts", "Alertas abiertas"),
    MenuEntry("customer", "One customer's history", "Historial de un cliente"),
    MenuEntry("quotes", "Telling verbatims", "Citas representativas"),
    MenuEntry("help", "Staff commands", "Comandos del equipo"),
)

ADMIN_MENU: tuple[MenuEntry, ...] = (
    *STAFF_MENU,
    MenuEntry("export", "Export results", "Exportar resultados"),
    MenuEntry("staff", "Manage staff", "Gestionar el equipo"),
)
