"""Service recovery: an unhappy customer becomes an alert card in the owning team's chat.

``alerts`` opens, posts and updates alerts and answers the staff's [Acknowledge / Resolve] presses (a
resolved alert schedules a follow-up survey); ``cards`` renders the open-alert queue for /alerts.
"""
