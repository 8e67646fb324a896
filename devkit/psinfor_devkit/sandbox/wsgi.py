"""Just enough request/response plumbing for the sandboxes' WSGI apps, without a framework.

A sandbox answers thousands of small requests a second in the benchmark; Werkzeug's request and response
objects (multi-dicts, header objects, lazy descriptors, ``KeyError`` subclasses on every missing argument)
cost more than the sandbox's own work. These two classes are plain and cheap.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

_REASONS = {status.value: status.phrase for status in HTTPStatus}


class Headers:
    """Read-only, case-insensitive view of the request headers in a WSGI environ."""

    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, Any]):
        self._environ = environ

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            return self._environ.get(key) or default
        value = self._environ.get("HTTP_" + key)
        return default if value is None else str(value)


class Request:
    __slots__ = ("_body", "args", "environ", "headers", "method", "path")

    def __init__(self, environ: dict[str, Any]):
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.path = str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "replace")
        self.args: dict[str, str] = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        self.headers = Headers(environ)
        self._body: bytes | None = None

    def get_data(self) -> bytes:
        if self._body is None:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
            stream = self.environ.get("wsgi.input")
            self._body = stream.read(length) if stream is not None and length > 0 else b""
        return self._body

    @property
    def mimetype(self) -> str:
        return str(self.environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()

    @property
    def form(self) -> dict[str, str]:
        if self.mimetype != "application/x-www-form-urlencoded":
            return {}
        return dict(parse_qsl(self.get_data().decode("utf-8", "replace"), keep_blank_values=True))

    def json(self) -> Any:
        """The JSON body, ``{}`` when empty; ValueError when it is not JSON."""
        body = self.get_data()
        return json.loads(body) if body.strip() else {}


class Response:
    __slots__ = ("body", "headers", "status_code")

    def __init__(self, body: bytes | str = b"", status: int = 200, headers: Mapping[str, str] | None = None,
                 content_type: str = "text/plain; charset=utf-8"):
        self.body = body.encode() if isinstance(body, str) else body
        self.status_code = status
        self.headers: dict[str, str] = {"Content-Type": content_type, **(headers or {})}

    @property
    def mimetype(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip()

    def get_data(self) -> bytes:
        return self.body

    def set_data(self, body: bytes) -> None:
        self.body = body

    def __call__(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [*self.headers.items(), ("Content-Length", str(len(self.body)))]
        start_response(f"{self.status_code} {_REASONS.get(self.status_code, 'Unknown')}", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else self.body]


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status, content_type="application/json")
