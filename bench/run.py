"""``make bench``: throughput of the whole system on this machine, as real processes.

1. The receiver: signed webhooks posted concurrently (requests/s, p50/p99 latency).
2. The ceiling: bare Celery chains of 4 no-op tasks on the same Redis, queue and threads pool, measured before and
   after the orders (the baseline of the ratios is their mean: the machines drift within minutes).
3. End to end: N orders placed in the PrestaShop sandbox, each announced by a signed webhook, until every one
   is an Infor order: orders/s, worker CPU ms per order, API calls per order on each side.
4. The sandboxes' simple-GET rates (they must not be the bottleneck).

Figures go to ``bench/results/<timestamp>.json`` and ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import requests
from sqlalchemy import delete

from integration.config import PROJECT_ROOT
from integration.connectors.prestashop import webhooks
from integration.store import models as m
from integration.store.db import session_scope
from integration.store.repository import Store
from psinfor_devkit.stack import PS_KEY, WEBHOOK_SECRET, Stack

RESULTS = PROJECT_ROOT / "bench" / "results"
ION_QUOTA_PER_MINUTE = 3000  # about, per tenant (reference/infor-ion-m3.md §5)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_receiver(stack: Stack, total: int, concurrency: int) -> dict[str, Any]:
    """Signed webhooks from ``concurrency`` keep-alive connections (http.client: the lightest client we have,
    since it shares the 2 cores with the server). Also the receiver's own CPU per request."""
    host, port = stack.web_url.removeprefix("http://").split(":")
    local = threading.local()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    bodies = [json.dumps({"event": "order.created", "shop_id": 1, "id_order": 900_000 + i,
                          "occurred_at": datetime.now(UTC).isoformat()}).encode() for i in range(total)]
    signed = [webhooks.sign_headers(WEBHOOK_SECRET, str(uuid.uuid4()), body) for body in bodies]

    def post(i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        start = time.perf_counter()
        conn.request("POST", "/webhooks/prestashop", body=bodies[i], headers=signed[i])
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
            statuses[response.status] = statuses.get(response.status, 0) + 1

    cpu_before = stack.cpu_seconds("web")
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(post, range(total)))
    wall = time.perf_counter() - started
    cpu = stack.cpu_seconds("web") - cpu_before
    return {"requests": total, "concurrency": concurrency, "seconds": round(wall, 3),
            "requests_per_s": round(total / wall, 1), "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
            "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1), "statuses": statuses,
            "receiver_cpu_ms_per_request": round(cpu * 1000 / total, 2),
            "gunicorn_workers": stack.web_workers}


def reset_after_receiver(stack: Stack) -> None:
    assert stack.redis is not None
    redis.Redis.from_url(stack.redis.url).delete(*[q for q in ("orders", "webhooks")])
    with session_scope(stack.env["DATABASE_URL"]) as s:
        s.execute(delete(m.SyncStep))
        s.execute(delete(m.SyncEvent))


def bench_bare_chains(stack: Stack, total: int) -> dict[str, Any]:
    from celery import chain

    from bench.tasks import done, noop
    from tasks.app import app, use_broker

    assert stack.redis is not None
    use_broker(stack.redis.url)
    counter = redis.Redis.from_url(stack.redis.url)
    counter.delete("psinfor:bench:chains")
    app.loader.import_default_modules()
    cpu_before = stack.cpu_seconds("worker")
    main_before = _main_thread_cpu(stack, "worker")
    started = time.perf_counter()
    for i in range(total):
        chain(noop.si(i), noop.si(i), noop.si(i), done.si(i, stack.redis.url)).apply_async(queue="orders")
    published = time.perf_counter() - started
    deadline = time.monotonic() + 600
    while int(counter.get("psinfor:bench:chains") or 0) < total and time.monotonic() < deadline:
        time.sleep(0.05)
    wall = time.perf_counter() - started
    cpu = stack.cpu_seconds("worker") - cpu_before
    consumer = _main_thread_cpu(stack, "worker") - main_before
    finished = int(counter.get("psinfor:bench:chains") or 0)
    return {"chains": total, "completed": finished, "seconds": round(wall, 3),
            "chains_per_s": round(finished / wall, 1), "publish_seconds": round(published, 3),
            "worker_cpu_ms_per_chain": round(cpu * 1000 / max(1, finished), 2),
            "worker_consumer_cpu_ms_per_chain": round(consumer * 1000 / max(1, finished), 2),
            "pool": f"threads -c {stack.worker_concurrency}"}


def bracketed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The bare chains measured before and after the orders, as one baseline: their mean figures, and both runs.

    The machines drift by 10-30 % within minutes, and a baseline taken only before the orders moved the ratio
    by as much from one run to the next; one taken on both sides of them is what the orders ran beside."""
    mean = {key: round((value + after[key]) / 2, 3 if key.endswith("seconds") else 2)
            for key, value in before.items() if isinstance(value, int | float) and key != "chains"}
    return {**before, **mean, "runs": [before, after]}


def _stats(url: str) -> dict[str, Any]:
    return dict(requests.get(f"{url}/_sandbox/stats", timeout=10).json())


def _http_calls(stats: dict[str, Any]) -> int:
    """HTTP requests to the real API surface: no control calls, no token requests (those are counted apart)."""
    by_route = stats.get("by_route") or {}
    return sum(int(v) for k, v in by_route.items() if "_sandbox" not in str(k) and str(k) != "token")


def bench_end_to_end(stack: Stack, total: int, batch: int = 100) -> dict[str, Any]:
    store = Store(stack.env["DATABASE_URL"])
    for url in (stack.ps_url, stack.infor_url):
        requests.post(f"{url}/_sandbox/stats/reset", timeout=10)
    cpu_before = stack.cpu_seconds("worker")
    main_before = _main_thread_cpu(stack, "worker")
    system_before = _system_cpu(stack, "worker")
    started = time.perf_counter()
    placed = 0
    while placed < total:
        n = min(batch, total - placed)
        response = requests.post(f"{stack.ps_url}/_sandbox/orders", json={"count": n}, timeout=120)
        response.raise_for_status()
        placed += len(response.json()["orders"])
    placing = time.perf_counter() - started
    deadline = time.monotonic() + 1800
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = store.status_counts()
        if sum(v for k, v in counts.items() if k in m.FINAL_STATUSES) >= total:
            break
        time.sleep(0.25)
    wall = time.perf_counter() - started
    cpu = stack.cpu_seconds("worker") - cpu_before
    consumer = _main_thread_cpu(stack, "worker") - main_before
    system = _system_cpu(stack, "worker") - system_before
    ps_stats, infor_stats = _stats(stack.ps_url), _stats(stack.infor_url)
    succeeded = counts.get(m.SUCCEEDED, 0)
    infor_calls = _http_calls(infor_stats)
    ps_calls = _http_calls(ps_stats)
    transactions = sum(int(v) for v in (infor_stats.get("by_transaction") or {}).values())
    return {
        "orders": total, "succeeded": succeeded, "by_status": counts, "seconds": round(wall, 3),
        "placing_seconds": round(placing, 3), "orders_per_s": round(succeeded / wall, 2),
        "worker_cpu_ms_per_order": round(cpu * 1000 / max(1, succeeded), 2),
        # Celery's consumer (the worker's main thread: receiving, events, acks) apart from the pool's threads.
        "worker_consumer_cpu_ms_per_order": round(consumer * 1000 / max(1, succeeded), 2),
        "worker_system_cpu_ms_per_order": round(system * 1000 / max(1, succeeded), 2),
        "infor_calls": infor_calls, "infor_calls_per_order": round(infor_calls / max(1, succeeded), 2),
        "infor_mi_transactions_per_order": round(transactions / max(1, succeeded), 2),
        "ion_quota_bound_orders_per_s": round(
            ION_QUOTA_PER_MINUTE / 60 / max(0.01, infor_calls / max(1, succeeded)), 1),
        "infor_token_requests": infor_stats.get("token_requests"),
        "infor_by_transaction": infor_stats.get("by_transaction"),
        "prestashop_calls": ps_calls, "prestashop_calls_per_order": round(ps_calls / max(1, succeeded), 2),
        "prestashop_by_route": ps_stats.get("by_route"),
    }


def _cpu_seconds(stat: str, *, user: bool = True) -> float:
    """CPU seconds from a /proc ``stat`` file: user + system time, or system time only (``user=False``)."""
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()  # after "(comm)": fields 3 onwards
    return ((int(fields[11]) if user else 0) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _main_thread_cpu(stack: Stack, name: str) -> float:
    """CPU seconds of the main thread of ``name`` (Linux /proc): for the worker, Celery's consumer loop."""
    pid = stack.procs[name].popen.pid
    return _cpu_seconds(f"/proc/{pid}/task/{pid}/stat")


def _system_cpu(stack: Stack, name: str) -> float:
    """Kernel-side CPU seconds of the process ``name`` (all its threads): system calls, switches, page faults."""
    return _cpu_seconds(f"/proc/{stack.procs[name].popen.pid}/stat", user=False)


def bench_sandbox_get(url: str, path: str, total: int, concurrency: int, auth: Any = None,
                      headers: dict[str, str] | None = None) -> dict[str, Any]:
    local = threading.local()

    def get(_: int) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        return session.get(f"{url}{path}", auth=auth, headers=headers, timeout=30).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        codes = list(pool.map(get, range(total)))
    wall = time.perf_counter() - started
    return {"path": path, "requests": total, "ok": sum(1 for c in codes if c == 200),
            "requests_per_s": round(total / wall, 1)}


def _infor_token(stack: Stack) -> str:
    from integration.connectors.infor.ionapi import IonApiCredentials, TokenProvider

    return TokenProvider(IonApiCredentials.load(path=stack.env["IONAPI_FILE"])).token()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--chains", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent webhook posters")
    parser.add_argument("--worker-concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10_000, help="client-side API rate limit per system (calls/s)")
    parser.add_argument("--skip-inventory", action="store_true", help="leave out the 100,000-SKU stock run")
    parser.add_argument("--profile", metavar="FILE", help="py-spy profile of the worker during end to end "
                        "(FILE.svg: a flame graph; otherwise collapsed stacks)")
    args = parser.parse_args()

    # The client-side rate limits protect a real shop (20/s) and the ION quota (45/s); here they are lifted so
    # the figures show what our own pipeline costs. The quota-bound rate is printed beside them.
    stack = Stack(PROJECT_ROOT / "var" / "bench", worker_concurrency=args.worker_concurrency,
                  poll_interval=3600, sweep_interval=3600,
                  extra_env={"LOG_LEVEL": "WARNING", "PS_RATE": str(args.rate), "INFOR_RATE": str(args.rate)})
    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "machine_cores": _cores(),
                               "machine_python_spin_ms": python_spin_ms()}
    try:
        stack.prepare()
        stack.start_sandboxes()
        stack.start_web()
        print(f"receiver: {args.webhooks} signed webhooks, {args.concurrency} concurrent posters …", flush=True)
        results["receiver"] = bench_receiver(stack, args.webhooks, args.concurrency)
        print(f"  {results['receiver']}", flush=True)
        reset_after_receiver(stack)
        stack.start_worker(include="bench.tasks")
        print(f"ceiling: {args.chains} bare 4-step chains …", flush=True)
        results["bare_chains"] = bench_bare_chains(stack, args.chains)
        print(f"  {results['bare_chains']}", flush=True)
        print(f"end to end: {args.orders} orders, webhook → Infor …", flush=True)
        spy = _start_profiler(stack, args.profile) if args.profile else None
        results["end_to_end"] = bench_end_to_end(stack, args.orders)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        print(f"  { {k: v for k, v in results['end_to_end'].items() if not k.endswith(('route', 'transaction'))} }",
              flush=True)
        print(f"ceiling again: {args.chains} bare 4-step chains …", flush=True)
        after = bench_bare_chains(stack, args.chains)
        print(f"  {after}", flush=True)
        results["bare_chains"] = bracketed(results["bare_chains"], after)
        stack.stop_process("worker")
        print("sandboxes: simple GET rates …", flush=True)
        results["sandbox_prestashop_get"] = bench_sandbox_get(stack.ps_url, "/api/products/1", 2000, 16,
                                                              auth=(PS_KEY, ""))
        token = _infor_token(stack)
        ionapi = json.loads(Path(stack.env["IONAPI_FILE"]).read_text())
        results["sandbox_infor_get"] = bench_sandbox_get(
            ionapi["iu"], f"/{ionapi['ti']}/M3/m3api-rest/v2/execute/MMS200MI/GetItmBasic?ITNO=MUG-CERAMIC-350",
            2000, 16, headers={"Authorization": f"Bearer {token}"})
    finally:
        stack.stop()
    if not args.skip_inventory:
        from bench.inventory import bench_inventory

        results["inventory"] = bench_inventory()  # stock at 100,000 SKUs, its own stack
    e2e, bare = results["end_to_end"], results["bare_chains"]
    results["ratios"] = {
        "orders_per_s_over_bare_chains_per_s": round(e2e["orders_per_s"] / max(0.01, bare["chains_per_s"]), 3),
        # How much of an order's worker CPU is the bare cost of a 4-task chain (1.0 = nothing but Celery).
        "worker_cpu_per_bare_chain_over_per_order": round(
            bare["worker_cpu_ms_per_chain"] / max(0.01, e2e["worker_cpu_ms_per_order"]), 3),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"{stamp}.json", "latest.json"):
        (RESULTS / name).write_text(json.dumps(results, indent=2, default=str) + "\n")
    _print_summary(results)


def _start_profiler(stack: Stack, out: str) -> subprocess.Popen[bytes]:
    """py-spy (a dev dependency) sampling the worker with its threads, GIL holders only: where its CPU goes. At
    400 samples a second: py-spy's default 100 leaves a step's smaller parts at a handful of samples."""
    pid = stack.procs["worker"].popen.pid
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--gil", "--threads",
                             "--rate", "400", "--pid", str(pid), "--output", out,
                             "--format", "flamegraph" if out.endswith(".svg") else "raw"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cores() -> int:
    return os.cpu_count() or 0


def python_spin_ms(rounds: int = 3) -> float:
    """CPU milliseconds of one fixed pure-Python workload (dict look-ups, f-strings, ints), the best of ``rounds``:
    how fast this machine runs Python. The machines here differ by several times from one session to the next,
    and not for all work alike (an order is mostly Python, a bare chain partly Redis and the kernel), so the
    ratios move with the machine too; this figure says which machine a result came from."""
    def workload() -> int:
        counts: dict[str, int] = {}
        for i in range(200_000):
            key = f"k{i % 1000}"
            counts[key] = counts.get(key, 0) + len(key)
        return len(counts)

    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        workload()
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


def _print_summary(r: dict[str, Any]) -> None:
    e2e, bare, rec = r["end_to_end"], r["bare_chains"], r["receiver"]
    print("\nsummary")
    print(f"  machine         : {r['machine_cores']} cores; {r['machine_python_spin_ms']} ms CPU for a fixed "
          "pure-Python workload (bench.run.python_spin_ms), to compare runs across machines")
    print(f"  end to end      : {e2e['succeeded']}/{e2e['orders']} orders in {e2e['seconds']}s = "
          f"{e2e['orders_per_s']} orders/s; worker CPU {e2e['worker_cpu_ms_per_order']} ms/order (Celery's consumer "
          f"thread {e2e['worker_consumer_cpu_ms_per_order']}, kernel {e2e['worker_system_cpu_ms_per_order']})")
    runs = " / ".join(str(run["worker_cpu_ms_per_chain"]) for run in bare.get("runs", [bare]))
    print(f"  ceiling         : {bare['chains_per_s']} bare 4-step chains/s "
          f"({bare['worker_cpu_ms_per_chain']} ms worker CPU per chain: the mean of {runs}, before and after the "
          f"orders); ratio orders/s ÷ chains/s = "
          f"{r['ratios']['orders_per_s_over_bare_chains_per_s']}; worker CPU per bare chain ÷ per order = "
          f"{r['ratios']['worker_cpu_per_bare_chain_over_per_order']}")
    print(f"  API calls/order : Infor {e2e['infor_calls_per_order']} HTTP calls "
          f"({e2e['infor_mi_transactions_per_order']} MI transactions, bulk included), "
          f"PrestaShop {e2e['prestashop_calls_per_order']}")
    print(f"  ION quota bound : {e2e['ion_quota_bound_orders_per_s']} orders/s at {ION_QUOTA_PER_MINUTE} calls/min")
    print(f"  receiver        : {rec['requests_per_s']} req/s, p50 {rec['p50_ms']} ms, p99 {rec['p99_ms']} ms "
          f"({rec['concurrency']} concurrent, statuses {rec['statuses']}); "
          f"{rec['receiver_cpu_ms_per_request']} ms receiver CPU per request")
    print(f"  sandboxes GET   : PrestaShop {r['sandbox_prestashop_get']['requests_per_s']} req/s, "
          f"Infor {r['sandbox_infor_get']['requests_per_s']} req/s")
    inv = r.get("inventory")
    if inv:
        print(f"  inventory       : {inv['changed']} of {inv['skus']} SKUs to the shop in {inv['seconds_to_shop']}s "
              f"({inv['ps_writes']} writes, {inv['infor_calls']} Infor calls); full reconcile "
              f"{inv['reconcile_seconds']}s ({inv['reconcile_diffs']} differences), worker peak RSS "
              f"{inv['worker_rss_mib'].get('VmHWM')} MiB")
    print(f"  written to {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
