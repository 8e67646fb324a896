"""A third-party client written for the real webservice (prestapyt 0.11.1) works against the sandbox unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox
from psinfor_devkit.sandbox.prestashop.cli import command
from psinfor_devkit.sandbox.server import SandboxServer
from tests.sandbox.prestashop_helpers import KEY


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_prestashop_sandbox(port=0, key=KEY, orders=3)
    yield server
    server.stop()


@pytest.mark.filterwarnings("ignore:This library may not be compatible")
def test_prestapyt_reads_searches_and_writes(sandbox: SandboxServer) -> None:
    prestapyt = pytest.importorskip("prestapyt")  # dev extra: prestapyt==0.11.1
    ps = prestapyt.PrestaShopWebServiceDict(f"{sandbox.url}/api", KEY)
    order = ps.get("orders", 1)["order"]
    assert order["id"] == "1" and isinstance(order["associations"]["order_rows"]["order_row"], list | dict)
    assert ps.search("orders", options={"filter[id]": "[1|3]", "sort": "[id_DESC]"}) == [3, 1]
    assert ps.search("order_payments", options={"filter[order_reference]": "[NONE]"}) == []
    assert ps.search("orders", options={"filter[date_upd]": ">[2000-01-01 00:00:00]", "date": 1,
                                        "limit": "0,1000", "sort": "[id_ASC]"}) == [1, 2, 3]
    history = ps.get("order_histories", options={"schema": "blank"})
    history["order_history"].update({"id_order": "1", "id_order_state": "4"})
    created = ps.add("order_histories?sendemail=1", history)
    assert created["prestashop"]["order_history"]["id_order_state"] == "4"
    assert ps.get("orders", 1)["order"]["current_state"] == "4"
    carrier = ps.get("order_carriers", 1)
    carrier["order_carrier"]["tracking_number"] = "XYZ123"
    ps.edit("order_carriers", carrier)
    assert ps.get("order_carriers", 1)["order_carrier"]["tracking_number"] == "XYZ123"
    ps.head("orders")
    with pytest.raises(prestapyt.PrestaShopAuthenticationError):
        prestapyt.PrestaShopWebServiceDict(f"{sandbox.url}/api", "B" * 32).get("orders", 1)


def test_cli_command_is_registered_and_documented() -> None:
    result = CliRunner().invoke(command, ["--help"])
    assert result.exit_code == 0 and "--webhook-secret" in result.output and "--orders" in result.output


def test_cli_runs_the_sandbox_as_a_process(tmp_path) -> None:
    import subprocess
    import sys
    import time

    import requests

    from psinfor_devkit.devservices import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "integration", "sandbox", "prestashop", "--port", str(port),
                                "--key", KEY, "--orders", "4"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                stats = requests.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=1).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("the sandbox did not start")
        assert stats["orders"] == 4
        orders = requests.get(f"http://127.0.0.1:{port}/api/orders", auth=(KEY, ""), timeout=5)
        assert orders.status_code == 200 and orders.content.count(b"<order id=") == 4
    finally:
        process.terminate()
        process.wait(timeout=10)
