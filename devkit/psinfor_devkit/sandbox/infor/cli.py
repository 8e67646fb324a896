"""``psinfor sandbox infor``: run the Infor sandbox in the foreground."""

from __future__ import annotations

import click

from psinfor_devkit.sandbox.infor import start_infor_sandbox


@click.command("infor")
@click.option("--port", default=8082, show_default=True, help="TCP port (0 = any free port).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--write-ionapi", "ionapi_path", type=click.Path(dir_okay=False), default=None,
              help="Write an .ionapi file pointing at the sandbox, for any ION API client to log in with.")
@click.option("--token-ttl", default=7200.0, show_default=True, help="Access token lifetime in seconds.")
def command(port: int, host: str, ionapi_path: str | None, token_ttl: float) -> None:
    """Infor sandbox: ION API token endpoint and M3 MI REST v2/v1 with a control API under /_sandbox/."""
    server = start_infor_sandbox(port, host=host, token_ttl=token_ttl, write_ionapi=ionapi_path)
    tenant = server.ionapi()["ti"]
    click.echo(f"Infor sandbox on {server.url} (tenant {tenant}); M3 at {server.url}/{tenant}/M3/m3api-rest/v2")
    if ionapi_path:
        click.echo(f"credentials written to {ionapi_path}")
    server.serve_until_interrupted()
