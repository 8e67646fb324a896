"""``psinfor map``: check the mapping files and preview what an order becomes, without sending anything."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from integration.errors import IntegrationError


def _engine(mappings: str | None):  # type: ignore[no-untyped-def]
    from integration.config import load_settings

    from .engine import MappingEngine

    directory = Path(mappings) if mappings else load_settings().mappings_dir
    return MappingEngine.load(directory)


@click.group(name="map")
def map_group() -> None:
    """Mapping files: check them, preview their effect."""


@map_group.command("check")
@click.option("--mappings", type=click.Path(file_okay=False), help="mapping folder (default: MAPPINGS_DIR)")
def check(mappings: str | None) -> None:
    """Load and check every mapping file; list every problem with its file and key."""
    try:
        engine = _engine(mappings)
    except IntegrationError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"mapping files in {engine.config.directory}: OK")


@map_group.group("preview")
def preview() -> None:
    """Show the canonical record, the Infor transactions and the validation result."""


@preview.command("order")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--ps-order", "ps_order", type=int, help="read this order from the configured shop")
@click.option("--connection", default="default", show_default=True, help="connection to read the shop of")
@click.option("--mappings", type=click.Path(file_okay=False), help="mapping folder (default: MAPPINGS_DIR)")
@click.option("--json", "as_json", is_flag=True, help="print JSON: canonical, infor, validation")
def preview_order_command(file: str | None, ps_order: int | None, connection: str, mappings: str | None,
                          as_json: bool) -> None:
    """Preview one order: FILE is webservice XML saved as …/orders/ID.xml (customers/, addresses/,
    currencies/, countries/… beside it), or --ps-order ID reads it from the shop. Nothing is written."""
    from .preview import preview_order, read_bundle_from_file, read_bundle_from_shop, render_text

    if (file is None) == (ps_order is None):
        raise click.UsageError("give either FILE or --ps-order ID")
    try:
        engine = _engine(mappings)
        bundle = read_bundle_from_file(file) if file else read_bundle_from_shop(int(ps_order or 0), connection)
    except IntegrationError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    result = preview_order(engine, bundle)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(result))
