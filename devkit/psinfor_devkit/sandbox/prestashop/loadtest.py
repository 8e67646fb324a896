"""Measure the PrestaShop sandbox's simple-GET rate: ``python -m psinfor_devkit.sandbox.prestashop.loadtest``.

The sandbox runs in its own process (its own GIL, as under ``psinfor sandbox prestashop``), the load comes
from separate processes over keep-alive connections (``http.client``, the cheapest client, so the client side
is not what is measured), and the sandbox reports its own CPU time. Two figures come out: the throughput
reached on this machine, and the sandbox's CPU per request, i.e. the rate one core can serve.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import subprocess
import sys
import time
import urllib.request
from typing import Any

from psinfor_devkit.devservices import free_port
from psinfor_devkit.sandbox.prestashop import DEFAULT_KEY

AUTH = "Basic " + base64.b64encode(f"{DEFAULT_KEY}:".encode()).decode()


def _load(port: int, threads: int, seconds: float, out: Any) -> None:
    import threading

    counts = [0] * threads

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            connection.request("GET", f"/api/customers/{1 + n % 8}", headers={"Authorization": AUTH})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"unexpected status {response.status}")
            n += 1
        counts[index] = n

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put(sum(counts))


def _stats(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/_sandbox/stats", timeout=5) as response:  # noqa: S310 - local sandbox
        return dict(json.loads(response.read()))


def measure(processes: int = 2, threads: int = 4, seconds: float = 5.0) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "integration", "sandbox", "prestashop", "--port", str(port),
                               "--orders", "50"], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                before = _stats(base)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the sandbox did not start")
        queue: Any = multiprocessing.Queue()
        workers = [multiprocessing.Process(target=_load, args=(port, threads, seconds, queue))
                   for _ in range(processes)]
        started = time.perf_counter()
        for process in workers:
            process.start()
        total = sum(queue.get() for _ in workers)
        for process in workers:
            process.join()
        elapsed = time.perf_counter() - started
        after = _stats(base)
    finally:
        server.terminate()
        server.wait(timeout=10)
    served = after["requests"] - before["requests"]  # control calls are not counted in "requests"
    cpu = after["cpu_seconds"] - before["cpu_seconds"]
    return {"requests": float(total), "seconds": round(elapsed, 2), "requests_per_second": round(total / elapsed),
            "server_cpu_us_per_request": round(cpu / max(served, 1) * 1e6),
            "one_core_requests_per_second": round(max(served, 1) / cpu) if cpu else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(json.dumps(measure(args.processes, args.threads, args.seconds)))


if __name__ == "__main__":
    main()
