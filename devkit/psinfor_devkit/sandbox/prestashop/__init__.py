"""A faithful PrestaShop 8 webservice sandbox: ``start_prestashop_sandbox()`` runs it in a background thread.

See ``app`` for the webservice and the control API, ``state`` for the data and side effects, ``notify`` for
the webhooks our shop module sends, ``faults`` for fault injection.
"""

from __future__ import annotations

from psinfor_devkit.sandbox.catalogue import SHOP_TIMEZONE
from psinfor_devkit.sandbox.prestashop.app import PrestaShopSandboxApp
from psinfor_devkit.sandbox.prestashop.notify import WebhookSender
from psinfor_devkit.sandbox.prestashop.state import KeyAccess, ShopState
from psinfor_devkit.sandbox.server import SandboxServer, serve_wsgi

DEFAULT_KEY = "SANDBOXKEY0000000000000000000000"

__all__ = ["DEFAULT_KEY", "PrestaShopSandboxApp", "build_app", "start_prestashop_sandbox"]


def build_app(key: str = DEFAULT_KEY, webhook_url: str | None = None, webhook_secret: str | None = None, *,
              seed: int = 42, timezone: str = SHOP_TIMEZONE) -> PrestaShopSandboxApp:
    """The WSGI app with its state, seeded with the shared catalogue; ``key`` has every permission."""
    if len(key) != 32:
        raise ValueError("a PrestaShop webservice key is 32 characters long")
    webhooks = WebhookSender(webhook_url, webhook_secret)
    state = ShopState(timezone=timezone, seed=seed, events=webhooks.emit)
    state.keys[key] = KeyAccess()
    return PrestaShopSandboxApp(state, webhooks)


def start_prestashop_sandbox(port: int = 0, key: str = DEFAULT_KEY, webhook_url: str | None = None,
                             webhook_secret: str | None = None, *, host: str = "127.0.0.1", orders: int = 0,
                             seed: int = 42) -> SandboxServer:
    """Start the sandbox on a threaded server; ``.url`` is its root (the API is ``url + "/api"``).

    ``orders`` places that many checkouts at start, as the realistic mix (``state: "mix"`` of
    ``PrestaShopSandboxApp.place_orders``)."""
    app = build_app(key, webhook_url, webhook_secret, seed=seed)
    if orders:  # seeded checkouts are a realistic mix: not every order is paid
        app.place_orders({"count": orders, "state": "mix"})

    def on_stop() -> None:
        app.stopping.set()
        app.webhooks.stop()

    return serve_wsgi(app, host, port, on_stop=on_stop)
