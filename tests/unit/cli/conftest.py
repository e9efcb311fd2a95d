"""The standalone emulator fixture of test_cli.py, shared with the other CLI test modules."""

from tests.unit.cli.test_cli import standalone_emulator

__all__ = ["standalone_emulator"]
