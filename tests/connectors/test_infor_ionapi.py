"""ION API credentials and the shared token: grants, Redis cache, renewal, and secrets kept out of sight."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from urllib.parse import parse_qs

import pytest
import responses

from integration.connectors.infor.errors import InforAuthError, InforTransientError
from integration.connectors.infor.ionapi import IonApiCredentials, TokenProvider
from integration.errors import ConfigurationError
from tests.connectors.test_infor_helpers import SAMPLE, TOKEN_URL, credentials, sample_data

SECRETS = (
    "-0Hu2PDtCJPhDg7MqKTGEjsasHxM_4M05paHaWgfq0mq7OnT87pMT",  # cs
    "B8BRpF2IOat88NkxySo2oDB3RtGQKTycB6R_Apoo4NAVcGZNVozCPm9A",  # sask
)


def token_body(token: str = "tok-1", expires_in: int = 7200, refresh: str | None = "ref-1") -> dict:
    body = {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = refresh
    return body


def form_of(call: responses.Call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def test_load_the_published_sample_file() -> None:
    creds = IonApiCredentials.load(path=SAMPLE)
    assert creds.ti == "<your Tenant>"
    assert creds.grant_type == "password"
    assert creds.token_url == "https://mingle-sso.inforcloudsuite.com:443/<your Tenant>/as/token.oauth2"
    assert creds.iu == "https://mingle-ionapi.inforcloudsuite.com"
    assert creds.saak is not None and creds.saak.reveal().startswith("<your Tenant>#")


def test_load_from_content_with_bom_and_without_service_account() -> None:
    data = sample_data()
    del data["saak"], data["sask"]
    creds = IonApiCredentials.load(content="\ufeff" + json.dumps(data))
    assert creds.grant_type == "client_credentials"


def test_secrets_never_in_repr_or_errors() -> None:
    creds = IonApiCredentials.load(path=SAMPLE)
    text = repr(creds) + str(creds) + repr(TokenProvider(creds))
    for secret in SECRETS:
        assert secret not in text
    broken = SAMPLE.read_text().replace('"iu"', '"xx"').replace("}", ",}")
    with pytest.raises(ConfigurationError) as info:
        IonApiCredentials.load(content=broken)
    for secret in SECRETS:
        assert secret not in str(info.value) and secret not in json.dumps(info.value.to_dict())
    data = sample_data()
    del data["pu"]
    with pytest.raises(ConfigurationError, match="lacks pu"):
        IonApiCredentials.from_dict(data)


@responses.activate
def test_password_grant_sends_the_service_account_and_caches_the_token() -> None:
    responses.post(TOKEN_URL, json=token_body())
    provider = TokenProvider(credentials())
    assert provider.token() == "tok-1"
    assert provider.token() == "tok-1"
    assert len(responses.calls) == 1
    form = form_of(responses.calls[0])
    assert form["grant_type"] == "password"
    assert form["username"] == "ACME_TST#1L41ABBJVczlphHoNAmDJhqMIamo9WCwNHFcR79A"
    assert form["password"] == SECRETS[1]
    assert form["client_id"] == "ACME_TST~8lXksXEcsa3RhA1MU"
    assert form["client_secret"] == SECRETS[0]


@responses.activate
def test_client_credentials_grant_when_no_service_account() -> None:
    responses.post(TOKEN_URL, json=token_body(refresh=None))
    provider = TokenProvider(credentials(saak=None, sask=None))
    provider.token()
    form = form_of(responses.calls[0])
    assert form["grant_type"] == "client_credentials" and "username" not in form


@responses.activate
def test_token_shared_by_workers_through_redis(redis_client) -> None:
    responses.post(TOKEN_URL, json=token_body())
    first = TokenProvider(credentials(), redis=redis_client)
    second = TokenProvider(credentials(), redis=redis_client)
    assert first.token() == second.token() == "tok-1"
    assert len(responses.calls) == 1
    # Each then keeps the token it saw: no Redis round trip per call until it is due for renewal.
    redis_client.delete(first.key)
    assert first.token() == "tok-1" and len(responses.calls) == 1
    first.invalidate("tok-1")  # a 401 with it: the next call asks again
    assert first.token() == "tok-1" and len(responses.calls) == 2
    stored = [k for k in redis_client.keys("psinfor:infor:token:*") if not k.endswith(b":lock")]
    assert len(stored) == 1
    assert b"ACME_TST" not in stored[0]  # the key is a hash, not the client id


@responses.activate
def test_renewed_before_expiry_with_the_refresh_token(redis_client) -> None:
    responses.post(TOKEN_URL, json=token_body("short", expires_in=20, refresh="ref-1"))
    responses.post(TOKEN_URL, json=token_body("renewed", refresh="ref-2"))
    provider = TokenProvider(credentials(), redis=redis_client)
    assert provider.token() == "short"
    # Pretend 19 of the 20 seconds have gone: inside the renewal margin (2 s for a 20 s token). The provider
    # keeps the token it last saw too, so its clock is moved on as well.
    raw = json.loads(redis_client.get(provider.key))
    raw["expires_at"] = time.time() + 1
    redis_client.set(provider.key, json.dumps(raw))
    assert provider._seen is not None
    provider._seen = dataclasses.replace(provider._seen, expires_at=raw["expires_at"])
    assert provider.token() == "renewed"
    form = form_of(responses.calls[1])
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "ref-1"
    assert responses.calls[1].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_refused_refresh_falls_back_to_password_grant() -> None:
    responses.post(TOKEN_URL, json=token_body("old", expires_in=20))
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    responses.post(TOKEN_URL, json=token_body("new"))
    provider = TokenProvider(credentials())
    provider.token()
    assert provider._local is not None
    object.__setattr__(provider._local, "expires_at", time.time())
    assert provider.token() == "new"
    assert form_of(responses.calls[2])["grant_type"] == "password"


@responses.activate
def test_invalidate_only_drops_the_token_that_failed(redis_client) -> None:
    responses.post(TOKEN_URL, json=token_body("a"))
    responses.post(TOKEN_URL, json=token_body("b"))
    provider = TokenProvider(credentials(), redis=redis_client)
    assert provider.token() == "a"
    provider.invalidate("some-older-token")
    assert provider.token() == "a"
    provider.invalidate("a")
    assert provider.token() == "b"


@responses.activate
def test_refused_credentials_are_a_permanent_error_without_secrets(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    responses.post(TOKEN_URL, status=401, json={"error": "invalid_client", "error_description": "bad client"})
    with pytest.raises(InforAuthError) as info:
        TokenProvider(credentials()).token()
    text = str(info.value) + json.dumps(info.value.to_dict()) + caplog.text
    assert "invalid_client" in str(info.value)
    for secret in SECRETS:
        assert secret not in text


@responses.activate
def test_token_endpoint_outage_is_transient() -> None:
    responses.post(TOKEN_URL, status=503)
    with pytest.raises(InforTransientError):
        TokenProvider(credentials()).token()


@responses.activate
def test_redis_down_falls_back_to_an_in_process_token(caplog) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    class DeadRedis:
        def __getattr__(self, name: str):
            def fail(*args, **kwargs):
                raise RedisConnectionError("Connection refused")
            return fail

    responses.post(TOKEN_URL, json=token_body())
    dead = DeadRedis()
    provider = TokenProvider(credentials(), redis=dead)
    assert provider.token() == "tok-1"
    assert provider.token() == "tok-1"
    assert len(responses.calls) == 1
    provider.invalidate("tok-1")
    assert "Redis unavailable" in caplog.text
