"""The ``psinfor`` command. Sub-command groups live beside the code they drive and are attached here."""

from __future__ import annotations

import importlib

import click


@click.group()
@click.version_option(package_name="psinfor")
def main() -> None:
    """psinfor: PrestaShop ⇄ Infor ERP integration."""


# (module, attribute): each module owns one click group; a missing module is skipped while it is being built.
_SUBCOMMANDS = (
    ("integration.sandbox.cli", "sandbox"),
    ("integration.mapping.cli", "map_group"),
    ("integration.ops_cli", "db"),
    ("integration.ops_cli", "events"),
    ("tasks.cli", "dlq"),
    ("tasks.cli", "resync"),
    ("integration.demo", "demo"),
)

for _module, _attr in _SUBCOMMANDS:
    try:
        main.add_command(getattr(importlib.import_module(_module), _attr))
    except ModuleNotFoundError as _exc:
        if not (_exc.name and _module.startswith(_exc.name)):
            raise
