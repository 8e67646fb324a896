"""``psinfor stock``: the full stock reconcile by hand, and the M3 items the shop does not have.

The reconcile runs here, in this process (no broker): it reads both sides whole, corrects what differs row by
row through the stock flow's writer (rate limit and per-row retries included) and prints its report. The
nightly run is the stock flow's ``reconcile`` poller, which hands the differences to the workers instead.
"""

from __future__ import annotations

import click

from integration.jsonutil import dumps
from integration.runtime import get_runtime


@click.group()
def stock() -> None:
    """Stock, Infor → shop: reconcile everything, list unknown items."""


@stock.command("reconcile")
@click.option("--dry-run", is_flag=True, help="compare and report; change nothing (no write, no binding)")
@click.option("--connection", default="default", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="the report as JSON")
def reconcile_command(dry_run: bool, connection: str, as_json: bool) -> None:
    """Read every M3 balance and every shop stock row, and correct each difference."""
    from integration.flows.inventory import inline_apply, reconcile

    rt = get_runtime()
    report = reconcile(rt, connection, dry_run=dry_run, apply=None if dry_run else inline_apply(rt, connection))
    if as_json:
        click.echo(dumps(report.as_dict(), indent=2))
        return
    verb = "would write" if dry_run else "written"
    click.echo(f"stock reconcile ({connection}){' — dry run, nothing changed' if dry_run else ''}")
    click.echo(f"  M3 items read            : {report.infor_items}")
    click.echo(f"  shop rows read           : {report.shop_rows}")
    click.echo(f"  rows compared            : {report.compared}")
    click.echo(f"  differences found        : {report.differences}")
    click.echo(f"  {verb:<25}: {report.differences if dry_run else report.written}")
    click.echo(f"  bound by reference/table : {report.newly_bound}")
    click.echo(f"  M3 items not in the shop : {report.unknown_in_shop}")
    click.echo(f"  shop rows not in M3      : {report.unknown_in_infor}")
    click.echo(f"  seconds                  : {report.seconds}")
    for kind in ("differences", "unknown_in_shop", "unknown_in_infor"):
        examples = report.examples.get(kind)
        if examples:
            click.echo(f"  e.g. {kind.replace('_', ' ')}: " + ", ".join(str(e) for e in examples[:5]))
    if report.unknown_in_shop:
        click.echo("  Resolution: create the missing items through the item flow, or map them (a shop reference "
                   "equal to the item number, or mappings/variants.yaml table)")


@stock.command("unknown")
@click.option("--connection", default="default", show_default=True)
@click.option("--limit", default=200, show_default=True)
def unknown_command(connection: str, limit: int) -> None:
    """M3 items the stock flow met that the shop does not have (each was reported once, when first met)."""
    rows = get_runtime().store.unknown_items(connection, limit=limit)
    if not rows:
        click.echo("every M3 item met so far is in the shop")
    for row in rows:
        click.echo(f"{row.item_number:<16} seen {row.times_seen} times since {row.first_seen_at:%Y-%m-%d %H:%M}  "
                   f"({row.source})")
