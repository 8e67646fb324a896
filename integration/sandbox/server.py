"""Run a sandbox WSGI app on a multi-threaded HTTP server in a daemon thread.

Both sandboxes (PrestaShop, Infor) are started in-process by tests and the demo, and as a foreground process
by ``psinfor sandbox …``. Werkzeug's threaded server is enough: one thread per connection, HTTP/1.1
keep-alive (so a pooled ``requests`` session reuses its sockets), no extra dependency. Request logging is
switched off: at bench rates it would cost more than the requests themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

WSGIApp = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log line; errors still go to stderr."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class SandboxServer:
    """A running sandbox: ``url`` is its root (``http://127.0.0.1:PORT``), ``stop()`` shuts it down."""

    def __init__(self, url: str, server: BaseWSGIServer | None = None, thread: threading.Thread | None = None,
                 on_stop: Callable[[], None] | None = None, app: Any = None):
        self.url = url
        self.app = app
        self._server = server
        self._thread = thread
        self._on_stop = on_stop

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/", 1)[0])

    def stop(self) -> None:
        """Stop accepting requests, wait for the serving thread, then run the app's own clean-up."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._on_stop is not None:
            on_stop, self._on_stop = self._on_stop, None
            on_stop()

    def wait(self) -> None:
        """Block until the server stops (foreground CLI use)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxServer({self.url!r})"


def serve_wsgi(app: WSGIApp, host: str = "127.0.0.1", port: int = 0,
               on_stop: Callable[[], None] | None = None) -> SandboxServer:
    """Start ``app`` on a threaded server in a daemon thread; ``port=0`` picks a free port."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    server.daemon_threads = True  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"sandbox-{server.server_port}", daemon=True)
    thread.start()
    return SandboxServer(f"http://{host}:{server.server_port}", server, thread, on_stop, app)
