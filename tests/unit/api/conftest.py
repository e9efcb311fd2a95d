"""The API fixtures of test_server.py, shared with the other API test modules."""

from tests.unit.api.test_server import api, open_api

__all__ = ["api", "open_api"]
