"""The shared threaded sandbox server starts, answers on keep-alive connections and stops."""

from __future__ import annotations

import requests

from psinfor_devkit.sandbox.server import serve_wsgi


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def test_serve_wsgi_answers_and_stops() -> None:
    server = serve_wsgi(_app, port=0)
    try:
        with requests.Session() as session:
            for _ in range(3):
                assert session.get(server.url + "/x", timeout=5).text == "ok"
    finally:
        server.stop()
    assert server.port > 0
