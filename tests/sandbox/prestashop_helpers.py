"""Helpers shared by the PrestaShop sandbox tests: a running sandbox and a webhook receiver, over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lxml import etree

from integration.connectors.prestashop.parsing import singular

KEY = "ZQ88PRJX5VWQHCWE4EE7SQ7HPNX00RAJ"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "prestashop"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    calls: list[Received] = field(default_factory=list)
    fail_first: int = 0


@contextmanager
def webhook_receiver(fail_first: int = 0) -> Iterator[Receiver]:
    """A tiny HTTP endpoint recording every POST; the first ``fail_first`` answers are 500s."""
    receiver = Receiver(url="")
    receiver.fail_first = fail_first
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                receiver.calls.append(Received(self.path, dict(self.headers.items()), body))
                failing = receiver.fail_first > 0
                if failing:
                    receiver.fail_first -= 1
            self.send_response(500 if failing else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/prestashop"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def shape(xml: bytes) -> list[str]:
    """Element names of the first object in a PrestaShop body, in order (the object's own fields)."""
    root = etree.fromstring(xml)
    obj = root[0]
    item_tag = singular(obj.tag)
    if item_tag != obj.tag and len(obj) and obj[0].tag == item_tag:  # a list: describe its first item
        obj = obj[0]
    return [child.tag for child in obj if isinstance(child.tag, str)]


def fixture_shape(name: str) -> list[str]:
    return shape((FIXTURES / name).read_bytes())
