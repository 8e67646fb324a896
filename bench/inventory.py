"""``make bench``'s inventory section: stock at 100,000 SKUs, as real processes (sandboxes, worker, beat).

1. Both sandboxes generate the same catalogue (100,000 SKUs: styles of four sizes and simple products, balances
   in three warehouses, two of which the mapping sums); the shop gets ``deliberate`` wrong quantities.
2. The nightly reconcile runs on the worker (its beat task, triggered at once): it binds every item by
   reference, compares every row and hands the differences to the stock flow. ``reconcile_seconds`` runs
   until the last difference is written; the worker's peak RSS is read from /proc.
3. With beat running the stock poller every ``PSINFOR_STOCK_POLL_INTERVAL`` (60 s), M3 changes ``percent`` % of
   the SKUs; ``seconds_to_shop`` runs from that change until the shop holds every new quantity (the wait for
   the next poll included). Shop writes are counted by the PrestaShop sandbox, Infor calls by the Infor one.

The client-side rate limits are the production defaults (shop 20 calls/s, ION 45 calls/s): the figures are
what a real deployment would see, not what the sandboxes could take.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from integration.config import PROJECT_ROOT, load_settings
from integration.runtime import redis_key
from integration.store import models as m
from integration.store.repository import Store
from psinfor_devkit.stack import Stack

RESULTS = PROJECT_ROOT / "bench" / "results"
CONNECTION = "default"
WAREHOUSES = ["100", "200", "300"]
SUMMED = ["100", "200"]


def _mappings(target: Path) -> Path:
    """The shipped mappings, summing two of the three generated warehouses (in place of the stack's copy)."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(PROJECT_ROOT / "mappings", target)
    path = target / "inventory.yaml"
    text = path.read_text()
    path.write_text(text.replace('warehouses: ["100"]', f"warehouses: {json.dumps(SUMMED)}"))
    return target


def _post(url: str, body: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    response = requests.post(url, json=body, timeout=timeout)
    response.raise_for_status()
    return dict(response.json())


def _infor_calls(stats: dict[str, Any]) -> int:
    return sum(int(v) for k, v in (stats.get("by_route") or {}).items() if "_sandbox" not in k and k != "token")


def _peak_rss_mib(pid: int) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            values[name] = round(int(rest.split()[0]) / 1024, 1)
    return values


def _stock_events(store: Store, after: int = 0) -> list[m.SyncEvent]:
    return [e for e in store.recent_events(limit=100_000) if e.entity == "stock" and e.source_system == "poller"
            and e.id > after]


def _wait(predicate: Any, timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"not reached within {timeout}s")


def _step_seconds(store: Store, events: list[m.SyncEvent]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for event in events:
        for attempt in store.attempts_of(event.id):
            if attempt["duration_ms"] is not None:
                totals[attempt["step"]] = totals.get(attempt["step"], 0.0) + attempt["duration_ms"] / 1000
    return {k: round(v, 2) for k, v in totals.items()}


def bench_inventory(*, skus: int = 100_000, percent: float = 1.0, deliberate: int = 100,
                    poll_interval: float = 60.0, workdir: Path | None = None) -> dict[str, Any]:
    from tasks.app import app, use_broker

    workdir = workdir or PROJECT_ROOT / "var" / "bench-inventory"
    stack = Stack(workdir, worker_concurrency=8, poll_interval=86400, sweep_interval=60, extra_env={
        "MAPPINGS_DIR": str(workdir / "mappings"), "PSINFOR_STOCK_POLL_INTERVAL": str(poll_interval),
        "PSINFOR_STOCK_RECONCILE_INTERVAL": "86400", "PSINFOR_ITEM_POLL_INTERVAL": "86400",
        "PSINFOR_STATUS_POLL_INTERVAL": "86400", "LOG_LEVEL": "WARNING"})
    figures: dict[str, Any] = {"skus": skus}
    try:
        stack.prepare()
        _mappings(workdir / "mappings")
        stack.start_sandboxes()
        store = Store(stack.env["DATABASE_URL"])
        settings = load_settings(stack.env)
        assert stack.redis is not None
        use_broker(stack.redis.url)
        app.loader.import_default_modules()
        import redis

        broker = redis.Redis.from_url(stack.redis.url)

        print(f"inventory: generating {skus} SKUs in both sandboxes …", flush=True)
        started = time.perf_counter()
        generated = _post(f"{stack.infor_url}/_sandbox/catalogue/generate", {"skus": skus, "warehouses": WAREHOUSES})
        shop = _post(f"{stack.ps_url}/_sandbox/catalogue/generate",
                     {"skus": skus, "warehouses": WAREHOUSES, "shop_warehouses": SUMMED})
        figures["generate_seconds"] = round(time.perf_counter() - started, 1)
        figures["catalogue"] = {"infor": generated, "shop": shop}
        _post(f"{stack.ps_url}/_sandbox/catalogue/perturb", {"count": deliberate, "seed": 5})

        # -- the full reconcile, on the worker --------------------------------------------------------
        stack.start_worker()
        worker_pid = stack.procs["worker"].popen.pid
        report_key = redis_key(settings.key_prefix, "stock", "reconcile", CONNECTION)
        broker.delete(report_key)
        for url in (stack.ps_url, stack.infor_url):
            requests.post(f"{url}/_sandbox/stats/reset", json={}, timeout=10)
        requests.post(f"{stack.ps_url}/_sandbox/catalogue/writes/reset", timeout=10)
        print("inventory: full reconcile on the worker …", flush=True)
        cpu_before = stack.cpu_seconds("worker")
        started = time.perf_counter()
        app.send_task("psinfor.stock.poll.reconcile", kwargs={"connection": CONNECTION}, queue="maintenance")
        raw = _wait(lambda: broker.get(report_key), timeout=1800, interval=1.0)
        report = json.loads(raw)
        _wait(lambda: all(e.status in m.FINAL_STATUSES for e in _stock_events(store)), timeout=600)
        reconcile_seconds = time.perf_counter() - started
        writes = requests.get(f"{stack.ps_url}/_sandbox/catalogue/writes", timeout=10).json()
        figures.update({
            "reconcile_seconds": round(reconcile_seconds, 1), "reconcile_diffs": report["differences"],
            "reconcile": {k: report[k] for k in ("compared", "differences", "written", "newly_bound",
                                                 "unknown_in_shop", "unknown_in_infor", "seconds", "timings")},
            "reconcile_ps_writes": writes.get("PATCH stock_availables", 0),
            "reconcile_infor_calls": _infor_calls(requests.get(f"{stack.infor_url}/_sandbox/stats", timeout=10).json()),
            "reconcile_ps_calls": int(requests.get(f"{stack.ps_url}/_sandbox/stats", timeout=10).json()["requests"]),
            "reconcile_worker_cpu_seconds": round(stack.cpu_seconds("worker") - cpu_before, 1),
            "worker_rss_mib_after_reconcile": _peak_rss_mib(worker_pid),
        })
        print(f"  {figures['reconcile_seconds']}s, {report['differences']} differences, "
              f"{figures['reconcile_ps_writes']} writes, worker {figures['worker_rss_mib_after_reconcile']}",
              flush=True)

        # -- near real time: 1 % changed in M3, beat polls ------------------------------------------------
        app.send_task("psinfor.stock.poll.stock", kwargs={"connection": CONNECTION}, queue="maintenance")
        _wait(lambda: store.get_watermark(CONNECTION, "infor.stock.lmts"), timeout=60)
        last_event = max((e.id for e in _stock_events(store)), default=0)
        stack.start_beat()
        for url in (stack.ps_url, stack.infor_url):
            requests.post(f"{url}/_sandbox/stats/reset", json={}, timeout=10)
        requests.post(f"{stack.ps_url}/_sandbox/catalogue/writes/reset", timeout=10)
        cpu_before = stack.cpu_seconds("worker")
        print(f"inventory: M3 changes {percent}% of the SKUs; beat polls every {poll_interval:g}s …", flush=True)
        started = time.perf_counter()
        change_at = datetime.now(UTC)
        changed = _post(f"{stack.infor_url}/_sandbox/catalogue/change", {"percent": percent, "warehouse": "100"})
        count = int(changed["changed"])

        def shop_writes() -> int:
            got = requests.get(f"{stack.ps_url}/_sandbox/catalogue/writes", timeout=10).json()
            return int(got.get("PATCH stock_availables", 0))

        _wait(lambda: shop_writes() >= count, timeout=900, interval=0.25)
        seconds_to_shop = time.perf_counter() - started
        events = _wait(lambda: (lambda evs: evs if evs and all(e.status in m.FINAL_STATUSES for e in evs) else None)(
            _stock_events(store, after=last_event)), timeout=300)
        time.sleep(2)  # a late duplicate write would show up now
        first_event = min(e.created_at for e in events)
        last_finished = max(e.finished_at or e.updated_at for e in events)
        infor_stats = requests.get(f"{stack.infor_url}/_sandbox/stats", timeout=10).json()
        figures.update({
            "changed": count, "seconds_to_shop": round(seconds_to_shop, 1), "ps_writes": shop_writes(),
            "infor_calls": _infor_calls(infor_stats),
            "delta": {
                "events": len(events), "statuses": sorted({e.status for e in events}),
                "poll_wait_seconds": round((first_event - change_at).total_seconds(), 1),
                "processing_seconds": round((last_finished - first_event).total_seconds(), 1),
                "step_seconds_summed": _step_seconds(store, events),
                "infor_by_transaction": infor_stats.get("by_transaction"),
                "worker_cpu_seconds": round(stack.cpu_seconds("worker") - cpu_before, 1),
            },
            "worker_rss_mib": _peak_rss_mib(worker_pid),
            "rate_limits": {"shop_calls_per_s": settings.connection(CONNECTION).prestashop.rate_per_second,
                            "ion_calls_per_s": settings.connection(CONNECTION).infor.rate_per_second},
        })
        print(f"  {count} changed → shop in {figures['seconds_to_shop']}s, {figures['ps_writes']} writes, "
              f"{figures['infor_calls']} Infor calls", flush=True)
    finally:
        stack.stop()
    return figures


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--percent", type=float, default=1.0)
    parser.add_argument("--poll-interval", type=float, default=60.0)
    args = parser.parse_args()
    figures = bench_inventory(skus=args.skus, percent=args.percent, poll_interval=args.poll_interval)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"{stamp}-inventory.json", "inventory-latest.json"):
        (RESULTS / name).write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(json.dumps({k: figures[k] for k in ("skus", "changed", "seconds_to_shop", "ps_writes", "infor_calls",
                                              "reconcile_seconds", "reconcile_diffs")}))


if __name__ == "__main__":
    main()
