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
        ok = (counts.get(m.SUCCEEDED, 0) >= len(good) + len(missed) and counts.get(m.DEAD, 0) >= len(bad)
              and len(shipped) == min(5, len(good)) and real_life)
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
