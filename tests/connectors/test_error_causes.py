"""Errors name the real cause: connection refused, host unknown, time-out, 401, and a PS_URL that does not lead
to a PrestaShop webservice (not "the object was deleted"). Real sockets for the network causes; ``responses``
only for the 404 at the HTTP boundary."""

from __future__ import annotations

import socket
import threading

import pytest
import responses

from integration.connectors.http import network_cause
from integration.connectors.infor.errors import InforTransientError
from integration.connectors.infor.ionapi import IonApiCredentials, TokenProvider
from integration.connectors.prestashop.client import PrestaShopClient
from integration.connectors.prestashop.errors import (
    PrestaShopNotFound,
    PrestaShopNotWebservice,
    PrestaShopServerError,
)
from integration.errors import NotFound

KEY = "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server():
    """Accepts connections and never answers: a read time-out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def run() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    server.close()


def _ps(url: str, **kwargs) -> PrestaShopClient:
    return PrestaShopClient(url, KEY, max_retries=0, use_ws_key_param=True, **kwargs)


def test_a_refused_connection_is_not_called_a_time_out():
    with pytest.raises(PrestaShopServerError) as caught:
        _ps(f"http://127.0.0.1:{_closed_port()}/api").get("orders", 1)
    message = str(caught.value)
    assert "connection refused" in message and "did not answer" not in message and KEY not in message


def test_an_unknown_host_says_so():
    with pytest.raises(PrestaShopServerError) as caught:
        _ps("http://no-such-shop.invalid/api").get("orders", 1)
    assert "host unknown" in str(caught.value) and KEY not in str(caught.value)


def test_a_silent_shop_is_a_time_out(silent_server):
    with pytest.raises(PrestaShopServerError) as caught:
        _ps(f"http://127.0.0.1:{silent_server}/api", timeout=0.5).get("orders", 1)
    assert "did not answer within 0.5s" in str(caught.value)


@responses.activate
def test_a_404_without_the_webservice_headers_is_a_wrong_ps_url_not_a_deleted_object():
    responses.get("http://www.example.com/api/orders/5", status=404, body=b"<html>Not Found</html>")
    with pytest.raises(PrestaShopNotWebservice) as caught:
        _ps("http://www.example.com/api").get("orders", 5)
    assert not isinstance(caught.value, NotFound)  # the order flow would skip a "deleted" order silently
    assert "PS_URL does not lead to a PrestaShop webservice" in str(caught.value)
    responses.get("http://shop.test/api/orders/6", status=404, body=b"",
                  headers={"PSWS-Version": "8.1.5", "X-Powered-By": "PrestaShop Webservice"})
    with pytest.raises(PrestaShopNotFound):
        _ps("http://shop.test/api").get("orders", 6)


def test_the_ion_token_endpoint_unreachable_names_the_cause():
    port = _closed_port()
    credentials = IonApiCredentials.from_dict({"ti": "T", "ci": "T~c", "cs": "client-secret-x",
                                               "iu": f"http://127.0.0.1:{port}", "pu": f"http://127.0.0.1:{port}/T/as/",
                                               "ot": "token.oauth2", "saak": "T#a", "sask": "s"})
    with pytest.raises(InforTransientError) as caught:
        TokenProvider(credentials).token()
    assert "ION token endpoint unreachable: connection refused" in str(caught.value)


@pytest.mark.parametrize(("exc", "cause"), [
    (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
    (socket.gaierror(-2, "Name or service not known"), "host unknown"),
    (TimeoutError("timed out"), "timed out"),
    (ConnectionResetError(104, "reset"), "connection dropped"),
    (RuntimeError('connection to server at "db" failed: FATAL: password authentication failed'), "credentials"),
])
def test_network_causes_in_words(exc, cause):
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = exc
    assert network_cause(wrapped).startswith(cause)
