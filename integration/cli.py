"""The ``psinfor`` command. Sub-command groups live beside the code they drive and are attached here.

They are found through the ``psinfor.commands`` entry points, so the product's own layers (``tasks`` publishes to
the broker) and the dev kit (``sandbox``, ``demo``, installed only for development) add their commands without
this module importing them.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import click


@click.group()
@click.version_option(package_name="psinfor")
def main() -> None:
    """psinfor: PrestaShop ⇄ Infor ERP integration."""


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
