"""A faithful Infor sandbox: ION API gateway (OAuth 2.0 token endpoint) and M3 MI REST v2/v1.

``start_infor_sandbox()`` runs it in-process on a multi-threaded server (tests, demo, bench);
``psinfor sandbox infor --port N --write-ionapi PATH`` runs it in the foreground. Any client written for the
real ION API logs in with the ``.ionapi`` file the sandbox writes. See ``app.py`` for the URL layout and the
control API, ``state.py`` for the M3 semantics it keeps.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from psinfor_devkit.sandbox.infor.app import TENANT, Gateway, SandboxCredentials, create_app
from psinfor_devkit.sandbox.infor.state import M3State
from psinfor_devkit.sandbox.server import SandboxServer, serve_wsgi


class InforSandboxServer(SandboxServer):
    """A running Infor sandbox: ``url``, ``stop()``, plus ``ionapi()``/``write_ionapi(path)`` and ``state``."""

    gateway: Gateway

    @property
    def state(self) -> M3State:
        return self.gateway.state

    def ionapi(self) -> dict[str, Any]:
        """The ``.ionapi`` content for this sandbox (client id/secret and service account keys)."""
        return dict(self.gateway.credentials.ionapi(self.url))

    def write_ionapi(self, path: str | Path) -> Path:
        """Write the ``.ionapi`` file, readable by its owner only (it holds secrets, like a real one)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.ionapi(), handle, indent=4)
            handle.write("\n")
        return target

    def __repr__(self) -> str:
        return f"InforSandboxServer({self.url!r})"


def start_infor_sandbox(port: int = 0, *, host: str = "127.0.0.1", tenant: str = TENANT,
                        token_ttl: float = 7200.0, credentials: SandboxCredentials | None = None,
                        write_ionapi: str | Path | None = None) -> InforSandboxServer:
    """Start a fresh sandbox (seeded from the shared catalogue) on ``port`` (0 = any free port)."""
    gateway = Gateway(M3State(), credentials or SandboxCredentials.generate(tenant), token_ttl)
    base = serve_wsgi(create_app(gateway), host, port)
    server = InforSandboxServer.__new__(InforSandboxServer)
    server.__dict__.update(base.__dict__)
    server.gateway = gateway
    if write_ionapi is not None:
        server.write_ionapi(write_ionapi)
    return server


__all__ = ["InforSandboxServer", "SandboxCredentials", "start_infor_sandbox"]
