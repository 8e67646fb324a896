"""The Infor sandbox over real HTTP: ION tokens, M3 semantics, batch order life cycle, faults, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests

from integration.connectors.infor import customers, orders, stock
from integration.connectors.infor.errors import (
    BatchOrderRejected,
    InforTransientError,
    InputFieldTooLong,
    MandatoryInputFieldNotFound,
    ServerReturnedNOK,
    TransactionNotFound,
    WriteOutcomeUnknown,
)
from integration.connectors.infor.ionapi import IonApiCredentials, TokenProvider
from integration.connectors.infor.m3 import M3Client
from psinfor_devkit.sandbox import catalogue
from psinfor_devkit.sandbox.infor import InforSandboxServer, start_infor_sandbox


@pytest.fixture
def sandbox() -> Iterator[InforSandboxServer]:
    server = start_infor_sandbox()
    yield server
    server.stop()


@pytest.fixture
def m3(sandbox: InforSandboxServer) -> M3Client:
    creds = IonApiCredentials.from_dict(sandbox.ionapi())
    return M3Client(creds, cono=catalogue.INFOR_COMPANY, divi=catalogue.INFOR_DIVISION, retry_backoff=0.0)


def control(sandbox: InforSandboxServer, method: str, path: str, **kwargs) -> dict:
    response = requests.request(method, f"{sandbox.url}/_sandbox/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def make_customer(m3: M3Client, cuno: str = "WEB0000001") -> str:
    return customers.add_customer(m3, [{"program": "CRS610MI", "transaction": "Add", "record": {
        "CUNO": cuno, "CUTM": catalogue.INFOR_CUSTOMER_TEMPLATE, "CUNM": "Camille Martin",
        "CUA1": "12 rue de la République", "PONO": "69002", "TOWN": "Lyon", "CSCD": "FR",
        "MAIL": "camille.martin@example.fr"}}])


def order_calls(cuno: str, cuor: str, *lines: tuple[str, str]) -> list[dict]:
    calls = [{"program": "OIS100MI", "transaction": "AddBatchHead",
              "record": {"CUNO": cuno, "ORTP": catalogue.INFOR_ORDER_TYPE, "CUOR": cuor,
                         "WHLO": catalogue.INFOR_WAREHOUSE, "CUCD": "EUR", "ORDT": "20261127"}},
             {"program": "OIS100MI", "transaction": "AddBatchAddress",
              "record": {"ADRT": "1", "CUNM": "Camille Martin", "CUA1": "12 rue de la République",
                         "PONO": "69002", "TOWN": "Lyon", "CSCD": "FR"}}]
    calls += [{"program": "OIS100MI", "transaction": "AddBatchLine",
               "record": {"ITNO": itno, "ORQT": qty, "SAPR": "9.50", "WHLO": catalogue.INFOR_WAREHOUSE}}
              for itno, qty in lines]
    return calls


# -- ION API authorization server ---------------------------------------------------------------------


def test_token_grants_and_refusals(sandbox: InforSandboxServer) -> None:
    ionapi = sandbox.ionapi()
    url = ionapi["pu"] + ionapi["ot"]
    good = requests.post(url, data={"grant_type": "password", "username": ionapi["saak"],
                                    "password": ionapi["sask"], "client_id": ionapi["ci"],
                                    "client_secret": ionapi["cs"]}, timeout=10)
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7200 and body["refresh_token"]
    refreshed = requests.post(url, data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
                              auth=(ionapi["ci"], ionapi["cs"]), timeout=10)
    assert refreshed.status_code == 200 and refreshed.json()["access_token"] != body["access_token"]
    client_credentials = requests.post(url, data={"grant_type": "client_credentials"},
                                       auth=(ionapi["ci"], ionapi["cs"]), timeout=10)
    assert client_credentials.status_code == 200
    bad_client = requests.post(url, data={"grant_type": "client_credentials", "client_id": ionapi["ci"],
                                          "client_secret": "wrong"}, timeout=10)
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    bad_user = requests.post(url, data={"grant_type": "password", "username": ionapi["saak"], "password": "x"},
                             auth=(ionapi["ci"], ionapi["cs"]), timeout=10)
    assert bad_user.status_code == 400 and bad_user.json()["error"] == "invalid_grant"


def test_m3_needs_a_valid_bearer_token(sandbox: InforSandboxServer) -> None:
    url = f"{sandbox.url}/{sandbox.ionapi()['ti']}/M3/m3api-rest/v2/execute/GENERAL/GetServerTime"
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401 and "error=" in missing.headers["WWW-Authenticate"]
    assert requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401


def test_expired_tokens_are_renewed_transparently(sandbox: InforSandboxServer, m3: M3Client) -> None:
    assert m3.execute("GENERAL", "GetServerTime")[0]["LMTS"].isdigit()
    control(sandbox, "POST", "faults", json={"expire_tokens": True, "token_ttl": 30})
    assert m3.execute("GENERAL", "GetServerTime")
    stats = control(sandbox, "GET", "stats")
    assert stats["token_requests"] == 2 and stats["unauthorized"] == 1
    cached = m3.tokens._local
    assert cached is not None and cached.lifetime == 30


def test_one_token_for_concurrent_workers_through_redis(sandbox: InforSandboxServer, redis_client) -> None:
    creds = IonApiCredentials.from_dict(sandbox.ionapi())
    workers = [M3Client(creds, cono="100", divi="AAA", redis=redis_client) for _ in range(8)]
    errors: list[Exception] = []

    def call(worker: M3Client) -> None:
        try:
            worker.execute("GENERAL", "GetServerTime")
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert control(sandbox, "GET", "stats")["token_requests"] == 1


def test_write_ionapi_file_logs_any_client_in(sandbox: InforSandboxServer, tmp_path) -> None:
    path = sandbox.write_ionapi(tmp_path / "sandbox.ionapi")
    assert path.stat().st_mode & 0o077 == 0
    creds = IonApiCredentials.load(path=path)
    assert TokenProvider(creds).token()
    assert creds.iu == sandbox.url


# -- M3 semantics -------------------------------------------------------------------------------------


def test_seeded_items_and_stock_match_the_catalogue(m3: M3Client) -> None:
    expected = {itno: qty for itno, _, _, qty in catalogue.erp_items()}
    items = m3.execute("MMS200MI", "LstItmByItm", {"ITNO": "0"}, maxrecs=0, returncols="ITNO")
    assert {i["ITNO"] for i in items} == set(expected)
    balance = stock.get_balance(m3, "MUG-CERAMIC-350", catalogue.INFOR_WAREHOUSE)
    assert balance is not None and balance.available == Decimal(expected["MUG-CERAMIC-350"])
    with pytest.raises(ServerReturnedNOK) as info:
        m3.execute("MMS200MI", "Get", {"ITNO": "LEGACY-LAMP"})
    assert info.value.field == "ITNO" and "does not exist" in info.value.m3_message


def test_mandatory_fields_lengths_and_company(sandbox: InforSandboxServer) -> None:
    creds = IonApiCredentials.from_dict(sandbox.ionapi())
    unchecked = M3Client(creds, cono="100", divi="AAA", check_lengths=False)
    with pytest.raises(MandatoryInputFieldNotFound) as missing:
        unchecked.execute("CRS610MI", "Add", {"CUTM": "WEBTMPL", "CUNM": "No address"})
    assert missing.value.field == "CUA1"
    with pytest.raises(InputFieldTooLong) as too_long:
        unchecked.execute("CRS610MI", "Add", {"CUTM": "WEBTMPL", "CUNM": "x" * 37, "CUA1": "a"})
    assert too_long.value.field == "CUNM"
    with pytest.raises(ServerReturnedNOK) as company:
        M3Client(creds, cono="999", divi="AAA").execute("GENERAL", "GetServerTime")
    assert company.value.code == "XAU0008" and company.value.field == "CONO"
    with pytest.raises(TransactionNotFound):
        unchecked.execute("OIS100MI", "NoSuchThing")


def test_customer_add_get_duplicate_and_unknown_template(m3: M3Client, sandbox: InforSandboxServer) -> None:
    assert customers.get_customer(m3, "WEB0000001") is None
    assert make_customer(m3) == "WEB0000001"
    record = customers.get_customer(m3, "WEB0000001")
    assert record is not None and record["CUCD"] == "EUR" and record["STAT"] == "20"
    assert make_customer(m3) == "WEB0000001"  # a retried Add: "already exists" is success
    with pytest.raises(ServerReturnedNOK) as info:
        m3.execute("CRS610MI", "Add", {"CUTM": "NOPE", "CUNM": "A", "CUA1": "B"})
    assert info.value.field == "CUTM"
    assert [c["CUNO"] for c in control(sandbox, "GET", "customers")["customers"]] == ["WEB0000001"]


def test_batch_order_life_cycle_to_invoice(m3: M3Client, sandbox: InforSandboxServer) -> None:
    cuno = make_customer(m3)
    mark = stock.changed_balances(m3, 0).next_lmts
    control(sandbox, "POST", "stats/reset")
    result = orders.create_batch_order(m3, order_calls(cuno, "XKBKNABJK-1", ("MUG-CERAMIC-350", "2"),
                                                       ("PEN-GEL-BLU", "10")))
    assert result.created and result.orno != result.temporary_orno
    stats = control(sandbox, "GET", "stats")
    assert stats["requests"] == 4 and stats["by_transaction"]["OIS100MI/AddBatchHead"] == 1
    assert stats["by_route"] == {"execute_v2": 3, "execute_bulk": 1}
    assert stats["by_transaction"]["OIS275MI/GetTmpOrderStat"] == 1
    assert stats["by_transaction"]["OIS100MI/AddBatchLine"] == 2
    tmp = m3.execute_one("OIS275MI", "GetTmpOrderStat", {"ORNO": result.temporary_orno})
    assert tmp == {"ORNO": result.temporary_orno, "ORNR": result.orno, "STAT": "90"}
    assert orders.find_order_by_customer_ref(m3, "XKBKNABJK-1", cuno) == result.orno
    assert orders.find_order_by_customer_ref(m3, "XKBKNABJK-1") == result.orno
    assert orders.find_order_by_customer_ref(m3, "OTHER-2", cuno) is None
    # The look-up before creating, in one bulk POST; with a cap the lists reach, each is read again whole.
    found = orders.find_shop_order(m3, cuno, "XKBKNABJK-1")
    assert found.orno == result.orno and [b.orno for b in found.batch_orders] == [result.orno]
    m3.list_cap = 1
    control(sandbox, "POST", "stats/reset")
    assert orders.find_shop_order(m3, cuno, "XKBKNABJK-1") == found
    assert control(sandbox, "GET", "stats")["by_route"] == {"execute_bulk": 1, "execute_v2": 2}
    m3.list_cap = 100

    seen = []
    for stage, tracking in (("allocate", None), ("pick", None), ("deliver", "1Z999AA10123456784"),
                            ("invoice", None)):
        control(sandbox, "POST", f"orders/{result.orno}/advance", json={"to": stage, "tracking_number": tracking})
        head = orders.get_order(m3, result.orno)
        assert head is not None
        seen.append(orders.order_status(head))
    assert seen == [("33", "33"), ("44", "44"), ("66", "66"), ("77", "77")]
    assert orders.tracking_numbers(orders.list_deliveries(m3, result.orno)) == ["1Z999AA10123456784"]
    [invoice] = orders.list_invoices(m3, result.orno)
    assert Decimal(invoice["AMT1"]) == Decimal("9.50") * 12
    lines = orders.list_order_lines(m3, result.orno)
    assert [(ln["ITNO"], ln["ORST"], ln["IVQT"]) for ln in lines] == [
        ("MUG-CERAMIC-350", "77", "2"), ("PEN-GEL-BLU", "77", "10")]
    changed = stock.changed_balances(m3, mark)
    assert {b.itno for b in changed.balances} == {"MUG-CERAMIC-350", "PEN-GEL-BLU"}
    mug = stock.get_balance(m3, "MUG-CERAMIC-350", "100")
    assert mug is not None and mug.on_hand == Decimal(298)
    view = control(sandbox, "GET", "orders")["orders"][0]
    assert (view["ORNO"], view["CUOR"], view["CUNO"], view["status"]) == (result.orno, "XKBKNABJK-1", cuno, "77")


def test_rejected_line_leaves_a_rejected_batch_order(m3: M3Client, sandbox: InforSandboxServer) -> None:
    cuno = make_customer(m3)
    with pytest.raises(BatchOrderRejected) as info:
        orders.create_batch_order(m3, order_calls(cuno, "REJ-1", ("MUG-CERAMIC-350", "1"), ("LEGACY-LAMP", "1")))
    error = info.value
    assert error.field == "ITNO" and error.m3_message == "Item number LEGACY-LAMP does not exist"
    temporary = error.details["temporary_orno"]
    assert orders.get_temporary_order_status(m3, temporary)["STAT"] == "20"
    assert "LEGACY-LAMP" in orders.batch_order_errors(m3, temporary)[0]["TX60"]
    snapshot = control(sandbox, "GET", "orders")
    assert snapshot["orders"] == [] and snapshot["batch_orders"][0]["STAT"] == "20"
    assert control(sandbox, "GET", "stats")["by_transaction"].get("OIS100MI/Confirm") is None
    assert orders.find_order_by_customer_ref(m3, "REJ-1", cuno) is None


def test_unknown_customer_refuses_the_head(m3: M3Client) -> None:
    with pytest.raises(ServerReturnedNOK) as info:
        orders.create_batch_order(m3, order_calls("NOBODY", "X-1", ("MUG-CERAMIC-350", "1")))
    assert info.value.field == "CUNO"


def test_stock_control_and_lmts_feed(m3: M3Client, sandbox: InforSandboxServer) -> None:
    mark = stock.changed_balances(m3, 0).next_lmts
    control(sandbox, "POST", "stock", json={"itno": "BACKPACK-20L", "whlo": "100", "qty": 7})
    changes = stock.changed_balances(m3, mark)
    assert [(b.itno, b.available) for b in changes.balances] == [("BACKPACK-20L", Decimal(7))]
    assert stock.changed_balances(m3, changes.next_lmts).balances == []


def test_advance_refuses_going_back(m3: M3Client, sandbox: InforSandboxServer) -> None:
    cuno = make_customer(m3)
    result = orders.create_batch_order(m3, order_calls(cuno, "ADV-1", ("MUG-CERAMIC-350", "1")))
    control(sandbox, "POST", f"orders/{result.orno}/advance", json={"to": "deliver"})
    again = requests.post(f"{sandbox.url}/_sandbox/orders/{result.orno}/advance", json={"to": "pick"}, timeout=10)
    assert again.status_code == 409
    unknown = requests.post(f"{sandbox.url}/_sandbox/orders/1/advance", json={"to": "pick"}, timeout=10)
    assert unknown.status_code == 404


def test_v1_answers_like_legacy_m3(sandbox: InforSandboxServer) -> None:
    token = TokenProvider(IonApiCredentials.from_dict(sandbox.ionapi())).token()
    base = f"{sandbox.url}/{sandbox.ionapi()['ti']}/M3/m3api-rest/execute"
    ok = requests.get(f"{base}/MMS200MI/Get;returncols=ITNO,STAT", params={"ITNO": "PEN-GEL-BLU"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert ok["MIRecord"][0]["NameValue"] == [{"Name": "ITNO", "Value": "PEN-GEL-BLU"},
                                              {"Name": "STAT", "Value": "20"}]
    nok = requests.get(f"{base}/MMS200MI/Get", params={"ITNO": "NOPE"},
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert nok.status_code == 200 and nok.json()["@type"] == "ServerReturnedNOK"
    assert nok.json()["@field"] == "ITNO"


# -- faults and concurrency -----------------------------------------------------------------------


def test_faults_are_transient_and_writes_are_not_resent(m3: M3Client, sandbox: InforSandboxServer) -> None:
    cuno = make_customer(m3)
    control(sandbox, "POST", "faults", json={"fail_next": 1, "error_status": 502})
    assert m3.execute("GENERAL", "GetServerTime")  # a read: retried
    control(sandbox, "POST", "faults", json={"timeout_rate": 1.0, "timeout_ms": 10})
    with pytest.raises(WriteOutcomeUnknown):
        orders.create_batch_order(m3, order_calls(cuno, "T-1", ("MUG-CERAMIC-350", "1")))
    control(sandbox, "DELETE", "faults")
    control(sandbox, "POST", "faults", json={"drop_rate": 1.0})
    with pytest.raises(WriteOutcomeUnknown):
        m3.execute("OIS100MI", "AddBatchHead", {"CUNO": cuno, "CUOR": "DROP-1"})
    control(sandbox, "DELETE", "faults")
    assert [b["CUOR"] for b in control(sandbox, "GET", "orders")["batch_orders"]] == ["DROP-1"]
    control(sandbox, "POST", "faults", json={"down": True})
    with pytest.raises(InforTransientError) as info:
        m3.execute("GENERAL", "GetServerTime")
    assert info.value.status == 503
    control(sandbox, "POST", "faults", json={"rate_limit_rate": 1.0, "down": False})
    with pytest.raises(InforTransientError) as limited:
        m3.execute("OIS100MI", "Confirm", {"ORNO": "9000000001"})
    assert limited.value.status == 429 and not limited.value.outcome_unknown
    control(sandbox, "DELETE", "faults")
    assert control(sandbox, "GET", "faults")["rate_limit_rate"] == 0.0
    assert control(sandbox, "GET", "stats")["faults"]["timeout"] >= 1


def test_slow_answers_time_out_as_transient_errors(sandbox: InforSandboxServer) -> None:
    control(sandbox, "POST", "faults", json={"latency_ms": 500})
    creds = IonApiCredentials.from_dict(sandbox.ionapi())
    impatient = M3Client(creds, cono="100", divi="AAA", timeout=0.05, read_retries=0)
    impatient.tokens.token()
    with pytest.raises(InforTransientError) as info:
        impatient.execute("GENERAL", "GetServerTime")
    assert info.value.status is None and not info.value.outcome_unknown
    with pytest.raises(WriteOutcomeUnknown):
        impatient.execute("CRS610MI", "Add", {"CUTM": "WEBTMPL", "CUNM": "Slow", "CUA1": "Road"})


def test_concurrent_orders_keep_state_consistent(m3: M3Client, sandbox: InforSandboxServer) -> None:
    cuno = make_customer(m3)
    results: list[str] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            for i in range(8):
                r = orders.create_batch_order(m3, order_calls(cuno, f"C-{n}-{i}", ("PEN-GEL-BLU", "1"),
                                                              ("MUG-CERAMIC-350", "1")))
                with lock:
                    results.append(r.orno)
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == len(set(results)) == 48
    snapshot = control(sandbox, "GET", "orders")
    assert len(snapshot["orders"]) == 48 and all(len(o["lines"]) == 2 for o in snapshot["orders"])
    stats = control(sandbox, "GET", "stats")["by_transaction"]
    assert stats["OIS100MI/AddBatchHead"] == stats["OIS100MI/Confirm"] == 48


def test_item_changes_feed_and_reset(m3: M3Client, sandbox: InforSandboxServer) -> None:
    from integration.connectors.infor import items

    mark = items.server_lmts(m3)
    control(sandbox, "POST", "items", json={"itno": "MUG-CERAMIC-350", "ITDS": "Ceramic mug 350 ml, white",
                                            "price": "9.90"})
    control(sandbox, "POST", "items", json={"itno": "NEW-ITEM-1", "ITDS": "A new item"})
    changes = items.changed_items(m3, catalogue.INFOR_FACILITY, mark)
    assert [(i["ITNO"], i["ITDS"]) for i in changes.items] == [
        ("MUG-CERAMIC-350", "Ceramic mug 350 ml, white"), ("NEW-ITEM-1", "A new item")]
    assert items.changed_items(m3, catalogue.INFOR_FACILITY, changes.next_lmts).items == []
    assert m3.execute_one("MMS200MI", "GetItmPrice", {"ITNO": "MUG-CERAMIC-350"})["SAPR"] == "9.90"
    cuno = make_customer(m3)
    first = orders.create_batch_order(m3, order_calls(cuno, "R-1", ("NEW-ITEM-1", "1")))
    control(sandbox, "POST", "reset")
    assert items.get_item(m3, "NEW-ITEM-1") is None and customers.get_customer(m3, cuno) is None
    assert control(sandbox, "GET", "orders")["orders"] == []
    make_customer(m3)
    second = orders.create_batch_order(m3, order_calls(cuno, "R-1", ("MUG-CERAMIC-350", "1")))
    assert second.orno != first.orno  # order numbers are never reused


def test_partial_delivery_and_order_progress(m3: M3Client, sandbox: InforSandboxServer) -> None:
    cuno = make_customer(m3)
    result = orders.create_batch_order(m3, order_calls(cuno, "P-1", ("MUG-CERAMIC-350", "1"), ("PEN-GEL-BLU", "3")))
    control(sandbox, "POST", "stats/reset")
    progress = orders.order_progress(m3, result.orno)
    assert (progress.lowest_status, progress.highest_status, progress.tracking_numbers) == ("22", "22", ())
    assert control(sandbox, "GET", "stats")["requests"] == 1  # nothing delivered: only the head is read
    control(sandbox, "POST", f"orders/{result.orno}/advance", json={"to": "pick"})
    control(sandbox, "POST", f"orders/{result.orno}/advance",
            json={"to": "deliver", "lines": [1], "tracking_number": "PARCEL-1"})
    progress = orders.order_progress(m3, result.orno)
    assert (progress.lowest_status, progress.highest_status) == ("44", "66")
    assert progress.tracking_numbers == ("PARCEL-1",) and progress.invoices == ()
    control(sandbox, "POST", f"orders/{result.orno}/advance",
            json={"to": "invoice", "tracking_number": "PARCEL-2"})
    progress = orders.order_progress(m3, result.orno)
    assert (progress.lowest_status, progress.highest_status) == ("77", "77")
    assert progress.tracking_numbers == ("PARCEL-1", "PARCEL-2") and len(progress.invoices) == 2


def _check_against_schema(value, schema: dict, definitions: dict, where: str) -> None:
    """A small JSON-schema walk: object properties known, types as declared (string/boolean/integer/array)."""
    if "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[1]]
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), where
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if props is not None and key in props:
                _check_against_schema(item, props[key], definitions, f"{where}.{key}")
            elif extra is not None:
                _check_against_schema(item, extra, definitions, f"{where}.{key}")
            else:
                raise AssertionError(f"{where}: {key} is not in the swagger schema")
    elif kind == "array":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            _check_against_schema(item, schema["items"], definitions, f"{where}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where} should be a string, is {value!r}"
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind in ("integer", "number"):
        assert isinstance(value, int | float) and not isinstance(value, bool), where


def test_v2_answers_follow_the_real_swagger_schema(sandbox: InforSandboxServer) -> None:
    import json
    from pathlib import Path

    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "infor" / "m3-v2-bulkresponse-definitions.json"
    definitions = json.loads(fixture.read_text())["definitions"]
    creds = IonApiCredentials.from_dict(sandbox.ionapi())
    headers = {"Authorization": f"Bearer {TokenProvider(creds).token()}"}
    base = f"{creds.api_base}/M3/m3api-rest/v2/execute"
    answers = [
        requests.get(f"{base}/MMS200MI/Get", params={"ITNO": "PEN-GEL-BLU"}, headers=headers, timeout=10).json(),
        requests.get(f"{base}/CRS610MI/GetBasicData", params={"CUNO": "X", "extendedresult": "true"},
                     headers=headers, timeout=10).json()["results"],
        requests.post(base, json={"program": "MMS200MI", "transactions": [
            {"transaction": "Get", "record": {"ITNO": "PEN-GEL-BLU"}},
            {"transaction": "Get", "record": {"ITNO": "NOPE"}}]}, headers=headers, timeout=10).json(),
    ]
    _check_against_schema(answers[0], definitions["BulkResponse"], definitions, "get")
    _check_against_schema(answers[1][0], definitions["BulkResponseResult"], definitions, "nok")
    assert answers[1][0]["parameters"] == {"CUNO": "X"}
    _check_against_schema(answers[2], definitions["BulkResponse"], definitions, "bulk")


def test_dateformat_applies_to_date_outputs(m3: M3Client) -> None:
    from datetime import UTC, datetime

    def day_of(record: dict[str, str]) -> datetime:  # the date of the same answer's LMTS (no clock race)
        return datetime.fromtimestamp(int(record["LMTS"]) / 1000, UTC)

    dashed = m3.execute_one("GENERAL", "GetServerTime", dateformat="YMD8-")
    assert dashed is not None and dashed["DATE"] == day_of(dashed).strftime("%Y-%m-%d")
    short = m3.execute_one("GENERAL", "GetServerTime", dateformat="DMY6")
    assert short is not None and short["DATE"] == day_of(short).strftime("%d%m%y")


def test_cuor_look_up_for_a_customer_m3_does_not_know_yet(m3: M3Client) -> None:
    assert orders.find_order_by_customer_ref(m3, "NEW-1", "PS9999999") is None
