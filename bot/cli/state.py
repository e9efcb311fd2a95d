"""What every `momento` command is handed: where the config and the secrets are, and the settings from them.

Its own module so the command modules and bot/cli/main.py, which registers them, never import each other.
"""

from __future__ import annotations

import click

from bot.config import ConfigError, Settings, install_redaction, load_settings


class CliState:
    def __init__(self, config: str | None, secrets: str | None, debug: bool = False) -> None:
        self.config = config
        self.secrets = secrets
        # `momento --debug CMD`: a failure also prints its traceback (secrets still redacted).
        self.debug = debug

    def settings(self, *, require_file: bool = True) -> Settings:
        """The settings; from here on no log line of this process shows one of their secrets."""
        try:
            settings = load_settings(self.config, secrets_file=self.secrets, require_file=require_file)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        install_redaction(settings)
        return settings


pass_state = click.make_pass_decorator(CliState)
