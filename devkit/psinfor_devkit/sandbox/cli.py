"""``psinfor sandbox prestashop|infor``: each sandbox package owns its command."""

from __future__ import annotations

import importlib

import click


@click.group()
def sandbox() -> None:
    """Run the PrestaShop or Infor sandbox (faithful HTTP emulators for demos, tests and benchmarks)."""


for _module in ("psinfor_devkit.sandbox.prestashop.cli", "psinfor_devkit.sandbox.infor.cli"):
    try:
        sandbox.add_command(importlib.import_module(_module).command)
    except ModuleNotFoundError as _exc:
        if not (_exc.name and _module.startswith(_exc.name)):
            raise
