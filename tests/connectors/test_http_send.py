"""``connectors.http.send``: the connectors' lean path through requests sends what ``Session.request`` would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration.connectors.http import PooledAdapter, pooled_session, send, settle_environment

URL = "http://erp.test/m3api-rest/v2/execute/MMS200MI/GetItmBasic"

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_param_dicts = st.dictionaries(st.text("ABCDEFGHIJ[]_", min_size=1, max_size=6),
                               st.one_of(st.none(), _text, st.integers(), st.lists(_text, max_size=2)), max_size=5)
# A dict takes query_string's own path, any other params requests' to_key_val_list: both must encode alike.
_params = st.one_of(_param_dicts, _param_dicts.map(lambda d: list(d.items())))
_headers = st.dictionaries(st.sampled_from(["Accept", "X-Trace", "Content-Type"]),
                           st.text("abcdefghij/;=-0123456789", min_size=1, max_size=12), max_size=3)


def settled() -> requests.Session:
    session = settle_environment(pooled_session(), URL)
    session.headers["User-Agent"] = "psinfor-test/1"
    return session


def sent(call: Any) -> tuple[str | None, str | None, Any, dict[str, str]]:
    request = call.request
    return request.method, request.url, request.body, dict(request.headers)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT"]), params=_params, headers=_headers,
       body=st.one_of(st.none(), st.binary(max_size=20), st.fixed_dictionaries({"a": _text})),
       auth=st.one_of(st.none(), st.just(("KEY", ""))))
def test_the_same_request_as_session_request(method, params, headers, body, auth):
    with responses.RequestsMock() as mock:
        mock.add(method, URL, body=b"{}", status=200)
        session = settled()
        body_args = {"json": body} if isinstance(body, dict) else {"data": body}
        send(session, method, URL, params=params, headers=headers, auth=auth, timeout=5, **body_args)
        session.request(method, URL, params=params, headers=headers, auth=auth, timeout=5, **body_args)
        ours, theirs = mock.calls[0], mock.calls[1]
        assert sent(ours) == sent(theirs)


@responses.activate
def test_cookies_set_by_the_server_go_back_with_the_next_request():
    responses.add("GET", URL, body=b"{}", headers={"Set-Cookie": "affinity=node-2; Path=/"})
    session = settled()
    send(session, "GET", URL, timeout=5)
    send(session, "GET", URL, timeout=5)
    assert "Cookie" not in responses.calls[0].request.headers
    assert responses.calls[1].request.headers["Cookie"] == "affinity=node-2"


@responses.activate
def test_redirects_are_followed_as_session_send_follows_them_and_only_when_asked():
    moved = "http://erp.test/moved"
    responses.add("GET", URL, status=301, headers={"Location": moved})
    responses.add("GET", moved, body=b"here")
    followed = send(settled(), "GET", URL, timeout=5)
    assert (followed.status_code, followed.content, followed.url) == (200, b"here", moved)
    assert [r.status_code for r in followed.history] == [301]
    kept = send(settled(), "GET", URL, timeout=5, allow_redirects=False)
    assert kept.status_code == 301 and kept.history == []


@responses.activate
def test_the_body_is_read_before_the_response_is_returned():
    responses.add("GET", URL, body=b'{"results": []}')
    response = send(settled(), "GET", URL, timeout=5)
    assert response.raw.closed or response._content_consumed  # read: the connection went back to the pool
    assert response.json() == {"results": []}


@responses.activate
def test_an_unsettled_session_goes_through_session_request():
    responses.add("GET", URL, body=b"{}")
    session = requests.Session()  # trust_env still on: requests merges the environment as it always did
    response = send(session, "GET", URL, params={"ITNO": "A1"}, timeout=5)
    assert response.status_code == 200
    assert responses.calls[0].request.url == URL + "?ITNO=A1"


@responses.activate
def test_a_cookie_goes_along_a_redirect_and_stays_in_the_session():
    moved = "http://erp.test/moved"
    responses.add("GET", URL, status=302, headers={"Location": moved, "Set-Cookie": "affinity=node-3; Path=/"})
    responses.add("GET", moved, body=b"here")
    session = settled()
    send(session, "GET", URL, timeout=5)
    assert responses.calls[1].request.headers["Cookie"] == "affinity=node-3"
    assert session.cookies.get("affinity") == "node-3"


# --- PooledAdapter, against a real server (``responses`` replaces the adapter's send, so it cannot see this) ----

class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, str | None]] = []

    def do_GET(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Cookie")))
        body = b"{}"
        self.send_response(200)
        if self.path.endswith("/login"):
            self.send_header("Set-Cookie", "affinity=node-4; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_pooled_adapter_sends_the_request_lines_requests_sends(server):
    paths = ["/api/orders/1", "/api/orders?display=full&filter[id]=[1|2]", "//double/slash", "/a%20b/c?x=%C3%A9"]
    for session in (settle_environment(requests.Session(), server), settle_environment(pooled_session(), server)):
        for path in paths:
            assert send(session, "GET", server + path, params={"q": "é x"}, timeout=5).status_code == 200
    theirs, ours = _Recorder.seen[:len(paths)], _Recorder.seen[len(paths):]
    assert ours == theirs


def test_the_pooled_adapter_finds_a_host_pool_once_and_closes_it_with_the_adapter(server):
    session = settle_environment(pooled_session(), server)
    adapter = session.get_adapter(server)
    assert isinstance(adapter, PooledAdapter)
    lookups: list[object] = []
    find = adapter.poolmanager.connection_from_host
    adapter.poolmanager.connection_from_host = lambda *a, **k: lookups.append(a or k) or find(*a, **k)
    for path in ("/one", "/two", "/three?x=1"):
        send(session, "GET", server + path, timeout=5)
    assert len(lookups) == 1  # requests' look-up once; the kept pool after that
    [pool] = adapter._pools.values()
    adapter.poolmanager.clear()  # the manager lets it go (urllib3 2 leaves it open): it is still ours to close
    assert send(session, "GET", server + "/four", timeout=5).status_code == 200 and len(lookups) == 1
    adapter.close()
    assert pool.pool is None and adapter._pools == {}
    assert [p for _, p, _ in _Recorder.seen] == ["/one", "/two", "/three?x=1", "/four"]


def test_the_pooled_adapter_keeps_no_more_origins_than_the_pool_manager_keeps_pools(server):
    session = settle_environment(pooled_session(pool_connections=1), server)
    adapter = session.get_adapter(server)
    other = server.replace("127.0.0.1", "localhost")
    for url in (server, other, server, other):
        assert send(session, "GET", url + "/x", timeout=5).status_code == 200
    assert [origin for origin, _, _ in adapter._pools] == [server]


def test_the_pooled_adapter_leaves_a_proxied_call_to_requests(server):
    session = settle_environment(pooled_session(), server)
    session.proxies = {"http": server}  # the recorder stands in for the proxy: it gets the absolute URL
    send(session, "GET", "http://shop.invalid/api/orders/7", timeout=5)
    assert _Recorder.seen == [("GET", "http://shop.invalid/api/orders/7", None)]


def test_a_cookie_a_real_server_sets_goes_back_with_the_next_request(server):
    session = settle_environment(pooled_session(), server)
    send(session, "GET", server + "/none", timeout=5)
    assert len(session.cookies) == 0
    send(session, "GET", server + "/login", timeout=5)
    send(session, "GET", server + "/after", timeout=5)
    assert [c for _, _, c in _Recorder.seen] == [None, None, "affinity=node-4"]


def test_an_unpickled_pooled_adapter_sends_as_a_fresh_one(server):
    import pickle

    session = settle_environment(pooled_session(), server)
    send(session, "GET", server + "/before", timeout=5)
    again = pickle.loads(pickle.dumps(session))
    assert send(again, "GET", server + "/after", timeout=5).status_code == 200
    assert len(again.get_adapter(server)._pools) == 1
