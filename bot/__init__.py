"""Momento's Telegram side: composition root, handlers, CLI and the plain-async CX logic they drive."""
