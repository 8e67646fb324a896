"""Run a sandbox WSGI app on a multi-threaded HTTP/1.1 server in a daemon thread.

Both sandboxes (PrestaShop, Infor) are started in-process by tests, the demo and the benchmark, and as a
foreground process by ``psinfor sandbox …``. The server is the standard library's ``ThreadingHTTPServer``
with a small WSGI bridge, because:

- it keeps connections alive (HTTP/1.1), so a pooled ``requests`` session reuses its sockets; Werkzeug's
  development server closes every connection, which halves the request rate and fills the port range with
  TIME_WAIT sockets during a benchmark;
- it needs no dependency (no Werkzeug server, no waitress);
- request bodies are read in full before the app runs, so an app that answers without reading the body
  (an auth error before a POST is parsed) cannot desynchronise the next request on the connection.

There is no access log: at benchmark rates it would cost more than the requests themselves.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote_to_bytes

WSGIApp = Callable[..., Iterable[bytes]]


class _WSGIHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "psinfor-sandbox/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    # Headers and body leave in one write with Nagle off: otherwise delayed ACKs add ~40 ms per request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        address: Any = self.server.server_address
        host, port = address[0], address[1]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "werkzeug.socket": self.connection,  # lets a sandbox simulate a dropped connection
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                continue
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _handle(self) -> None:
        body = self._read_body()
        environ = self._environ(body)
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda data: None

        result = self.server.app(environ, start_response)  # type: ignore[attr-defined]
        try:
            data = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        code, _, reason = status.partition(" ")
        try:
            self.send_response(int(code), reason)
            names = set()
            for name, value in headers:
                if name.lower() in ("connection", "transfer-encoding"):
                    continue
                names.add(name.lower())
                self.send_header(name, value)
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and data:
                self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client went away, or the app dropped the connection on purpose
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: WSGIApp):
        self.app = app
        super().__init__(address, _WSGIHandler)


class SandboxServer:
    """A running sandbox: ``url`` is its root (``http://127.0.0.1:PORT``), ``stop()`` shuts it down."""

    def __init__(self, url: str, server: ThreadingHTTPServer | None = None, thread: threading.Thread | None = None,
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
    """Start ``app`` on a threaded HTTP/1.1 server in a daemon thread; ``port=0`` picks a free port."""
    server = _Server((host, port), app)
    bound_port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name=f"sandbox-{bound_port}", daemon=True)
    thread.start()
    return SandboxServer(f"http://{host}:{bound_port}", server, thread, on_stop, app)
