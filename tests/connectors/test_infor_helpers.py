"""Shared helpers for the Infor connector tests: credentials from the real .ionapi sample, URLs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from integration.connectors.infor.ionapi import IonApiCredentials

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "infor"
SAMPLE = FIXTURES / "ionapi-sample.ionapi"


def sample_data(tenant: str = "ACME_TST") -> dict[str, Any]:
    """The published sample .ionapi with its placeholder tenant replaced, so URLs are real URLs."""
    text = SAMPLE.read_text(encoding="utf-8-sig").replace("<your Tenant or Infor OS farm>", tenant)
    text = text.replace("<your Tenant>", tenant)
    data: dict[str, Any] = json.loads(text)
    return data


def credentials(**overrides: Any) -> IonApiCredentials:
    data = sample_data()
    data.update(overrides)
    return IonApiCredentials.from_dict({k: v for k, v in data.items() if v is not None})


TOKEN_URL = "https://mingle-sso.inforcloudsuite.com:443/ACME_TST/as/token.oauth2"
M3 = "https://mingle-ionapi.inforcloudsuite.com/ACME_TST/M3/m3api-rest"


def v2(transaction: str, *records: dict[str, str]) -> dict[str, Any]:
    return {"results": [{"transaction": transaction, "records": list(records)}], "wasTerminated": False,
            "nrOfSuccessfullTransactions": 1, "nrOfFailedTransactions": 0}


def v2_error(transaction: str, message: str, code: str, field: str,
             error_type: str = "ServerReturnedNOK") -> dict[str, Any]:
    return {"results": [{"transaction": transaction, "errorMessage": message, "errorType": error_type,
                         "errorCode": code, "errorField": field, "records": []}],
            "wasTerminated": False, "nrOfSuccessfullTransactions": 0, "nrOfFailedTransactions": 1}
