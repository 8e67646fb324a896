"""``psinfor demo``: the whole pipeline on the sandboxes, as real processes, ending with a summary.

A shop module would send a signed webhook per new order; the PrestaShop sandbox does exactly that. One order
asks for an item Infor does not know (it must be dead-lettered with Infor's message), and one order's
webhook is "lost" on purpose (the poller must find it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import requests

from integration.config import PROJECT_ROOT
from integration.store import models as m
from integration.store.repository import Store
from psinfor_devkit.stack import Stack


def _place(stack: Stack, body: dict[str, object]) -> list[int]:
    response = requests.post(f"{stack.ps_url}/_sandbox/orders", json=body, timeout=60)
    response.raise_for_status()
    return [int(i) for i in response.json()["orders"]]


def _progress(store: Store, expected: int, timeout: float, entity: str = "order") -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    tty = sys.stdout.isatty()
    last = ""
    while time.monotonic() < deadline:
        counts = store.status_counts(entity=entity)
        done = sum(v for k, v in counts.items() if k in m.FINAL_STATUSES)
        line = f"  {done}/{expected} events final   " + "  ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        if tty:
            click.echo("\r" + line.ljust(100), nl=False)
        elif line != last:
            click.echo(line)
        last = line
        if done >= expected and not any(k in m.ACTIVE_STATUSES for k in counts):
            break
        time.sleep(0.5)
    if tty:
        click.echo("")
    return counts


@click.command()
@click.option("--orders", "count", default=24, show_default=True, help="good orders to place")
@click.option("--timeout", default=180.0, show_default=True, help="seconds to wait for the pipeline")
@click.option("--workdir", type=click.Path(path_type=Path), default=PROJECT_ROOT / "var" / "demo", show_default=True)
def demo(count: int, timeout: float, workdir: Path) -> None:
    """Run the order flow end to end on the sandboxes and print a summary."""
    from integration.observability import configure_logging

    configure_logging("WARNING", "console")  # the demo's own output is the progress and the summary
    stack = Stack(workdir, poll_interval=5.0, sweep_interval=30.0)
    started = time.monotonic()
    try:
        click.echo("starting: Redis, PrestaShop and Infor sandboxes, receiver (gunicorn), worker, beat …")
        stack.start_all()
        store = Store(stack.env["DATABASE_URL"])
        click.echo(f"  PrestaShop sandbox {stack.ps_url}/api   Infor sandbox {stack.infor_url}   "
                   f"receiver {stack.web_url}")
        click.echo(f"placing {count} orders (the sandbox sends a signed webhook for each), one order of an item "
                   "Infor does not know, and one order whose webhook is lost …")
        good = _place(stack, {"count": count})
        bad = _place(stack, {"count": 1, "lines": [{"product_id": 10, "combination_id": 0, "quantity": 1}]})
        missed = _place(stack, {"count": 1, "send_webhook": False})
        expected = len(good) + len(bad) + len(missed)
        counts = _progress(store, expected, timeout)
        shipped = _ship_some(stack, store, good[:5], timeout)
        elapsed = time.monotonic() - started
        _summary(store, stack, counts, bad, missed, elapsed, shipped)
        stock_ok = _stock_and_items(stack, store, good[5:8], timeout)
        ok = (counts.get(m.SUCCEEDED, 0) >= len(good) + len(missed) and counts.get(m.DEAD, 0) >= len(bad)
              and len(shipped) == min(5, len(good)) and stock_ok)
    finally:
        click.echo("stopping every process …")
        stack.stop()
    if not ok:
        click.echo("the demo did not reach the expected outcome; see the logs in " + str(workdir / "logs"))
        sys.exit(1)


def _ship_some(stack: Stack, store: Store, order_ids: list[int], timeout: float) -> list[dict[str, object]]:
    """Infor ships a few orders (with tracking numbers); one status poll brings that back to the shop."""
    from integration.config import load_settings
    from integration.flows.order_status import poll_order_status
    from integration.runtime import reset_runtime
    from tasks.app import use_broker
    from tasks.dispatch import enqueue

    assert stack.redis is not None
    click.echo(f"Infor delivers {len(order_ids)} orders with tracking numbers; the status poller tells the shop …")
    for n, order_id in enumerate(order_ids, start=1):
        orno = store.get_binding("default", "order", str(order_id))
        for step in ("allocate", "pick", "deliver"):
            body: dict[str, object] = {"to": step}
            if step == "deliver":
                body["tracking_number"] = f"1Z999AA1{n:010d}"
            requests.post(f"{stack.infor_url}/_sandbox/orders/{orno}/advance", json=body, timeout=10)
    rt = reset_runtime(load_settings(stack.env))
    assert rt is not None
    use_broker(stack.redis.url)
    event_ids = poll_order_status(rt, "default", enqueue)
    _progress(store, len(event_ids), timeout, entity="order_status")
    shipped = []
    for event_id in event_ids:
        event = store.get_event(event_id)
        result = (event.result or {}) if event else {}
        if event is not None and result.get("state") == "PS_OS_SHIPPING":
            shipped.append({"order": event.source_id, **result})
    return shipped


def _status_summary(store: Store, shipped: list[dict[str, object]]) -> None:
    examples = ", ".join(f"PS {s['order']}: {s['tracking_number']}" for s in shipped[:2])
    click.echo(f"  back to the shop: {len(shipped)} orders 'Shipped' with their tracking number (e.g. {examples})")


def _summary(store: Store, stack: Stack, counts: dict[str, int], bad: list[int], missed: list[int],
             elapsed: float, shipped: list[dict[str, object]]) -> None:
    db = stack.env["DATABASE_URL"]
    events = store.recent_events(limit=10_000)
    synced = [e for e in events if e.status == m.SUCCEEDED and e.entity == "order"]
    click.echo("")
    click.echo("summary")
    examples = ", ".join(f"PS {e.source_id} → ORNO {(e.result or {}).get('orno')}" for e in synced[:3])
    click.echo(f"  synced to Infor : {len(synced)} orders (e.g. {examples})")
    polled = [e for e in synced if e.source_system == "poller"]
    click.echo(f"  found by poller : {len(polled)} (order {', '.join(str(i) for i in missed)} had no webhook)")
    click.echo(f"  skipped         : {counts.get(m.SKIPPED, 0)}")
    click.echo(f"  held for review : {counts.get(m.HELD, 0)}")
    letters = store.list_dead_letters()
    click.echo(f"  dead-lettered   : {len(letters)}")
    for letter in letters:
        click.echo(f"    #{letter.id} order {letter.source_id}, step {letter.step}: "
                   f"{letter.error_type}: {letter.message}")
        if letter.resolution:
            click.echo(f"       Resolution: {letter.resolution}")
    _status_summary(store, shipped)
    click.echo(f"  elapsed         : {elapsed:.1f}s (start-up included)")
    click.echo("")
    click.echo("where to look next")
    click.echo(f"  DATABASE_URL={db} psinfor dlq list        # the failed-task queue, with reasons")
    click.echo(f"  DATABASE_URL={db} psinfor events list     # every event and its steps")
    click.echo("  make flower                                   # queues and tasks, dead_letter included (live stack)")
    click.echo(f"  logs: {stack.workdir / 'logs'}")


def _stock_and_items(stack: Stack, store: Store, to_ship: list[int], timeout: float) -> bool:
    """Stock and the item master, Infor → shop: a first reconcile, then M3 ships and receives stock and the
    shop's quantities follow within one poll; an item only M3 has is reported once; a new M3 style appears in
    the shop as a product with two combinations."""
    from integration.config import load_settings
    from integration.flows import inventory, items
    from integration.runtime import reset_runtime
    from tasks.app import app, use_broker
    from tasks.dispatch import enqueue

    assert stack.redis is not None
    rt = reset_runtime(load_settings(stack.env))
    assert rt is not None
    if app.conf.broker_url != stack.redis.url:  # pointing it again would close the pool in use
        use_broker(stack.redis.url)
    api = f"{stack.ps_url}/api"
    auth = (stack.env["PS_KEY"], "")

    def shop_quantity(product_id: int, attribute: int = 0) -> int:
        rows = requests.get(f"{api}/stock_availables", auth=auth, timeout=10, params={
            "filter[id_product]": f"[{product_id}]", "display": "full", "output_format": "JSON"}).json()
        return {int(r["id_product_attribute"]): int(r["quantity"]) for r in rows["stock_availables"]}[attribute]

    def wait(entity: str, count: int) -> list[m.SyncEvent]:
        deadline = time.monotonic() + timeout
        events: list[m.SyncEvent] = []
        while time.monotonic() < deadline:
            events = [e for e in store.recent_events(limit=1000) if e.entity == entity and e.source_system == "poller"]
            if len(events) >= count and all(e.status in m.FINAL_STATUSES for e in events):
                break
            time.sleep(0.5)
        return events

    click.echo("")
    click.echo("stock and items, Infor → shop")
    report = inventory.reconcile(rt, "default", apply=inventory.inline_apply(rt, "default"))
    click.echo(f"  first reconcile : {report.compared} rows compared, {report.newly_bound} bound by reference, "
               f"{report.differences} differences written ({report.unknown_in_infor} shop product without an "
               f"M3 item: {', '.join(str(e['reference']) for e in report.examples.get('unknown_in_infor', []))})")
    inventory.poll_stock(rt, "default", enqueue)  # the watermark
    items.poll_items(rt, "default", enqueue)
    for order_id in to_ship:  # M3 ships three more orders …
        orno = store.get_binding("default", "order", str(order_id))
        requests.post(f"{stack.infor_url}/_sandbox/orders/{orno}/advance", json={"to": "deliver"}, timeout=10)
    mug_before = shop_quantity(3)
    requests.post(f"{stack.infor_url}/_sandbox/stock", json={"itno": "MUG-CERAMIC-350", "whlo": "100",
                                                             "qty": 450}, timeout=10)  # … and receives mugs
    requests.post(f"{stack.infor_url}/_sandbox/items", json={"itno": "ZZ-DEMO-ONLY", "ITDS": "Only in M3"}, timeout=10)
    requests.post(f"{stack.infor_url}/_sandbox/stock", json={"itno": "ZZ-DEMO-ONLY", "whlo": "100", "qty": 4},
                  timeout=10)
    polled = inventory.poll_stock(rt, "default", enqueue)
    stock_events = wait("stock", polled["enqueued"])
    written = sum(int((e.result or {}).get("written", 0)) for e in stock_events)
    click.echo(f"  one stock poll  : {polled['items']} items changed in M3, {written} shop rows written "
               f"(mug {mug_before} → {shop_quantity(3)})")
    unknown = [u.item_number for u in store.unknown_items("default")]
    click.echo(f"  unknown item    : {', '.join(unknown) or 'none'} reported once — Resolution: "
               + inventory.UNKNOWN_HINT.format(itno=unknown[0] if unknown else "ITNO"))
    for itno, code, colour, qty in (("RJ-DEMO-RED", "RED", "Red", 12), ("RJ-DEMO-YLW", "YLW", "Yellow", 8)):
        requests.post(f"{stack.infor_url}/_sandbox/items", timeout=10, json={
            "itno": itno, "ITDS": f"Rain jacket {colour}", "FUDS": "Waterproof rain jacket", "HDPR": "RJ-DEMO",
            "FTIZ": "COLOR", "OPTZ": code, "TZ15": colour, "GRWE": "0.450", "price": "59.00"})
        requests.post(f"{stack.infor_url}/_sandbox/stock", json={"itno": itno, "whlo": "100", "qty": qty}, timeout=10)
    items.poll_items(rt, "default", enqueue)
    item_events = wait("item", 1)
    product_id = rt.binder("default", "product").to_shop("RJ-DEMO")
    rows = rt.binder("default", "item").to_shop_many(["RJ-DEMO-RED", "RJ-DEMO-YLW"])
    quantities = {itno: shop_quantity(*map(int, key.split(":"))) for itno, key in rows.items()}
    click.echo(f"  new M3 style    : RJ-DEMO is shop product {product_id} with {len(rows)} combinations "
               f"({', '.join(f'{k} {rows[k]} stock {q}' for k, q in sorted(quantities.items()))})")
    return (bool(stock_events) and all(e.status == m.SUCCEEDED for e in stock_events) and unknown == ["ZZ-DEMO-ONLY"]
            and product_id is not None and len(rows) == 2 and all(e.status == m.SUCCEEDED for e in item_events))
