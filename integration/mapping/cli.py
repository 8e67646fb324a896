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


@map_group.command("suggest")
@click.option("--target", required=True, metavar="PROGRAM/TRANSACTION",
              help="an M3 write (OIS100MI/AddBatchHead: shop fields → its fields) or an item read "
                   "(MMS200MI/Get: its fields → product fields)")
@click.option("--sample", type=click.Path(exists=True, dir_okay=False),
              help="a saved order (…/orders/ID.xml, related objects beside it) or, for an item read, an M3 "
                   "record as JSON")
@click.option("--ps-order", "ps_order", type=int, help="read this order from the configured shop as the sample")
@click.option("--connection", default="default", show_default=True, help="connection to read the shop of")
@click.option("--mappings", type=click.Path(file_okay=False), help="mapping folder (default: MAPPINGS_DIR)")
@click.option("--top", default=3, show_default=True, help="candidates per field")
@click.option("--all", "show_all", is_flag=True, help="also list fields without a candidate")
@click.option("--json", "as_json", is_flag=True, help="print the suggestions as JSON")
def suggest_command(target: str, sample: str | None, ps_order: int | None, connection: str, mappings: str | None,
                    top: int, show_all: bool, as_json: bool) -> None:
    """Rank, for each field of an M3 transaction, the shop fields that should fill it (offline; the
    transaction's own mapping is never read). Nothing is written."""
    from integration.ai.suggest import is_read, suggest

    if sample and ps_order is not None:
        raise click.UsageError("give --sample or --ps-order, not both")
    program, _, transaction = target.partition("/")
    try:
        engine = _engine(mappings)
        bundle = record = None
        if sample and is_read(transaction):
            record = _m3_record(Path(sample))
        elif sample:
            from .preview import read_bundle_from_file

            bundle = read_bundle_from_file(sample)
        elif ps_order is not None:
            from .preview import read_bundle_from_shop

            bundle = read_bundle_from_shop(ps_order, connection)
        result = suggest(program.upper(), transaction, config=engine.config, bundle=bundle, m3_record=record, top=top)
    except KeyError:
        click.echo(f"unknown transaction {target!r}: integration/connectors/infor/m3_metadata.json does not have it",
                   err=True)
        sys.exit(1)
    except IntegrationError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    if not show_all:
        result["suggestions"] = [s for s in result["suggestions"] if s["candidates"] or s["required"]]
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"{result['target']} ({result['direction'].replace('_', ' ')})")
    for s in result["suggestions"]:
        mark = "*" if s["required"] else " "
        click.echo(f"{mark} {s['field']:<28} {s['description']}")
        for c in s["candidates"]:
            transform = f"  [{c['transform']}]" if c["transform"] else ""
            click.echo(f"      {c['score']:.2f}  {c['source']}{transform}  — {c['why']}")
        if not s["candidates"]:
            click.echo("      (no shop field fits: a constant or an enrichment rule?)")


def _m3_record(path: Path) -> dict[str, str]:
    """An M3 record from JSON: a plain {FIELD: value} or an MI REST answer (results[0].records[0])."""
    data = json.loads(path.read_text("utf-8"))
    if isinstance(data, dict) and "results" in data:
        data = data["results"][0]["records"][0]
    if not isinstance(data, dict):
        raise click.UsageError(f"{path}: expected a JSON object of M3 fields")
    return {str(k): str(v) for k, v in data.items() if not str(k).startswith("_")}
