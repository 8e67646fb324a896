"""Order, customer and stock calls at the HTTP boundary: call counts, CUOR look-up, rejections."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integration.connectors.infor.customers import add_customer, get_customer
from integration.connectors.infor.errors import BatchOrderNotCreated, BatchOrderRejected, M3Error, ServerReturnedNOK
from integration.connectors.infor.m3 import M3Client
from integration.connectors.infor.orders import (
    create_batch_order,
    find_order_by_customer_ref,
    find_shop_order,
    get_order,
    list_deliveries,
    tracking_numbers,
)
from integration.connectors.infor.stock import changed_balances
from integration.errors import MappingError, PermanentError
from tests.connectors.test_infor_helpers import M3, TOKEN_URL, credentials, v2, v2_error

EXEC = f"{M3}/v2/execute"


@pytest.fixture
def m3() -> M3Client:
    responses.post(TOKEN_URL, json={"access_token": "t", "token_type": "Bearer", "expires_in": 7200})
    return M3Client(credentials(), cono="100", divi="AAA", retry_backoff=0.0)


def order_calls(*items: str) -> list[dict]:
    calls = [{"program": "OIS100MI", "transaction": "AddBatchHead",
              "record": {"CUNO": "WEB0000001", "ORTP": "WEB", "CUOR": "XKBKNABJK-1", "WHLO": "100"}},
             {"program": "OIS100MI", "transaction": "AddBatchAddress",
              "record": {"ADRT": "1", "CUNM": "Camille Martin", "CUA1": "12 rue de la République",
                         "PONO": "69002", "TOWN": "Lyon", "CSCD": "FR"}}]
    for itno in items:
        calls.append({"program": "OIS100MI", "transaction": "AddBatchLine",
                      "record": {"ITNO": itno, "ORQT": "2", "SAPR": "9.50", "WHLO": "100"}})
    return calls


def api_calls() -> list[responses.Call]:
    return [c for c in responses.calls if "/M3/" in c.request.url]


@responses.activate
def test_batch_order_takes_four_calls_whatever_the_line_count(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/AddBatchHead", json=v2("AddBatchHead", {"ORNO": "9000000007"}))
    lines = [f"ITEM-{i}" for i in range(120)]
    responses.post(EXEC, json={"results": [{"transaction": "AddBatchAddress", "records": []}] + [
        {"transaction": "AddBatchLine", "records": [{"PONR": str(i + 1), "POSX": "0"}]} for i in range(120)],
        "wasTerminated": False, "nrOfSuccessfullTransactions": 121, "nrOfFailedTransactions": 0})
    responses.get(f"{EXEC}/OIS100MI/Confirm", json=v2("Confirm", {"ORNO": "1000000042", "STAT": "22"}))
    responses.get(f"{EXEC}/OIS275MI/GetTmpOrderStat",
                  json=v2("GetTmpOrderStat", {"ORNO": "9000000007", "ORNR": "1000000042", "STAT": "90"}))
    result = create_batch_order(m3, order_calls(*lines))
    assert (result.orno, result.temporary_orno, result.outcome) == ("1000000042", "9000000007", "created")
    assert (result.confirm_orno, result.confirm_status) == ("1000000042", "22")
    assert len(api_calls()) == 4
    bulk = json.loads(api_calls()[1].request.body)
    assert bulk["program"] == "OIS100MI" and len(bulk["transactions"]) == 121
    assert all(t["record"]["ORNO"] == "9000000007" for t in bulk["transactions"])
    confirm = parse_qs(urlsplit(api_calls()[2].request.url).query)
    assert confirm["ORNO"] == ["9000000007"]


@pytest.mark.parametrize(("confirm", "status", "outcome", "orno"), [
    # Confirm's answer is a hint only: the batch status in OIS275 decides.
    ({"ORNO": "1000000042", "STAT": "90"}, {"ORNR": "", "STAT": "10"}, "pending", None),
    ({"ORNO": "9000000007", "STAT": "25"}, {"ORNR": "", "STAT": "25"}, "rejected", None),
    ({"ORNO": "9000000007", "STAT": "30"}, {"ORNR": "", "STAT": "30"}, "credit_stop", None),
    ({"ORNO": "9000000007", "STAT": "55"}, {"ORNR": "", "STAT": "55"}, "pending", None),
    ({}, {"ORNR": "1000000043", "STAT": "90"}, "created", "1000000043"),
    ({"ORNO": "1000000044", "STAT": "90"}, {"ORNR": "", "STAT": "90"}, "pending", None),  # 90 without ORNR
])
@responses.activate
def test_confirm_never_assumes_success(m3: M3Client, confirm: dict, status: dict, outcome: str,
                                       orno: str | None) -> None:
    responses.get(f"{EXEC}/OIS100MI/AddBatchHead", json=v2("AddBatchHead", {"ORNO": "9000000007"}))
    responses.post(EXEC, json={"results": [{"transaction": "AddBatchAddress", "records": []},
                                           {"transaction": "AddBatchLine", "records": [{"PONR": "1"}]}],
                               "wasTerminated": False, "nrOfSuccessfullTransactions": 2,
                               "nrOfFailedTransactions": 0})
    responses.get(f"{EXEC}/OIS100MI/Confirm", json=v2("Confirm", *([confirm] if confirm else [])))
    responses.get(f"{EXEC}/OIS275MI/GetTmpOrderStat",
                  json=v2("GetTmpOrderStat", {"ORNO": "9000000007", **status}))
    result = create_batch_order(m3, order_calls("MUG-CERAMIC-350"))
    assert (result.outcome, result.batch.orno, result.temporary_orno) == (outcome, orno, "9000000007")
    assert result.created is (outcome == "created")
    if orno is None:
        with pytest.raises(BatchOrderNotCreated) as info:
            _ = result.orno  # never a silent None where an order number is expected
        assert info.value.details["outcome"] == outcome


@responses.activate
def test_rejected_line_leaves_the_batch_order_unconfirmed(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/AddBatchHead", json=v2("AddBatchHead", {"ORNO": "9000000008"}))
    responses.post(EXEC, json={"results": [
        {"transaction": "AddBatchAddress", "records": []},
        {"transaction": "AddBatchLine", "records": [{"PONR": "1"}]},
        {"transaction": "AddBatchLine", "errorMessage": "Item number LEGACY-LAMP does not exist",
         "errorType": "ServerReturnedNOK", "errorCode": "WIT0203", "errorField": "ITNO"}],
        "wasTerminated": False, "nrOfSuccessfullTransactions": 2, "nrOfFailedTransactions": 1})
    with pytest.raises(BatchOrderRejected) as info:
        create_batch_order(m3, order_calls("MUG-CERAMIC-350", "LEGACY-LAMP"))
    error = info.value
    assert isinstance(error, PermanentError) and isinstance(error, ServerReturnedNOK)
    assert "Item number LEGACY-LAMP does not exist" in str(error)
    assert error.field == "ITNO" and error.details["temporary_orno"] == "9000000008"
    assert error.details["rejections"][0]["line"] == "LEGACY-LAMP"
    assert not any("Confirm" in c.request.url for c in responses.calls)


def test_calls_from_the_mapping_must_not_carry_an_orno() -> None:
    calls = order_calls("A")
    calls[2]["record"]["ORNO"] = "X"
    with pytest.raises(MappingError):
        create_batch_order(None, calls)  # type: ignore[arg-type]
    with pytest.raises(MappingError):
        create_batch_order(None, order_calls())  # type: ignore[arg-type]


@responses.activate
def test_find_by_cuor_with_customer_uses_lsthead(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/LstHead", json=v2("LstHead", {"ORNO": "1000000050", "CUOR": "OTHER-2"},
                                                      {"ORNO": "1000000051", "CUOR": "XKBKNABJK-1"}))
    assert find_order_by_customer_ref(m3, "XKBKNABJK-1", "WEB0000001") == "1000000051"
    query = parse_qs(urlsplit(api_calls()[0].request.url).query)
    assert query["CUNO"] == ["WEB0000001"] and query["maxrecs"] == ["0"]
    assert find_order_by_customer_ref(m3, "NOT-THERE-9", "WEB0000001") is None


def _lists(head: list[dict], batch: list[dict], *, names: tuple[str, str] = ("LstHead", "LstBatchHead")) -> dict:
    return {"results": [{"transaction": names[0], "records": head}, {"transaction": names[1], "records": batch}],
            "wasTerminated": False, "nrOfSuccessfullTransactions": 2, "nrOfFailedTransactions": 0}


@responses.activate
def test_the_look_up_before_creating_is_one_bulk_call(m3: M3Client) -> None:
    responses.post(EXEC, json=_lists(
        [{"ORNO": "1000000050", "CUOR": "OTHER-2"}],
        [{"ORNO": "9000000003", "STAT": "10", "CUOR": "XKBKNABJK-1", "ORNR": ""},
         {"ORNO": "9000000001", "STAT": "90", "CUOR": "XKBKNABJK-1", "ORNR": "1000000049"}]))
    found = find_shop_order(m3, "WEB0000001", "XKBKNABJK-1")
    assert found.orno is None
    assert [(b.temporary_orno, b.orno) for b in found.batch_orders] == [("9000000001", "1000000049"),
                                                                        ("9000000003", None)]
    assert len(api_calls()) == 1
    body = json.loads(api_calls()[0].request.body)
    assert body["program"] == "OIS100MI" and body["maxReturnedRecords"] == 0
    assert [t["transaction"] for t in body["transactions"]] == ["LstHead", "LstBatchHead"]


@responses.activate
def test_a_look_up_list_as_long_as_the_cap_is_read_again_whole(m3: M3Client) -> None:
    """M3's bulk cap is not documented: a list that may have been cut is never the basis of "not there"."""
    m3.list_cap = 2
    responses.post(EXEC, json=_lists([{"ORNO": "1000000050", "CUOR": "A-1"}, {"ORNO": "1000000051", "CUOR": "A-2"}],
                                     []))
    responses.get(f"{EXEC}/OIS100MI/LstHead", json=v2("LstHead", {"ORNO": "1000000050", "CUOR": "A-1"},
                                                      {"ORNO": "1000000051", "CUOR": "A-2"},
                                                      {"ORNO": "1000000052", "CUOR": "XKBKNABJK-1"}))
    assert find_shop_order(m3, "WEB0000077", "XKBKNABJK-1").orno == "1000000052"
    assert len(api_calls()) == 2
    assert parse_qs(urlsplit(api_calls()[1].request.url).query)["maxrecs"] == ["0"]
    # That customer's next order is looked up with the two unlimited calls directly, not three.
    responses.get(f"{EXEC}/OIS100MI/LstBatchHead", json=v2("LstBatchHead"))
    assert find_shop_order(m3, "WEB0000077", "OTHER-7").orno is None
    assert [urlsplit(c.request.url).path.rsplit("/", 1)[1] for c in api_calls()[2:]] == ["LstHead", "LstBatchHead"]


@responses.activate
def test_an_unknown_customer_has_nothing_and_an_answer_out_of_order_is_refused(m3: M3Client) -> None:
    nok = {"errorMessage": "Customer does not exist", "errorType": "ServerReturnedNOK", "errorCode": "WCU0203",
           "errorField": "CUNO", "records": []}
    responses.post(EXEC, json={"results": [{"transaction": "LstHead", **nok}, {"transaction": "LstBatchHead", **nok}],
                               "wasTerminated": False, "nrOfSuccessfullTransactions": 0,
                               "nrOfFailedTransactions": 2})
    found = find_shop_order(m3, "PS9999999", "NEW-1")
    assert found.orno is None and found.batch_orders == []
    responses.post(EXEC, json=_lists([], [], names=("LstBatchHead", "LstHead")))
    with pytest.raises(M3Error, match="not in the order of the request"):
        find_shop_order(m3, "WEB0000001", "NEW-1")


@responses.activate
def test_find_by_cuor_without_customer_uses_exportmi(m3: M3Client) -> None:
    responses.get(f"{EXEC}/EXPORTMI/Select", json=v2("Select", {"REPL": "1000000051;O'NEIL-1"}))
    assert find_order_by_customer_ref(m3, "O'NEIL-1") == "1000000051"
    query = parse_qs(urlsplit(api_calls()[0].request.url).query)
    assert query["QERY"] == ["OAORNO,OACUOR from OOHEAD where OACONO = 100 and OACUOR = 'O''NEIL-1'"]


@responses.activate
def test_get_order_is_none_for_an_unknown_order(m3: M3Client) -> None:
    responses.get(f"{EXEC}/OIS100MI/GetHead",
                  json=v2_error("GetHead", "Order number 1 does not exist", "WOR0203", "ORNO"))
    assert get_order(m3, "1") is None


@responses.activate
def test_tracking_numbers_from_delivery_heads(m3: M3Client) -> None:
    responses.get(f"{EXEC}/MWS411MI/LstDelLnByOrd", json=v2("LstDelLnByOrd", {"DLIX": "5000001", "ITNO": "A"},
                                                            {"DLIX": "5000001", "ITNO": "B"}))
    responses.get(f"{EXEC}/MWS410MI/GetHead", json=v2("GetHead", {"DLIX": "5000001", "ETRN": "1Z999AA1"}))
    deliveries = list_deliveries(m3, "1000000051")
    assert tracking_numbers(deliveries) == ["1Z999AA1"]


@responses.activate
def test_add_customer_treats_an_existing_cuno_as_done(m3: M3Client) -> None:
    responses.get(f"{EXEC}/CRS610MI/Add",
                  json=v2_error("Add", "Customer number already exists", "WCU0101", "CUNO"))
    responses.get(f"{EXEC}/CRS610MI/GetBasicData", json=v2("GetBasicData", {"CUNO": "WEB0000001"}))
    calls = [{"program": "CRS610MI", "transaction": "Add",
              "record": {"CUNO": "WEB0000001", "CUTM": "WEBTMPL", "CUNM": "Camille Martin", "CUA1": "x"}}]
    assert add_customer(m3, calls) == "WEB0000001"
    assert get_customer(m3, "WEB0000001") == {"CUNO": "WEB0000001"}


@responses.activate
def test_changed_balances_take_the_server_time_first(m3: M3Client) -> None:
    responses.get(f"{EXEC}/GENERAL/GetServerTime", json=v2("GetServerTime", {"LMTS": "1795000000000"}))
    responses.get(f"{EXEC}/OIS100MI/LstNewBalances",
                  json=v2("LstNewBalances", {"WHLO": "100", "ITNO": "MUG-CERAMIC-350", "AV01": " 298 "}))
    changes = changed_balances(m3, "1794000000000")
    assert changes.next_lmts == "1795000000000"
    assert str(changes.balances[0].available) == "298"
    assert [c.request.url.split("?")[0].rsplit("/", 1)[1] for c in api_calls()] == [
        "GetServerTime", "LstNewBalances"]


@responses.activate
def test_add_customer_sends_addresses_and_financial_data_in_one_bulk(m3: M3Client) -> None:
    responses.get(f"{EXEC}/CRS610MI/Add", json=v2("Add", {"CUNO": "PS0000002"}))
    responses.post(EXEC, json={"results": [{"transaction": "ChgFinancial", "records": []}],
                               "wasTerminated": False, "nrOfSuccessfullTransactions": 1,
                               "nrOfFailedTransactions": 0})
    calls = [{"program": "CRS610MI", "transaction": "Add",
              "record": {"CUNO": "PS0000002", "CUTM": "WEBTMPL", "CUNM": "Müller Werkzeuge GmbH", "CUA1": "x"}},
             {"program": "CRS610MI", "transaction": "ChgFinancial",
              "record": {"CUNO": "PS0000002", "VRNO": "DE123456789"}}]
    assert add_customer(m3, calls) == "PS0000002"
    bulk = json.loads(api_calls()[1].request.body)
    assert bulk["transactions"] == [{"transaction": "ChgFinancial",
                                     "record": {"CUNO": "PS0000002", "VRNO": "DE123456789"}}]
