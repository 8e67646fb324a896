"""The Infor sandbox's batch job over HTTP, driven by the connector: asynchronous Confirm, lost answers, the
batch statuses 15/20/25/30/55/90 with M3's messages, credit stop, abandoned batch orders, cancellation."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from integration.connectors.infor import customers, orders
from integration.connectors.infor.errors import (
    BatchOrderNotDeletable,
    BatchOrderRejected,
    MandatoryInputFieldNotFound,
    PickingStarted,
    ServerReturnedNOK,
    WriteOutcomeUnknown,
)
from integration.connectors.infor.ionapi import IonApiCredentials
from integration.connectors.infor.m3 import M3Client
from psinfor_devkit.sandbox import catalogue
from psinfor_devkit.sandbox.infor import InforSandboxServer, start_infor_sandbox
from tests.sandbox.test_infor_sandbox import order_calls

CUNO = "PS0000042"
CUSTOMER = [{"program": "CRS610MI", "transaction": "Add", "record": {
    "CUNO": CUNO, "CUTM": catalogue.INFOR_CUSTOMER_TEMPLATE, "CUNM": "Camille Martin",
    "CUA1": "12 rue de la République", "PONO": "69002", "TOWN": "Lyon", "CSCD": "FR"}}]


@pytest.fixture
def sandbox() -> Iterator[InforSandboxServer]:
    server = start_infor_sandbox()
    yield server
    server.stop()


def client(sandbox: InforSandboxServer, **kwargs: object) -> M3Client:
    creds = IonApiCredentials.from_dict(sandbox.ionapi())
    return M3Client(creds, cono=catalogue.INFOR_COMPANY, divi=catalogue.INFOR_DIVISION, retry_backoff=0.0,
                    **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def m3(sandbox: InforSandboxServer) -> M3Client:
    return client(sandbox)


def control(sandbox: InforSandboxServer, method: str, path: str, **kwargs: object) -> dict:
    response = requests.request(method, f"{sandbox.url}/_sandbox/{path}", timeout=10, **kwargs)  # type: ignore[arg-type]
    response.raise_for_status()
    return dict(response.json())


def counts(sandbox: InforSandboxServer) -> tuple[int, int, int]:
    """(customer orders, batch orders, customers) as the sandbox holds them."""
    snapshot = control(sandbox, "GET", "orders")
    return (len(snapshot["orders"]), len(snapshot["batch_orders"]),
            len(control(sandbox, "GET", "customers")["customers"]))


def calls(cuor: str, *lines: tuple[str, str]) -> list[dict]:
    return order_calls(CUNO, cuor, *(lines or (("MUG-CERAMIC-350", "2"),)))


def load_like_the_loader(m3: M3Client, cuor: str, memory: dict) -> str | None:
    """One attempt of the order loader, using only the connector's look-ups: the customer order number once
    it exists, None while M3 is still working (come back later). Raises what the connector raises."""
    if customers.get_customer(m3, CUNO) is None:
        customers.add_customer(m3, [dict(c, record=dict(c["record"])) for c in CUSTOMER])
    existing = orders.find_order_by_customer_ref(m3, cuor, CUNO)
    if existing is not None:
        return existing
    temporary = memory.get("temporary")
    known = [b.temporary_orno for b in orders.find_batch_orders(m3, CUNO, cuor)]
    if temporary is None and known:
        temporary = memory["temporary"] = known[0]
    if temporary is not None:
        status = orders.get_batch_status(m3, temporary)
        if status is not None and status.created:
            return status.orno
        if status is not None and status.outcome == "pending":
            try:  # released before? then M3 says so; if the Confirm never arrived, this is it
                result = orders.confirm_batch_order(m3, temporary)
            except ServerReturnedNOK:
                return None
            return result.batch.orno
        raise AssertionError(f"unexpected batch status {status}")
    result = orders.create_batch_order(m3, calls(cuor), on_temporary=lambda t: memory.update(temporary=t))
    return result.batch.orno


def test_asynchronous_confirm_and_lost_answers_never_make_twins(m3: M3Client, sandbox: InforSandboxServer) -> None:
    control(sandbox, "POST", "config", json={"async_confirm_seconds": 3600})
    memory: dict = {}
    control(sandbox, "POST", "faults", json={"drop_after": "CRS610MI/Add", "drop_after_count": 1})
    with pytest.raises(WriteOutcomeUnknown):  # the customer was created, the answer lost
        load_like_the_loader(m3, "ABCDEFGHI-7", memory)
    control(sandbox, "POST", "faults", json={"drop_after": "OIS100MI/Confirm", "drop_after_count": 1})
    with pytest.raises(WriteOutcomeUnknown):  # released, the answer lost, the batch job not run yet
        load_like_the_loader(m3, "ABCDEFGHI-7", memory)
    for _ in range(3):  # retries while the batch job has not run: nothing new is created
        assert load_like_the_loader(m3, "ABCDEFGHI-7", {}) is None
    assert counts(sandbox) == (0, 1, 1)
    control(sandbox, "POST", "batch_orders/process")
    orno = load_like_the_loader(m3, "ABCDEFGHI-7", {})
    assert orno is not None and load_like_the_loader(m3, "ABCDEFGHI-7", {}) == orno
    assert counts(sandbox) == (1, 1, 1)
    assert control(sandbox, "GET", "stats")["by_transaction"]["CRS610MI/Add"] == 1


def test_a_confirm_that_never_reached_m3_is_sent_again_not_a_new_order(m3: M3Client,
                                                                        sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    head, *rest = calls("ABCDEFGHI-8")
    temporary = m3.execute_one("OIS100MI", "AddBatchHead", head["record"])["ORNO"]  # type: ignore[index]
    m3.bulk([{**c, "record": {"ORNO": temporary, **c["record"]}} for c in rest])
    # The worker died before Confirm: the loader finds the batch order by CUOR and finishes it.
    orno = load_like_the_loader(m3, "ABCDEFGHI-8", {})
    assert orno is not None and counts(sandbox) == (1, 1, 1)


def test_asynchronous_confirm_reads_pending_then_created(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    control(sandbox, "POST", "config", json={"async_confirm_seconds": 3600})
    result = orders.create_batch_order(m3, calls("ASYNC-1"))
    assert result.outcome == "pending" and not result.created
    with pytest.raises(ServerReturnedNOK, match="being processed"):
        orders.confirm_batch_order(m3, result.temporary_orno)
    with pytest.raises(ServerReturnedNOK, match="being processed"):
        orders.delete_batch_order(m3, result.temporary_orno)
    assert control(sandbox, "POST", "batch_orders/process")["processed"] == [result.temporary_orno]
    status = orders.get_batch_status(m3, result.temporary_orno)
    assert status is not None and status.created and status.orno
    assert orders.find_batch_orders(m3, CUNO, "ASYNC-1")[0].orno == status.orno


def test_the_batch_job_runs_by_itself_after_its_delay(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    control(sandbox, "POST", "config", json={"async_confirm_seconds": 0.2})
    result = orders.create_batch_order(m3, calls("ASYNC-2"))
    assert result.outcome == "pending"
    status = orders.get_batch_status(m3, result.temporary_orno)
    for _ in range(600):  # nothing timed is asserted: up to a minute for a 0.2 s delay
        if status is None or status.outcome != "pending":
            break
        time.sleep(0.1)
        status = orders.get_batch_status(m3, result.temporary_orno)
    assert status is not None and status.created


def test_status_25_comes_with_m3_s_messages(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    control(sandbox, "POST", "items", json={"itno": "PEN-GEL-BLU", "STAT": "50"})
    result = orders.create_batch_order(m3, calls("BLOCKED-1", ("MUG-CERAMIC-350", "1"), ("PEN-GEL-BLU", "3")))
    assert (result.outcome, result.status) == ("rejected", "25")
    [message] = orders.batch_order_messages(m3, result.temporary_orno)
    assert "PEN-GEL-BLU" in message.text and message.message_id and message.data.endswith("PEN-GEL-BLU")
    assert counts(sandbox)[0] == 0
    assert orders.delete_batch_order(m3, result.temporary_orno) is True  # abandoned: nothing left behind
    assert orders.find_batch_orders(m3, CUNO, "BLOCKED-1") == [] and counts(sandbox)[1] == 0


def test_a_refused_line_is_status_20_with_its_message(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    with pytest.raises(BatchOrderRejected) as info:
        orders.create_batch_order(m3, calls("LEGACY-1", ("LEGACY-LAMP", "1")))
    temporary = info.value.details["temporary_orno"]
    status = orders.get_batch_status(m3, temporary)
    assert status is not None and (status.status, status.outcome) == ("20", "rejected")
    assert "LEGACY-LAMP" in orders.batch_order_messages(m3, temporary)[0].text
    # Releasing it cannot bring the refused line back: it stays 20.
    assert orders.confirm_batch_order(m3, temporary).status == "20"


def test_credit_stop_holds_then_the_release_creates_the_order(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    control(sandbox, "POST", f"customers/{CUNO}/credit_stop", json={"stop": True})
    result = orders.create_batch_order(m3, calls("CREDIT-1"))
    assert (result.outcome, result.status) == ("credit_stop", "30")
    assert "credit" in orders.batch_order_messages(m3, result.temporary_orno)[0].text
    assert orders.get_batch_status(m3, result.temporary_orno).outcome == "credit_stop"  # type: ignore[union-attr]
    released = control(sandbox, "POST", f"customers/{CUNO}/credit_stop", json={"stop": False})
    assert released["released"] == [result.temporary_orno]
    status = orders.get_batch_status(m3, result.temporary_orno)
    assert status is not None and status.created
    assert orders.find_order_by_customer_ref(m3, "CREDIT-1", CUNO) == status.orno


def test_status_55_is_pending_until_released(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    control(sandbox, "POST", "batch_orders/stop_next", json={"status": "55"})
    result = orders.create_batch_order(m3, calls("STOP-1"))
    assert (result.outcome, result.status) == ("pending", "55")
    control(sandbox, "POST", f"batch_orders/{result.temporary_orno}/release")
    assert orders.get_batch_status(m3, result.temporary_orno).created  # type: ignore[union-attr]


def test_a_customer_on_hold_is_a_header_error_15(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    m3.execute("CRS610MI", "ChgBasicData", {"CUNO": CUNO, "STAT": "90"})
    result = orders.create_batch_order(m3, calls("HOLD-1"))
    assert (result.outcome, result.status) == ("rejected", "15")
    assert CUNO in orders.batch_order_messages(m3, result.temporary_orno)[0].text


def test_a_created_batch_order_is_never_deleted(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    result = orders.create_batch_order(m3, calls("DONE-1"))
    with pytest.raises(BatchOrderNotDeletable):
        orders.delete_batch_order(m3, result.temporary_orno)
    assert orders.delete_batch_order(m3, "9999999999") is False


def test_cancel_before_picking_deletes_the_lines(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    result = orders.create_batch_order(m3, calls("CANCEL-1", ("MUG-CERAMIC-350", "2"), ("PEN-GEL-BLU", "5")))
    before = m3.execute_one("MMS200MI", "GetItmWhsBal", {"WHLO": "100", "ITNO": "MUG-CERAMIC-350"})
    assert [line.status for line in orders.order_lines(m3, result.orno)] == ["22", "22"]
    cancelled = orders.cancel_order(m3, result.orno, reason="WEB")
    assert cancelled.lines == ("1", "2") and not cancelled.already_cancelled
    assert orders.order_status(orders.get_order(m3, result.orno) or {}) == ("90", "90")
    assert orders.order_lines(m3, result.orno) == []
    after = m3.execute_one("MMS200MI", "GetItmWhsBal", {"WHLO": "100", "ITNO": "MUG-CERAMIC-350"})
    assert int(after["REQT"]) == int(before["REQT"]) - 2  # type: ignore[index]
    assert orders.cancel_order(m3, result.orno).already_cancelled  # a repeat changes nothing
    assert orders.cancel_order(m3, result.orno, delete_head=True).head_deleted
    assert orders.get_order(m3, result.orno) is None


def test_cancel_after_picking_is_held(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    result = orders.create_batch_order(m3, calls("CANCEL-2"))
    control(sandbox, "POST", f"orders/{result.orno}/advance", json={"to": "allocate"})
    with pytest.raises(PickingStarted):
        orders.cancel_order(m3, result.orno)
    control(sandbox, "POST", f"orders/{result.orno}/advance", json={"to": "pick"})
    with pytest.raises(PickingStarted) as info:
        orders.cancel_order(m3, result.orno, threshold="44")
    assert info.value.details["lines"][0]["ORST"] == "44"
    with pytest.raises(ServerReturnedNOK) as refused:  # M3 itself refuses too
        m3.execute("OIS100MI", "DelLine", {"ORNO": result.orno, "PONR": "1"})
    assert refused.value.field == "PONR"
    assert [line.status for line in orders.order_lines(m3, result.orno)] == ["44"]


def test_cancel_by_closing_lines(m3: M3Client, sandbox: InforSandboxServer) -> None:
    customers.add_customer(m3, CUSTOMER)
    result = orders.create_batch_order(m3, calls("CANCEL-3"))
    assert orders.cancel_order(m3, result.orno, method="close").lines == ("1",)
    assert [line.status for line in orders.order_lines(m3, result.orno)] == ["99"]
    assert orders.order_status(orders.get_order(m3, result.orno) or {}) == ("99", "99")
    other = orders.create_batch_order(m3, calls("CANCEL-4")).orno
    with pytest.raises(ServerReturnedNOK, match="open line"):  # the sandbox's DelHead wants no open lines
        m3.execute("OIS100MI", "DelHead", {"ORNO": other})
    # Closed lines are not open: the head of CANCEL-3 may go.
    m3.execute("OIS100MI", "DelHead", {"ORNO": result.orno})
    assert orders.get_order(m3, result.orno) is None


def test_mandatory_fields_come_from_the_swagger(m3: M3Client) -> None:
    with pytest.raises(MandatoryInputFieldNotFound):  # DelLine: ORNO and PONR are required in the swagger
        m3.execute("OIS100MI", "DelLine", {"ORNO": "1000000001"})
    with pytest.raises(ServerReturnedNOK, match="Order number must be entered"):  # CloLine: nothing required
        m3.execute("OIS100MI", "CloLine", {"PONR": "1"})


def test_a_v1_tenant_never_gets_a_bulk_call(sandbox: InforSandboxServer) -> None:
    v1 = client(sandbox, api_version="v1")
    customers.add_customer(v1, CUSTOMER)
    control(sandbox, "POST", "stats/reset")
    result = orders.create_batch_order(v1, calls("V1-1", ("MUG-CERAMIC-350", "1"), ("PEN-GEL-BLU", "2")))
    assert result.created
    stats = control(sandbox, "GET", "stats")
    assert stats["bulk_requests"] == 0 and stats["by_route"] == {"execute_v1": 6}
    assert orders.cancel_order(v1, result.orno).lines == ("1", "2")
    assert control(sandbox, "GET", "stats")["bulk_requests"] == 0
