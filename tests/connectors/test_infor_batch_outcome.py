"""Batch-order outcome, look-ups, deletion and cancellation at the HTTP boundary; MI REST v1 without bulk."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integration.connectors.infor.errors import BatchOrderNotDeletable, PickingStarted, ServerReturnedNOK
from integration.connectors.infor.m3 import M3Client
from integration.connectors.infor.orders import (
    BatchStatus,
    batch_order_messages,
    cancel_order,
    delete_batch_order,
    find_batch_orders,
    get_batch_status,
    picking_started,
)
from integration.errors import HeldForReview
from tests.connectors.test_infor_helpers import M3, TOKEN_URL, credentials, v2, v2_error

EXEC = f"{M3}/v2/execute"


@pytest.fixture
def m3() -> M3Client:
    responses.post(TOKEN_URL, json={"access_token": "t", "token_type": "Bearer", "expires_in": 7200})
    return M3Client(credentials(), cono="100", divi="AAA", retry_backoff=0.0)


def calls(kind: str = "/M3/") -> list[responses.Call]:
    return [c for c in responses.calls if kind in c.request.url]


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def bulk_ok(*transactions: str) -> dict:
    return {"results": [{"transaction": t, "records": []} for t in transactions], "wasTerminated": False,
            "nrOfSuccessfullTransactions": len(transactions), "nrOfFailedTransactions": 0}


@pytest.mark.parametrize(("status", "ornr", "outcome"), [
    ("90", "1000000001", "created"), ("90", "", "pending"), ("15", "", "rejected"), ("20", "", "rejected"),
    ("25", "", "rejected"), ("30", "", "credit_stop"), ("55", "", "pending"), ("10", "", "pending"),
    ("", "", "pending"),
])
def test_batch_status_outcomes(status: str, ornr: str, outcome: str) -> None:
    assert BatchStatus("9000000001", status, ornr or None).outcome == outcome


@responses.activate
def test_get_batch_status_reads_ois275_and_knows_a_missing_batch_order(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS275MI/GetTmpOrderStat",
                  json=v2("GetTmpOrderStat", {"ORNO": "9000000001", "ORNR": "1000000009", "STAT": "90"}))
    responses.get(f"{EXEC}/OIS275MI/GetTmpOrderStat",
                  json=v2_error("GetTmpOrderStat", "Batch order 9 does not exist", "WOR0203", "ORNO"), status=400)
    assert get_batch_status(m3, "9000000001") == BatchStatus("9000000001", "90", "1000000009")
    assert get_batch_status(m3, "9") is None


@responses.activate
def test_messages_are_typed(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/LstErrMsgOrder", json=v2(
        "LstErrMsgOrder", {"MSID": "WIT0503", "TX60": "Item X has status 50 ", "MDTA": "1;X", "LEVL": "3"}))
    [message] = batch_order_messages(m3, "9000000001")
    assert message.describe() == "WIT0503: Item X has status 50 (1;X)"
    assert query(calls()[0])["maxrecs"] == ["0"]


@responses.activate
def test_find_batch_orders_by_cuor(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/LstBatchHead", json=v2(
        "LstBatchHead", {"ORNO": "9000000003", "STAT": "10", "CUOR": "ABC-1", "ORNR": ""},
        {"ORNO": "9000000002", "STAT": "90", "CUOR": "ABC-1", "ORNR": "1000000001"},
        {"ORNO": "9000000004", "STAT": "10", "CUOR": "OTHER-2", "ORNR": ""}))
    responses.get(f"{EXEC}/OIS100MI/LstBatchHead",
                  json=v2_error("LstBatchHead", "Customer PS1 does not exist", "WCU0203", "CUNO"), status=400)
    found = find_batch_orders(m3, "PS0000001", "ABC-1")
    assert [(b.temporary_orno, b.status, b.orno) for b in found] == [
        ("9000000002", "90", "1000000001"), ("9000000003", "10", None)]
    assert found[0].batch_status.created and not found[1].batch_status.created
    assert query(calls()[0])["CUNO"] == ["PS0000001"]
    assert find_batch_orders(m3, "PS1", "ABC-1") == []


@responses.activate
def test_delete_batch_order_reads_first_and_never_deletes_a_created_order(m3: M3Client) -> None:
    stat = f"{EXEC}/OIS275MI/GetTmpOrderStat"
    responses.get(stat, json=v2("GetTmpOrderStat", {"ORNO": "9000000001", "ORNR": "", "STAT": "25"}))
    responses.get(f"{EXEC}/OIS100MI/DelBatchHead", json=v2("DelBatchHead"))
    assert delete_batch_order(m3, "9000000001") is True
    assert [c.request.url.split("?")[0].rsplit("/", 1)[1] for c in calls()] == ["GetTmpOrderStat", "DelBatchHead"]
    responses.replace(responses.GET, stat, json=v2("GetTmpOrderStat",
                                                   {"ORNO": "9000000001", "ORNR": "1000000001", "STAT": "90"}))
    with pytest.raises(BatchOrderNotDeletable):
        delete_batch_order(m3, "9000000001")
    responses.replace(responses.GET, stat, json=v2_error("GetTmpOrderStat", "no such batch order", "WOR0203",
                                                         "ORNO"), status=400)
    assert delete_batch_order(m3, "9000000001") is False


def lines(*statuses: str) -> dict:
    return v2("LstLine", *({"PONR": str(i + 1), "POSX": "0", "ITNO": f"ITEM-{i + 1}", "ORST": s, "ORQT": "1"}
                           for i, s in enumerate(statuses)))


@responses.activate
def test_cancel_deletes_every_open_line_in_one_bulk(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/GetHead", json=v2("GetHead", {"ORNO": "1000000001", "ORSL": "22"}))
    responses.get(f"{EXEC}/OIS100MI/LstLine", json=lines("22", "23", "99"))
    responses.post(EXEC, json=bulk_ok("DelLine", "DelLine"))
    result = cancel_order(m3, "1000000001", reason="WEB", lost_sales=False)
    assert result.lines == ("1", "2") and not result.already_cancelled and not result.head_deleted
    body = json.loads(calls()[-1].request.body)
    assert body["transactions"] == [
        {"transaction": "DelLine", "record": {"ORNO": "1000000001", "PONR": "1", "POSX": "0", "RSCD": "WEB",
                                              "OT65": "0"}},
        {"transaction": "DelLine", "record": {"ORNO": "1000000001", "PONR": "2", "POSX": "0", "RSCD": "WEB",
                                              "OT65": "0"}}]


@responses.activate
def test_cancel_after_picking_started_is_held_and_changes_nothing(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/GetHead", json=v2("GetHead", {"ORNO": "1000000001"}))
    responses.get(f"{EXEC}/OIS100MI/LstLine", json=lines("22", "33"))
    with pytest.raises(PickingStarted) as info:
        cancel_order(m3, "1000000001")
    assert isinstance(info.value, HeldForReview)
    assert "line 2 (ITEM-2) status 33" in str(info.value)
    assert not [c for c in calls() if c.request.method == "POST"]
    # Allocation alone is not picking when the caller says so: 44 is the picking list.
    responses.post(EXEC, json=bulk_ok("DelLine", "DelLine"))
    assert cancel_order(m3, "1000000001", threshold="44").lines == ("1", "2")


@responses.activate
def test_cancel_racing_a_picking_list_says_what_was_cancelled(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/GetHead", json=v2("GetHead", {"ORNO": "1000000001"}))
    responses.get(f"{EXEC}/OIS100MI/LstLine", json=lines("22", "22"))
    responses.get(f"{EXEC}/OIS100MI/LstLine", json=lines("44"))
    responses.post(EXEC, json={"results": [
        {"transaction": "DelLine", "records": []},
        {"transaction": "DelLine", "errorMessage": "Line 2 has status 44", "errorType": "ServerReturnedNOK",
         "errorCode": "WLI0603", "errorField": "PONR"}], "wasTerminated": False,
        "nrOfSuccessfullTransactions": 1, "nrOfFailedTransactions": 1})
    with pytest.raises(PickingStarted) as info:
        cancel_order(m3, "1000000001")
    assert info.value.details["cancelled_lines"] == ["1"]


@responses.activate
def test_cancel_by_closing_lines_and_repeats(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/GetHead", json=v2("GetHead", {"ORNO": "1000000001"}))
    responses.get(f"{EXEC}/OIS100MI/LstLine", json=lines("22"))
    responses.get(f"{EXEC}/OIS100MI/LstLine", json=lines("99"))
    responses.post(EXEC, json=bulk_ok("CloLine"))
    assert cancel_order(m3, "1000000001", method="close").lines == ("1",)
    assert json.loads(calls()[-1].request.body)["transactions"][0]["transaction"] == "CloLine"
    again = cancel_order(m3, "1000000001", method="close")
    assert again.already_cancelled and again.lines == ()


@responses.activate
def test_cancel_of_an_order_m3_no_longer_has(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/GetHead",
                  json=v2_error("GetHead", "Order number 1 does not exist", "WOR0203", "ORNO"), status=400)
    assert cancel_order(m3, "1000000001").already_cancelled


@responses.activate
def test_cancel_with_delete_head(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/GetHead", json=v2("GetHead", {"ORNO": "1000000001"}))
    responses.get(f"{EXEC}/OIS100MI/LstLine", json=lines("22"))
    responses.post(EXEC, json=bulk_ok("DelLine"))
    responses.get(f"{EXEC}/OIS100MI/DelHead", json=v2("DelHead"))
    assert cancel_order(m3, "1000000001", delete_head=True).head_deleted
    assert query(calls()[-1])["ORNO"] == ["1000000001"]


def test_picking_started_ignores_closed_lines() -> None:
    from integration.connectors.infor.orders import LineStatus

    assert not picking_started([LineStatus("1", "0", "A", "99"), LineStatus("2", "0", "B", "22")])
    assert picking_started([LineStatus("1", "0", "A", "66")], threshold="44")


@responses.activate
def test_v1_tenant_gets_single_calls_never_a_bulk_post() -> None:
    responses.post(TOKEN_URL, json={"access_token": "t", "token_type": "Bearer", "expires_in": 7200})
    client = M3Client(credentials(), cono="100", divi="AAA", retry_backoff=0.0, api_version="v1")
    v1 = re.compile(re.escape(f"{M3}/execute/OIS100MI/DelLine") + ";.*")  # v1 context as matrix parameters
    responses.get(v1, json={"Program": "OIS100MI", "Transaction": "DelLine", "MIRecord": []})
    responses.get(v1, json={
        "Message": "Line 2 has status 44    ", "@type": "ServerReturnedNOK", "@code": "WLI0603", "@field": "PONR"})
    results = client.bulk([{"program": "OIS100MI", "transaction": "DelLine", "record": {"ORNO": "1", "PONR": str(p)}}
                           for p in (1, 2)])
    assert [r.ok for r in results] == [True, False]
    assert isinstance(results[1].error, ServerReturnedNOK) and results[1].error.field == "PONR"
    assert not [c for c in calls() if c.request.method == "POST"]
    assert [query(c)["PONR"] for c in calls()] == [["1"], ["2"]]
