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
import socketserver
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

WSGIApp = Callable[..., Iterable[bytes]]
MAX_LINE = 65536


class _WSGIHandler(socketserver.StreamRequestHandler):
    """A minimal HTTP/1.1 keep-alive loop around a WSGI app (the standard library's parser costs ~3x more)."""

    timeout = 120  # idle keep-alive connections are closed after this many seconds
    disable_nagle_algorithm = True  # one write per response; no 40 ms delayed-ACK stalls
    server: _Server

    def handle(self) -> None:
        while True:
            try:
                keep_alive = self._one_request()
            except (OSError, ValueError):
                return
            if not keep_alive:
                return

    def _headers(self) -> list[tuple[str, str]] | None:
        headers: list[tuple[str, str]] = []
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line:
                return None
            if line in (b"\r\n", b"\n"):
                return headers
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
            if len(headers) > 100:
                raise ValueError("too many headers")

    def _body(self, fields: dict[str, str]) -> bytes:
        if fields.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline(MAX_LINE).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(MAX_LINE)
        length = int(fields.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _one_request(self) -> bool:
        line = self.rfile.readline(MAX_LINE)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(MAX_LINE)
        if not line:
            return False
        parts = line.decode("latin-1").split()
        headers = self._headers()
        if len(parts) != 3 or headers is None:
            self._send("400 Bad Request", [("Content-Type", "text/plain")], b"bad request", False, "GET")
            return False
        method, target, version = parts
        fields = {name.lower(): value for name, value in headers}
        if fields.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._body(fields)
        connection = fields.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        environ = self._environ(method, target, version, headers, body)
        status, response_headers, data = self._call_app(environ)
        return self._send(status, response_headers, data, keep_alive, method)

    def _environ(self, method: str, target: str, version: str, headers: list[tuple[str, str]],
                 body: bytes) -> dict[str, Any]:
        path, _, query = target.partition("?")
        host, port = self.server.server_address[0], self.server.server_address[1]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "CONTENT_TYPE": "",
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": version,
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
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ[key] = value
                continue
            if key == "CONTENT_LENGTH":
                continue
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _call_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda data: None

        try:
            result = self.server.app(environ, start_response)
            try:
                data = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            traceback.print_exc()
            return "500 Internal Server Error", [("Content-Type", "text/plain")], b"sandbox error"
        return started[0], started[1], data

    def _send(self, status: str, headers: list[tuple[str, str]], data: bytes, keep_alive: bool,
              method: str) -> bool:
        lines = [f"HTTP/1.1 {status}", "Server: psinfor-sandbox/1.0"]
        has_length = False
        for name, value in headers:
            lowered = name.lower()
            if lowered in ("connection", "transfer-encoding"):
                continue
            has_length = has_length or lowered == "content-length"
            lines.append(f"{name}: {value}")
        if not has_length:
            lines.append(f"Content-Length: {len(data)}")
        if not keep_alive:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head if method == "HEAD" or not data else head + data)
        except OSError:  # the client went away, or the app dropped the connection on purpose
            return False
        return keep_alive


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: WSGIApp):
        self.app = app
        super().__init__(address, _WSGIHandler)


class SandboxServer:
    """A running sandbox: ``url`` is its root (``http://127.0.0.1:PORT``), ``stop()`` shuts it down."""

    def __init__(self, url: str, server: socketserver.BaseServer | None = None, thread: threading.Thread | None = None,
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

    def serve_until_interrupted(self) -> None:
        """Foreground use (``psinfor sandbox …``): serve until Ctrl-C, then stop cleanly."""
        try:
            self.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

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
