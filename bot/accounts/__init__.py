"""Accounts: who a customer is to us and who may act as staff.

Owns linking a Telegram chat to a customer (signed deep links and their QR codes), consent, language,
opt-out, erasure and the customer's own data export (``service.Accounts``), and staff/admin roles
(``roles``). Below the dialogue: it never sends a message itself.
"""
