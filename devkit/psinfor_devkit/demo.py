"""``psinfor demo``: the whole pipeline on the sandboxes, as real processes, ending with a summary.

A shop module would send a signed webhook per new order; the PrestaShop sandbox does exactly that. One order
asks for an item Infor does not know (it must be dead-lettered with Infor's message), and one order's
webhook is "lost" on purpose (the poller must find it).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
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
    # Held-by-ERP orders are checked again every few seconds here (15 minutes by default).
    stack = Stack(workdir, poll_interval=5.0, sweep_interval=30.0,
                  extra_env={"PSINFOR_ERP_HOLD_RECHECK_SECONDS": "2", "PSINFOR_RESUME_INTERVAL": "2"})
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
        real_life = _real_life(stack, store, good[-1], timeout)
        elapsed = time.monotonic() - started
        _summary(store, stack, counts, bad, missed, elapsed, shipped)
        cash_ok = _customers_and_cash(stack, store, timeout)
        stock_ok = _stock_and_items(stack, store, good[5:8], timeout)
        ok = (counts.get(m.SUCCEEDED, 0) >= len(good) + len(missed) and counts.get(m.DEAD, 0) >= len(bad)
              and len(shipped) == min(5, len(good)) and real_life and cash_ok and stock_ok)
    finally:
        click.echo("stopping every process …")
        stack.stop()
    if not ok:
        click.echo("the demo did not reach the expected outcome; see the logs in " + str(workdir / "logs"))
        sys.exit(1)


def _wait_event(store: Store, order_id: int, status: str, timeout: float, after: int = 0) -> m.SyncEvent | None:
    """The order's newest event once it has ``status`` (None when it did not within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = [e for e in store.recent_events(limit=500) if e.entity == "order" and e.source_id == str(order_id)
                  and e.id > after]
        if events and events[0].status == status:
            return events[0]
        time.sleep(0.2)
    return None


def _real_life(stack: Stack, store: Store, synced_order: int, timeout: float) -> bool:
    """What real shops and tenants do: a bank wire paid later, a credit stop released, a cancellation."""
    click.echo("a bank-wire order waits for its payment; the merchant marks it paid …")
    [wire] = _place(stack, {"count": 1, "state": "PS_OS_BANKWIRE"})
    waiting = _wait_event(store, wire, m.AWAITING_PAYMENT, timeout)
    requests.post(f"{stack.ps_url}/_sandbox/orders/{wire}/state", json={"state": "PS_OS_PAYMENT"}, timeout=10)
    paid = _wait_event(store, wire, m.SUCCEEDED, timeout, after=waiting.id if waiting else 0)
    click.echo(f"  order {wire}: {'awaiting_payment, then ' if waiting else ''}"
               f"{'Infor order ' + str(paid.result.get('orno')) if paid and paid.result else 'NOT synced'}")
    click.echo("M3 puts the next order on credit stop; the credit controller releases it in OIS275 …")
    requests.post(f"{stack.infor_url}/_sandbox/batch_orders/stop_next", json={"status": "30", "count": 1}, timeout=10)
    [stopped] = _place(stack, {"count": 1})
    held = _wait_event(store, stopped, m.HELD_BY_ERP, timeout)
    temporary = ((held.last_error or {}).get("details") or {}).get("temporary_orno") if held else None
    if temporary:
        requests.post(f"{stack.infor_url}/_sandbox/batch_orders/{temporary}/release", timeout=10)
    released = _wait_event(store, stopped, m.SUCCEEDED, timeout)
    click.echo(f"  order {stopped}: {'held_by_erp (batch order ' + str(temporary) + '), then ' if held else ''}"
               f"{'Infor order ' + str(released.result.get('orno')) if released and released.result else 'NOT synced'}")
    click.echo(f"the shop cancels order {synced_order}; M3 has not started picking it …")
    before = store.recent_events(limit=1)[0].id
    requests.post(f"{stack.ps_url}/_sandbox/orders/{synced_order}/state", json={"state": "PS_OS_CANCELED"},
                  timeout=10)
    cancelled = _wait_event(store, synced_order, m.SUCCEEDED, timeout, after=before)
    click.echo(f"  order {synced_order}: " + (f"Infor order {cancelled.result.get('orno')} cancelled (lines "
               f"{', '.join(cancelled.result.get('lines') or [])} deleted)" if cancelled and cancelled.result
               and cancelled.result.get("cancelled") else "NOT cancelled"))
    return bool(waiting and paid and held and released and cancelled)


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


def _customers_and_cash(stack: Stack, store: Store, timeout: float) -> bool:
    """A registration becomes an M3 customer, an address corrected in M3 reaches the shop, five orders are
    invoiced and paid (one payment falls short: the reconciliation reports it), and the customer 360 view."""
    from decimal import Decimal

    from integration.config import load_settings
    from integration.customer360 import customer_360
    from integration.customer_cli import print_view
    from integration.flows.customer_sync import address_id, poll_m3_customers
    from integration.flows.invoices import poll_invoices
    from integration.reconcile import run
    from integration.runtime import reset_runtime
    from tasks.app import app, use_broker
    from tasks.dispatch import enqueue

    assert stack.redis is not None
    rt = reset_runtime(load_settings(stack.env))
    assert rt is not None
    if app.conf.broker_url != stack.redis.url:  # pointing it again would close the pool in use
        use_broker(stack.redis.url)
    poll_m3_customers(rt, "default", enqueue)  # M3's change feed starts now

    def total(entity: str) -> int:
        return sum(store.status_counts(entity=entity).values())

    def wait_for(entity: str, more: int, before: int) -> None:
        _progress(store, before + more, timeout, entity=entity)

    click.echo("")
    click.echo("customers and order-to-cash")
    email = f"claire.martin.{int(time.time())}@example.fr"
    body = {"firstname": "Claire", "lastname": "Martin", "email": email,
            "address": {"address1": "14 rue Sainte-Catherine", "postcode": "33000", "city": "Bordeaux"}}
    seen = {e: total(e) for e in ("customer", "address", "m3_customer", "order", "invoice")}
    created = requests.post(f"{stack.ps_url}/_sandbox/customers", json=body, timeout=10).json()
    customer_id, address = int(created["id_customer"]), int(created["id_address"])
    wait_for("address", 1, seen["address"])
    wait_for("customer", 1, seen["customer"])
    cuno = store.get_binding("default", "customer", str(customer_id))
    click.echo(f"  registration: shop customer {customer_id} ({email}) is M3 customer {cuno}")
    corrected = {"CUA1": "16 rue Sainte-Catherine", "PONO": "33001"}  # customer service, in CRS610
    requests.post(f"{stack.infor_url}/_sandbox/customers/{cuno}", timeout=10, json={
        "fields": corrected, "address": {"ADRT": "1", "ADID": address_id(address), **corrected}})
    poll_m3_customers(rt, "default", enqueue)
    wait_for("m3_customer", 1, seen["m3_customer"])
    shop_address = rt.prestashop("default").get("addresses", address)
    click.echo(f"  M3 corrects the address: the shop now has {shop_address['address1']}, {shop_address['postcode']} "
               f"{shop_address['city']} (and does not send it back)")
    mug = [{"reference": "MUG-CERAMIC-350", "quantity": 1}, {"reference": "NOTEBOOK-A5-DOT", "quantity": 1}]
    orders = []
    for _ in range(5):
        orders += _place(stack, {"count": 1, "customer_id": customer_id, "lines": mug})
    wait_for("order", len(orders), seen["order"])
    invoices = []
    for n, order_id in enumerate(orders):
        orno = store.get_binding("default", "order", str(order_id))
        for step in ("allocate", "pick", "deliver", "invoice"):
            answer = requests.post(f"{stack.infor_url}/_sandbox/orders/{orno}/advance", json={"to": step},
                                   timeout=10).json()
        [invoice] = answer["invoices"]
        short = Decimal("5.00") if n == len(orders) - 1 else Decimal(0)  # the last customer pays 5.00 too little
        requests.post(f"{stack.infor_url}/_sandbox/invoices/{invoice['IVNO']}/pay",
                      json={"amount": str(Decimal(invoice["amount"]) - short)}, timeout=10)
        invoices.append(invoice)
    poll_invoices(rt, "default", enqueue)
    wait_for("invoice", len(invoices), seen["invoice"])
    on_shop = sum(1 for o in orders if any("M3 invoice" in str(msg.get("message"))
                                           for msg in rt.prestashop("default").list("messages",
                                                                                   filters={"id_order": o})))
    click.echo(f"  {len(invoices)} orders invoiced and paid in M3; {on_shop} carry their M3 invoice number")
    lines = [line for line in run(rt, "default", datetime.now(UTC) - timedelta(days=1), datetime.now(UTC))
             if line["ps_order_id"] in orders]
    reported = [line for line in lines if line["differences"]]
    for line in reported:
        for diff in line["differences"]:
            click.echo(f"  reconciliation: order {line['ps_order_id']} {diff['check']} {diff['difference']} "
                       f"{line['currency']} (likely cause: {diff['cause']})")
    click.echo(f"  psinfor customer show {email}")
    print_view(customer_360(rt, "default", email, history=8))
    return (bool(cuno) and shop_address["postcode"] == "33001" and on_shop == len(orders) == 5
            and len(reported) == 1)
