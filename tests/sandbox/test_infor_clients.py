"""Clients written for the real ION API work against the sandbox unchanged; the CLI writes a usable .ionapi."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from integration.connectors.infor.ionapi import IonApiCredentials
from integration.connectors.infor.m3 import M3Client
from psinfor_devkit.sandbox.infor import InforSandboxServer, start_infor_sandbox

oauthlib = pytest.importorskip("requests_oauthlib")


@pytest.fixture
def sandbox() -> Iterator[InforSandboxServer]:
    server = start_infor_sandbox()
    yield server
    server.stop()


def test_requests_oauthlib_password_grant_then_m3_v2(sandbox: InforSandboxServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual Python recipe for an ION backend service: LegacyApplicationClient + the .ionapi keys."""
    from oauthlib.oauth2 import BackendApplicationClient, LegacyApplicationClient

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox speaks plain HTTP on 127.0.0.1
    ionapi = json.loads(sandbox.write_ionapi(tmp_path / "x.ionapi").read_text())
    session = oauthlib.OAuth2Session(client=LegacyApplicationClient(client_id=ionapi["ci"]))
    token = session.fetch_token(token_url=ionapi["pu"] + ionapi["ot"], username=ionapi["saak"],
                                password=ionapi["sask"], client_id=ionapi["ci"], client_secret=ionapi["cs"])
    assert token["token_type"] == "Bearer" and token["expires_in"] == 7200
    url = f"{ionapi['iu']}/{ionapi['ti']}/M3/m3api-rest/v2/execute/MMS200MI/GetItmWhsBal"
    body = session.get(url, params={"WHLO": "100", "ITNO": "MUG-CERAMIC-350", "returncols": "STQT,AV01"}).json()
    assert body["results"][0]["records"] == [{"STQT": "300", "AV01": "300"}]
    assert body["nrOfSuccessfullTransactions"] == 1 and body["wasTerminated"] is False
    # refresh through the library's own refresh flow
    new = session.refresh_token(ionapi["pu"] + ionapi["ot"], auth=(ionapi["ci"], ionapi["cs"]))
    assert new["access_token"] != token["access_token"]
    # client credentials (BackendApplicationClient), then the bulk endpoint
    backend = oauthlib.OAuth2Session(client=BackendApplicationClient(client_id=ionapi["ci"]))
    backend.fetch_token(token_url=ionapi["pu"] + ionapi["ot"], client_id=ionapi["ci"], client_secret=ionapi["cs"])
    bulk = backend.post(f"{ionapi['iu']}/{ionapi['ti']}/M3/m3api-rest/v2/execute", json={
        "program": "MMS200MI", "cono": 100, "transactions": [
            {"transaction": "Get", "record": {"ITNO": "PEN-GEL-BLU"}},
            {"transaction": "Get", "record": {"ITNO": "LEGACY-LAMP"}}]}).json()
    assert bulk["nrOfSuccessfullTransactions"] == 1 and bulk["nrOfFailedTransactions"] == 1
    assert bulk["results"][1]["errorType"] == "ServerReturnedNOK" and bulk["results"][1]["errorField"] == "ITNO"


def test_cli_writes_an_ionapi_file_that_logs_in(tmp_path: Path) -> None:
    path = tmp_path / "var" / "sandbox.ionapi"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "integration", "sandbox", "infor", "--port", "0",
                                "--write-ionapi", str(path)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "Infor sandbox on http://127.0.0.1:" in banner, banner
        while not path.exists():  # written before the banner; this only guards a slow filesystem
            time.sleep(0.05)
        creds = IonApiCredentials.load(path=path)
        records = M3Client(creds, cono="100", divi="AAA").execute("GENERAL", "GetUserInfo")
        assert records[0]["ZDCONO"] == "100" and records[0]["ZZWHLO"] == "100"
        assert requests.get(f"{creds.iu}/_sandbox/stats", timeout=10).json()["token_requests"] == 1
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_matrix_parameters_as_m3_h5_sdk_sends_them(sandbox: InforSandboxServer) -> None:
    from integration.connectors.infor.ionapi import TokenProvider

    creds = IonApiCredentials.from_dict(sandbox.ionapi())
    token = TokenProvider(creds).token()
    url = (f"{creds.api_base}/M3/m3api-rest/v2/execute/MMS200MI/LstItmByItm;metadata=false;maxrecs=2;"
           "excludempty=false;cono=100;divi=AAA;returncols=ITNO,STAT")
    body = requests.get(url, params={"ITNO": "0"}, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert body["results"][0]["records"] == [{"ITNO": "BACKPACK-20L", "STAT": "20"},
                                             {"ITNO": "BOTTLE-STL-750", "STAT": "20"}]
