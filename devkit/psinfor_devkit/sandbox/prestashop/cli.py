"""``psinfor sandbox prestashop``: run the PrestaShop sandbox in the foreground."""

from __future__ import annotations

import click

from psinfor_devkit.sandbox.prestashop import DEFAULT_KEY, start_prestashop_sandbox


@click.command("prestashop")
@click.option("--port", default=8081, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--key", default=DEFAULT_KEY, show_default=True, help="the 32-character webservice key")
@click.option("--webhook-url", default=None, help="where to POST signed webhooks")
@click.option("--webhook-secret", default=None, envvar="WEBHOOK_SECRET", help="HMAC secret for webhooks")
@click.option("--orders", default=0, type=int, help="place N checkout-like orders at start")
@click.option("--seed", default=42, type=int, help="random seed for generated orders")
def command(port: int, host: str, key: str, webhook_url: str | None, webhook_secret: str | None, orders: int,
            seed: int) -> None:
    """Emulate the PrestaShop 8 webservice under /api/ (control API under /_sandbox/)."""
    if webhook_url and not webhook_secret:
        raise click.UsageError("--webhook-url needs --webhook-secret (or WEBHOOK_SECRET)")
    server = start_prestashop_sandbox(port, key, webhook_url, webhook_secret, host=host, orders=orders, seed=seed)
    click.echo(f"PrestaShop sandbox on {server.url}/api/ (control: {server.url}/_sandbox/); "
               f"{orders} orders placed; Ctrl-C to stop")
    server.serve_until_interrupted()
