"""The ``psinfor`` command. Sub-command groups live beside the code they drive and are attached here.

They are found through the ``psinfor.commands`` entry points, so the product's own layers (``tasks`` publishes to
the broker) and the dev kit (``sandbox``, ``demo``, installed only for development) add their commands without
this module importing them.

Invariant: an error an operator can act on (a bad setting, an unknown record, a database or broker that does not
answer) is one line on stderr and a non-zero exit status, never a traceback. Logs go to stderr, as JSON unless
``--log-format console``, redacted like every process's.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import click

from integration.cli_support import EX_CONFIG, EX_UNAVAILABLE, CliError, describe_unavailable
from integration.errors import ConfigurationError, IntegrationError, infrastructure_transient_types


class _Main(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        from integration.startup import one_line

        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            raise CliError(one_line(exc), EX_CONFIG) from None
        except IntegrationError as exc:
            raise CliError(one_line(exc)) from None
        except infrastructure_transient_types() as exc:
            raise CliError(describe_unavailable(exc), EX_UNAVAILABLE) from None


@click.group(cls=_Main)
@click.version_option(package_name="psinfor")
@click.option("--log-format", type=click.Choice(["json", "console"]), envvar="LOG_FORMAT", default="json",
              show_default=True, help="how log lines (on stderr) are written")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              envvar="PSINFOR_CLI_LOG_LEVEL", default="WARNING", show_default=True)
def main(log_format: str, log_level: str) -> None:
    """psinfor: PrestaShop ⇄ Infor ERP integration."""
    from integration.observability import configure_logging

    configure_logging(log_level, log_format)


def _attach_commands() -> None:
    for entry in sorted(entry_points(group="psinfor.commands"), key=lambda e: e.name):
        try:
            command = entry.load()
        except ModuleNotFoundError as exc:  # a dev-kit entry point left behind by an uninstalled package
            if exc.name and entry.value.startswith(exc.name):
                continue
            raise
        main.add_command(command, entry.name)


_attach_commands()
