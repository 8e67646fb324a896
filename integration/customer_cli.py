"""``psinfor customer show ID|EMAIL`` (the customer 360 view) and ``psinfor reconcile orders --since DATE``.

Both read the shop and M3 live (through the connection's clients) and the store; neither writes anything, except
``reconcile orders --keep``, which stores the run like the nightly one.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import click

from integration.jsonutil import dumps


def _runtime() -> Any:
    from integration.runtime import get_runtime

    return get_runtime()


def _money(value: object) -> str:
    if value in (None, ""):
        return "-"
    return format(Decimal(str(value)), "f")


@click.group()
def customer() -> None:
    """Customers: one customer across the shop and M3."""


@customer.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="the whole view as JSON (what the console shows)")
@click.option("--connection", default="default", show_default=True)
@click.option("--history", default=20, show_default=True, help="events of the customer's history to show")
def customer_show(key: str, as_json: bool, connection: str, history: int) -> None:
    """Show a customer by shop id or e-mail: both records side by side, orders, invoices, payments, history."""
    from integration.customer360 import CustomerNotFound, customer_360

    try:
        view = customer_360(_runtime(), connection, key, history=history)
    except CustomerNotFound as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(dumps(view, indent=2))
        return
    print_view(view)


def print_view(view: dict[str, Any]) -> None:
    c = view["customer"]
    flags = [f for f, on in (("guest", c["guest"]), ("inactive", not c["active"]), ("CREDIT STOP", c["credit_stop"]))
             if on]
    m3 = f"M3 {c['cuno']} ({c['how_bound']})" if c["cuno"] else "not in M3 yet"
    click.echo(f"customer {c['ps_id']}  {c['name']} <{c['email']}>  group {c['group']}  {m3}"
               + (f"  [{', '.join(flags)}]" if flags else ""))
    if view["fields"]:
        click.echo(f"\n  {'field':<15} {'shop':<36} {'M3':<36} owner")
        for f in view["fields"]:
            mark = "*" if f["differs"] else " "
            click.echo(f"{mark} {f['field']:<15} {f['shop'][:36]:<36} {f['m3'][:36]:<36} {f['owner'] or '-'}")
        if view["differences"]:
            click.echo(f"  * differs: {', '.join(view['differences'])}")
    click.echo("\naddresses")
    for a in view["shop"]["addresses"]:
        gone = " (deleted)" if a.get("deleted") else ""
        click.echo(f"  {a['id']:>6}  {a.get('address1', '')}, {a.get('postcode', '')} {a.get('city', '')}{gone}  "
                   f"→ M3 {a.get('m3_address') or '-'}")
    click.echo("\norders")
    if not view["orders"]:
        click.echo("  none")
    for o in view["orders"]:
        m3 = f"M3 {o['orno']} status {o['m3_status'] or '-'}" if o["orno"] else "not in M3"
        click.echo(f"  {o['id']:>6}  {o['reference']}  {str(o['date'])[:10]}  {o['state']:<18} "
                   f"{_money(o['total'])}  {m3}")
        for d in o["deliveries"]:
            click.echo(f"          delivery {d['dlix']}  tracking {d['tracking_number'] or '-'}  ({d['carrier']})")
        for i in o["invoices"]:
            click.echo(f"          invoice {i['key']} of {i['date']}: {_money(i['amount'])} {i['currency']}, "
                       f"paid {_money(i['paid'])}, open {_money(i['open'])} ({i['status']})")
        for p in o["payments"]:
            click.echo(f"          payment {_money(p['amount'])} by {p['payment_method']} ({p['transaction_id']})")
    click.echo(f"\nopen amount in M3: {_money(view['open_amount'])}")
    click.echo("\nhistory")
    for e in view["events"]:
        detail = e["error"] or (e["result"] or {}).get("skipped") or ""
        click.echo(f"  #{e['id']:<6} {e['created_at'][:19]}  {e['entity']:<12} {e['source_id']:<14} "
                   f"{e['event_type']:<24} {e['status']:<10} {str(detail)[:60]}")


@click.group()
def reconcile() -> None:
    """Order-to-cash reconciliation between the shop and M3."""


def _day(value: str, tz: ZoneInfo) -> datetime:
    try:
        return datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time(), tzinfo=tz)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@reconcile.command("orders")
@click.option("--since", required=True, help="first order date, YYYY-MM-DD (shop time)")
@click.option("--until", default=None, help="last order date, YYYY-MM-DD (default: today)")
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per difference")
@click.option("--keep", is_flag=True, help="store the run in the database, like the nightly one")
@click.option("--connection", default="default", show_default=True)
def reconcile_orders(since: str, until: str | None, as_json: bool, as_csv: bool, keep: bool,
                     connection: str) -> None:
    """Per order: shop total, M3 order value, invoiced and paid amounts, and differences with their cause."""
    from integration.reconcile import run, summary, to_csv

    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    rt = _runtime()
    tz = ZoneInfo(rt.connection(connection).prestashop.timezone)
    start = _day(since, tz)
    end = _day(until, tz) + timedelta(days=1) if until else datetime.now(UTC)
    lines = run(rt, connection, start, end, keep=keep)
    if as_json:
        click.echo(dumps({"since": start.isoformat(), "until": end.isoformat(), "summary": summary(lines),
                          "orders": lines}, indent=2))
        return
    if as_csv:
        sys.stdout.write(to_csv(lines))
        return
    click.echo(f"{'order':>7} {'ref':<10} {'M3 order':<11} {'cur':<4} {'shop total':>11} {'M3 value':>11} "
               f"{'invoiced':>11} {'shop paid':>11} {'M3 paid':>11}  status")
    for line in lines:
        click.echo(f"{line['ps_order_id']:>7} {line['reference']:<10} {line['orno'] or '-':<11} {line['currency']:<4} "
                   f"{_money(line['shop_total']):>11} {_money(line['m3_value']):>11} {_money(line['invoiced']):>11} "
                   f"{_money(line['shop_paid']):>11} {_money(line['m3_paid']):>11}  {line['status']}")
        for diff in line["differences"]:
            click.echo(f"{'':>8}{diff['check']}: {diff['actual']} - {diff['expected']} = {_money(diff['difference'])} "
                       f"{line['currency']} (likely cause: {diff['cause']})")
    counts = summary(lines)
    click.echo(f"{len(lines)} orders: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) if lines
               else "no orders in that period")
