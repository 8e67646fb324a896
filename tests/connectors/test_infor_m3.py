"""M3 MI REST client at the HTTP boundary: v2/v1 parsing, typed errors, lengths, retries, bulk."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from integration.connectors.infor.errors import (
    FieldTooLong,
    InforAuthError,
    InforTransientError,
    M3Error,
    MandatoryInputFieldNotFound,
    ServerReturnedNOK,
    WriteOutcomeUnknown,
)
from integration.connectors.infor.m3 import M3Client, is_read, m3_value, parse_body
from integration.connectors.resilience import CircuitBreaker, CircuitOpen
from integration.errors import PermanentError, TransientError, ValidationFailed
from tests.connectors.test_infor_helpers import FIXTURES, M3, TOKEN_URL, credentials, v2, v2_error

V1 = json.loads((FIXTURES / "m3-rest-v1-responses-kb2159861.json").read_text())
GET_BASIC = f"{M3}/v2/execute/CRS610MI/GetBasicData"


def client(**kwargs) -> M3Client:
    kwargs.setdefault("retry_backoff", 0.0)
    return M3Client(credentials(), cono="100", divi="AAA", **kwargs)


def token(access: str = "tok-1") -> None:
    responses.post(TOKEN_URL, json={"access_token": access, "token_type": "Bearer", "expires_in": 7200})


def query_of(call: responses.Call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


@responses.activate
def test_v2_get_sends_record_and_context_and_returns_string_records() -> None:
    token()
    responses.get(GET_BASIC, json=v2("GetBasicData", {"CUNO": "WEB0000001", "CUNM": "Camille Martin   ",
                                                      "CUCD": "EUR"}))
    records = client().execute("CRS610MI", "GetBasicData", {"CUNO": "WEB0000001"}, maxrecs=1,
                               returncols=["CUNO", "CUNM", "CUCD"])
    assert records == [{"CUNO": "WEB0000001", "CUNM": "Camille Martin", "CUCD": "EUR"}]
    call = responses.calls[1]
    assert query_of(call) == {"CUNO": "WEB0000001", "cono": "100", "divi": "AAA", "maxrecs": "1",
                              "returncols": "CUNO,CUNM,CUCD"}
    assert call.request.headers["Authorization"] == "Bearer tok-1"


def test_values_are_sent_as_m3_strings() -> None:
    from datetime import date
    from decimal import Decimal

    assert m3_value(Decimal("19.90")) == "19.90"
    assert m3_value(Decimal("1E+1")) == "10"
    assert m3_value(date(2026, 11, 27)) == "20261127"
    assert m3_value(3) == "3"
    with pytest.raises(TypeError):
        m3_value(1.5)


def test_v1_ok_fixture_parses_name_value_records() -> None:
    [result] = parse_body(V1["OK"])
    assert result.error is None
    assert len(result.records) == 5 and all(len(r) == 10 for r in result.records)
    assert result.records[0]["F001"] == "00000001" and result.records[1]["F010"] == "00000011"


def test_v1_nok_fixture_becomes_server_returned_nok() -> None:
    [result] = parse_body(V1["NOK"], "TST001MI")
    error = result.error
    assert isinstance(error, ServerReturnedNOK) and isinstance(error, PermanentError)
    assert (error.code, error.field, error.m3_message) == ("CPF9898", "RETT", "Designed to fail!")


def test_v1_partial_failure_keeps_the_records_before_the_error() -> None:
    [result] = parse_body(V1["NOK_AFTER_5"])
    assert len(result.records) == 5
    assert isinstance(result.error, ServerReturnedNOK)
    assert result.error.field == "RCNT" and len(result.error.records) == 5
    assert result.error.m3_message.startswith("Designed to fail! Record count was:")


@responses.activate
def test_v1_endpoint_uses_matrix_parameters_and_raises_partial_failure() -> None:
    token()
    responses.get(f"{M3}/execute/TST001MI/Lst10Out;cono=100;divi=AAA;maxrecs=10", json=V1["NOK_AFTER_5"])
    with pytest.raises(ServerReturnedNOK) as info:
        client(api_version="v1").execute("TST001MI", "Lst10Out", {"RCNT": "-5"}, maxrecs=10)
    assert info.value.code == "CPF9898" and len(info.value.records) == 5


@responses.activate
def test_v2_nok_in_results_is_typed_with_code_and_field() -> None:
    token()
    responses.get(GET_BASIC, json=v2_error("GetBasicData", "Customer number is invalid  ", "XIM0002", "CUNO"))
    with pytest.raises(ServerReturnedNOK) as info:
        client().execute("CRS610MI", "GetBasicData", {"CUNO": "NOPE"})
    error = info.value
    assert (error.code, error.field, error.program, error.transaction) == (
        "XIM0002", "CUNO", "CRS610MI", "GetBasicData")
    assert "Customer number is invalid" in str(error)
    assert error.details["code"] == "XIM0002"


@responses.activate
def test_v2_http_400_with_the_error_at_the_top_level() -> None:
    token()
    responses.get(GET_BASIC, status=400, json={"transaction": "GetBasicData", "errorType":
                                               "MandatoryInputFieldNotFound", "errorField": "CUNO",
                                               "errorMessage": "Mandatory field CUNO missing"})
    with pytest.raises(MandatoryInputFieldNotFound) as info:
        client().execute("CRS610MI", "GetBasicData", {})
    assert info.value.field == "CUNO"


@responses.activate
def test_too_long_field_is_refused_before_sending_unless_truncation_is_allowed() -> None:
    token()
    responses.get(f"{M3}/v2/execute/OIS100MI/AddBatchAddress", json=v2("AddBatchAddress"))
    record = {"ORNO": "9000000001", "ADRT": "1", "CUNM": "Jane", "CUA1": "x", "PHNO": "+33 4 78 12 34 56"}
    with pytest.raises(FieldTooLong) as info:
        client().execute("OIS100MI", "AddBatchAddress", record)
    error = info.value
    assert isinstance(error, ValidationFailed) and error.field == "PHNO"
    assert error.details["max_length"] == 10 and "+33" not in str(error)
    assert len(responses.calls) == 0
    client().execute("OIS100MI", "AddBatchAddress", record, truncate={"PHNO"})
    assert query_of(responses.calls[-1])["PHNO"] == "+33 4 78 1"
    # unknown transactions and fields are not checked
    responses.get(f"{M3}/v2/execute/ZZZ001MI/Add", json=v2("Add"))
    client().execute("ZZZ001MI", "Add", {"ANY": "x" * 500})


@responses.activate
def test_401_renews_the_token_once_then_gives_up() -> None:
    token("old")
    token("new")
    responses.get(GET_BASIC, status=401)
    responses.get(GET_BASIC, json=v2("GetBasicData", {"CUNO": "A"}))
    assert client().execute("CRS610MI", "GetBasicData", {"CUNO": "A"}) == [{"CUNO": "A"}]
    assert responses.calls[3].request.headers["Authorization"] == "Bearer new"

    responses.reset()
    token("x")
    token("y")
    responses.get(GET_BASIC, status=401)
    with pytest.raises(InforAuthError):
        client().execute("CRS610MI", "GetBasicData", {"CUNO": "A"})
    assert sum(1 for c in responses.calls if "GetBasicData" in c.request.url) == 2


@responses.activate
def test_reads_are_retried_on_429_and_gateway_errors() -> None:
    token()
    responses.get(GET_BASIC, status=429, headers={"Retry-After": "0"})
    responses.get(GET_BASIC, status=504)
    responses.get(GET_BASIC, json=v2("GetBasicData", {"CUNO": "A"}))
    assert client().execute("CRS610MI", "GetBasicData", {"CUNO": "A"}) == [{"CUNO": "A"}]


@responses.activate
def test_read_time_outs_end_as_transient_errors() -> None:
    token()
    responses.get(GET_BASIC, body=requests.ConnectTimeout("slow"))
    with pytest.raises(InforTransientError) as info:
        client(read_retries=1).execute("CRS610MI", "GetBasicData", {"CUNO": "A"})
    assert not info.value.outcome_unknown
    assert sum(1 for c in responses.calls if "GetBasicData" in c.request.url) == 2


@responses.activate
def test_writes_are_never_resent_blindly() -> None:
    token()
    url = f"{M3}/v2/execute/OIS100MI/Confirm"
    responses.get(url, status=504)
    with pytest.raises(WriteOutcomeUnknown) as info:
        client().execute("OIS100MI", "Confirm", {"ORNO": "9000000001"})
    assert info.value.outcome_unknown and isinstance(info.value, TransientError)
    assert sum(1 for c in responses.calls if "Confirm" in c.request.url) == 1
    # a 429 is a refusal at the gateway: transient, safe to redo later, not "unknown outcome"
    responses.replace(responses.GET, url, status=429)
    with pytest.raises(InforTransientError) as info2:
        client().execute("OIS100MI", "Confirm", {"ORNO": "9000000001"})
    assert not info2.value.outcome_unknown
    assert is_read("LstHead") and is_read("GetServerTime") and not is_read("AddBatchLine")


@responses.activate
def test_bulk_reports_each_transaction_and_splits_by_program() -> None:
    token()
    body = {"results": [
        {"transaction": "AddBatchLine", "records": [{"PONR": "1", "POSX": "0"}]},
        {"transaction": "AddBatchLine", "errorMessage": "Item number LEGACY-LAMP does not exist",
         "errorType": "ServerReturnedNOK", "errorCode": "WIT0203", "errorField": "ITNO", "records": []},
    ], "wasTerminated": False, "nrOfSuccessfullTransactions": 1, "nrOfFailedTransactions": 1}
    responses.post(f"{M3}/v2/execute", json=body, match=[matchers.json_params_matcher(
        {"program": "OIS100MI", "cono": 100, "divi": "AAA", "transactions": [
            {"transaction": "AddBatchLine", "record": {"ORNO": "9000000001", "ITNO": "MUG-CERAMIC-350"}},
            {"transaction": "AddBatchLine", "record": {"ORNO": "9000000001", "ITNO": "LEGACY-LAMP"}}]})])
    responses.post(f"{M3}/v2/execute", json=v2("Get", {"ITNO": "MUG-CERAMIC-350"}))
    results = client().bulk([
        {"program": "OIS100MI", "transaction": "AddBatchLine",
         "record": {"ORNO": "9000000001", "ITNO": "MUG-CERAMIC-350"}},
        {"program": "OIS100MI", "transaction": "AddBatchLine",
         "record": {"ORNO": "9000000001", "ITNO": "LEGACY-LAMP"}},
        {"program": "MMS200MI", "transaction": "Get", "record": {"ITNO": "MUG-CERAMIC-350"}},
    ])
    assert [r.ok for r in results] == [True, False, True]
    assert results[0].records == [{"PONR": "1", "POSX": "0"}]
    assert results[1].error is not None and results[1].error.field == "ITNO"
    assert results[1].error.code == "WIT0203"
    assert results[2].records[0]["ITNO"] == "MUG-CERAMIC-350"


@responses.activate
def test_a_bulk_list_keeps_only_the_columns_asked_for() -> None:
    """A bulk body has no documented returncols: M3 sends every column, and only the asked ones are kept (and
    cleaned). The body sent is unchanged; a v1 tenant, which has no bulk, asks for the columns themselves."""
    token()
    full = {"ORNO": "1000000050 ", "CUOR": "A-1  ", "ORTP": "EC1", "FACI": "A01", "YREF": "Jane"}
    responses.post(f"{M3}/v2/execute", json={
        "results": [{"transaction": "LstHead", "records": [full, {**full, "ORNO": "1000000051"}]},
                    {"transaction": "LstBatchHead", "records": [full]}],
        "wasTerminated": False, "nrOfSuccessfullTransactions": 2, "nrOfFailedTransactions": 0},
        match=[matchers.json_params_matcher({"program": "OIS100MI", "cono": 100, "divi": "AAA", "transactions": [
            {"transaction": "LstHead", "record": {"CUNO": "WEB1"}},
            {"transaction": "LstBatchHead", "record": {"CUNO": "WEB1"}}]})])
    head, batch = client().bulk([
        {"program": "OIS100MI", "transaction": "LstHead", "record": {"CUNO": "WEB1"}, "columns": ("ORNO", "CUOR")},
        {"program": "OIS100MI", "transaction": "LstBatchHead", "record": {"CUNO": "WEB1"}}])
    assert head.records == [{"ORNO": "1000000050", "CUOR": "A-1"}, {"ORNO": "1000000051", "CUOR": "A-1"}]
    assert batch.records == [{k: v.strip() for k, v in full.items()}]  # no columns given: every one, cleaned
    # A v1 tenant that ignores returncols: the records keep the same columns as on v2.
    responses.get(f"{M3}/execute/OIS100MI/LstHead;cono=100;divi=AAA;maxrecs=0;returncols=CUOR,ORNO",
                  json={"MIRecord": [{"NameValue": [{"Name": "ORNO", "Value": "1000000050"},
                                                    {"Name": "CUOR", "Value": "A-1"},
                                                    {"Name": "ORTP", "Value": "EC1"}]}]})
    [v1] = client(api_version="v1").bulk([{"program": "OIS100MI", "transaction": "LstHead",
                                           "record": {"CUNO": "WEB1"}, "columns": ("ORNO", "CUOR")}])
    assert v1.ok and v1.records == [{"ORNO": "1000000050", "CUOR": "A-1"}]
    for wrong in ("ORNO,CUOR", ()):  # a str would be read as its letters; no column at all is a mistake
        with pytest.raises(ValueError, match="columns"):
            client().bulk([{"program": "OIS100MI", "transaction": "LstHead", "record": {"CUNO": "WEB1"},
                            "columns": wrong}])


@responses.activate
def test_bulk_termination_marks_the_rest_not_processed() -> None:
    token()
    responses.post(f"{M3}/v2/execute", json={
        "results": [{"transaction": "Get", "records": [{"ITNO": "A"}]}],
        "wasTerminated": True, "terminationReason": "Too many errors", "nrOfSuccessfullTransactions": 1,
        "nrOfFailedTransactions": 0})
    results = client().bulk([{"program": "MMS200MI", "transaction": "Get", "record": {"ITNO": i}}
                             for i in ("A", "B")])
    assert results[0].ok and results[1].not_processed and not results[1].ok


@responses.activate
def test_breaker_counts_gateway_failures_not_business_errors() -> None:
    token()
    breaker = CircuitBreaker("infor-test", failure_threshold=2, reset_timeout=60)
    responses.get(GET_BASIC, json=v2_error("GetBasicData", "Customer number is invalid", "XIM0002", "CUNO"))
    m3 = client(breaker=breaker, read_retries=0)
    for _ in range(3):
        with pytest.raises(ServerReturnedNOK):
            m3.execute("CRS610MI", "GetBasicData", {"CUNO": "X"})
    assert breaker.state == "closed"
    responses.replace(responses.GET, GET_BASIC, status=502)
    # the answered calls count as calls: it opens once failures are consecutive *and* half the calls or more
    for _ in range(3):
        with pytest.raises(InforTransientError):
            m3.execute("CRS610MI", "GetBasicData", {"CUNO": "X"})
    with pytest.raises(CircuitOpen):
        m3.execute("CRS610MI", "GetBasicData", {"CUNO": "X"})


@responses.activate
def test_rate_limiter_is_asked_before_every_call() -> None:
    token()
    responses.get(GET_BASIC, json=v2("GetBasicData"))

    class Counting:
        calls = 0

        def acquire(self, timeout: float = 30.0) -> None:
            Counting.calls += 1

    client(rate_limiter=Counting()).execute("CRS610MI", "GetBasicData", {"CUNO": "A"})
    assert Counting.calls == 1


@responses.activate
def test_token_never_appears_in_errors_or_logs(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    token("very-secret-token")
    responses.get(GET_BASIC, status=503)
    with pytest.raises(InforTransientError) as info:
        client(read_retries=1).execute("CRS610MI", "GetBasicData", {"CUNO": "A"})
    text = str(info.value) + json.dumps(info.value.to_dict()) + caplog.text + repr(client())
    assert "very-secret-token" not in text
    assert info.value.path == "/ACME_TST/M3/m3api-rest/v2/execute/CRS610MI/GetBasicData"


def test_unknown_error_type_stays_a_plain_permanent_m3_error() -> None:
    [result] = parse_body({"results": [{"transaction": "X", "errorType": "SomethingNew", "errorMessage": "m"}]})
    assert type(result.error) is M3Error and result.error.error_type == "SomethingNew"


@responses.activate
def test_waiting_for_the_rate_limiter_does_not_open_the_breaker() -> None:
    from integration.connectors.resilience import RateLimited

    token()

    class Saturated:
        def acquire(self, timeout: float = 30.0) -> None:
            raise RateLimited("no token")

    breaker = CircuitBreaker("infor-test-rl", failure_threshold=1, reset_timeout=60)
    m3 = client(rate_limiter=Saturated(), breaker=breaker)
    for _ in range(3):
        with pytest.raises(RateLimited):
            m3.execute("CRS610MI", "GetBasicData", {"CUNO": "A"})
    assert breaker.state == "closed"


@responses.activate
def test_a_bulk_refused_as_a_whole_fails_every_call() -> None:
    token()
    responses.post(f"{M3}/v2/execute", status=400, json={"errorMessage": "Program ZZZ001MI does not exist",
                                                        "errorType": "TransactionNotFound"})
    results = client().bulk([{"program": "ZZZ001MI", "transaction": "Get", "record": {"A": "1"}},
                             {"program": "ZZZ001MI", "transaction": "Get", "record": {"A": "2"}}])
    assert [type(r.error).__name__ for r in results] == ["TransactionNotFound", "TransactionNotFound"]
