"""The webhook receiver and health endpoints (Flask, served by gunicorn with sync workers).

A webhook request does exactly one insert and one publish: verify the HMAC in constant time, check the
body, write the inbox row (a repeated delivery of the same ``Webhook-Id`` is accepted and ignored),
enqueue, answer 202. Everything else happens in the workers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog
from flask import Flask, Response, jsonify, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from integration.config import Settings, get_settings
from integration.connectors.prestashop import webhooks
from integration.errors import ConfigurationError
from integration.flows.base import Enqueue, Flow
from integration.flows.maintenance import enqueue_new_event
from integration.flows.registry import AcceptedEvent, accepted_events
from integration.store import models as m
from integration.store.db import get_engine
from integration.store.migrate import schema_problem
from integration.store.repository import NewEvent, Store

log = structlog.get_logger("psinfor.web")
MAX_BODY_BYTES = 64 * 1024
MAX_ID = 2**63 - 1  # ids are 64-bit in PrestaShop's database and ours


def webhook_schema(events: Mapping[str, AcceptedEvent]) -> Schema:
    """The body the shop module sends, generated from the accepted events: ids only, the event, the shop."""
    id_fields = {e.id_field for e in events.values()} | set(webhooks.EXTRA_ID_FIELDS)
    declared: dict[str, Any] = {
        "event": fields.String(required=True, validate=validate.OneOf(sorted({*events, webhooks.PING}))),
        "shop_id": fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID)),
        "occurred_at": fields.AwareDateTime(load_default=None),
    }
    for name in sorted(id_fields):
        low = 0 if name in webhooks.ZERO_ALLOWED else 1
        declared[name] = fields.Integer(strict=True, validate=validate.Range(min=low, max=MAX_ID))

    class WebhookBody(Schema.from_dict(declared)):  # type: ignore[misc]
        class Meta:
            unknown = EXCLUDE

        @validates_schema
        def _id_for_event(self, data: dict[str, Any], **_kwargs: Any) -> None:
            accepted = events.get(data.get("event", ""))
            if accepted and accepted.id_field not in data:
                raise ValidationError(f"required for event {data['event']!r}", accepted.id_field)

    return WebhookBody()


def _problem(status: int, title: str, detail: Any = None) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": title}
    if detail is not None:
        body["detail"] = detail
    return jsonify(body), status


def create_app(settings: Settings | None = None, enqueue: Enqueue | None = None,
               ping_broker: Callable[[], bool] | None = None, flows: Iterable[Flow] | None = None) -> Flask:
    """``enqueue`` publishes an event (the Celery layer passes its own; without one, events wait for the sweeper).
    ``flows``: the registry's by default; the accepted webhook events follow from them."""
    settings = settings or get_settings()
    store = Store(settings.database_url)
    app = Flask("psinfor")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    events = accepted_events(flows)
    schema = webhook_schema(events)

    def publish(event_id: int, entity: str, from_step: str | None) -> None:
        if enqueue is None:
            raise RuntimeError("no broker configured for this receiver")
        enqueue(event_id, entity, from_step)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return _problem(exc.code or 500, exc.name, exc.description)

    @app.post("/webhooks/prestashop")
    @app.post("/webhooks/prestashop/<connection>")
    def prestashop_webhook(connection: str = "default") -> tuple[Response, int]:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _problem(413, "body too large", f"at most {MAX_BODY_BYTES} bytes")
        try:
            conn = settings.connection(connection)
        except ConfigurationError:
            return _problem(404, "unknown connection", connection)
        raw = request.get_data(cache=False)
        if not conn.webhook_secret:
            log.error("webhook refused: no secret configured", connection=connection)
            return _problem(503, "webhooks are not configured", "set WEBHOOK_SECRET")
        try:
            webhooks.verify(conn.webhook_secret.reveal(), request.headers.get(webhooks.HEADER_ID),
                            request.headers.get(webhooks.HEADER_TIMESTAMP),
                            request.headers.get(webhooks.HEADER_SIGNATURE), raw)
        except webhooks.SignatureError as exc:
            log.warning("webhook refused", connection=connection, reason=str(exc))
            return _problem(401, "invalid signature", str(exc))
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return _problem(400, "body is not JSON", str(exc))
        if not isinstance(body, dict):
            return _problem(400, "body must be a JSON object")
        try:
            data = schema.load(body)
        except ValidationError as exc:
            return _problem(422, "invalid webhook body", exc.messages)
        event_type = data["event"]
        if event_type == webhooks.PING:  # the shop module's "send test event": signed and well-formed, not stored
            return jsonify({"pong": True, "connection": connection}), 200
        accepted = events[event_type]
        entity = accepted.entity or event_type.split(".", 1)[0]
        new = NewEvent(connection=connection, source_system="prestashop", entity=entity,
                       source_id=str(data[accepted.id_field]), event_type=event_type,
                       dedupe_key=f"webhook:{request.headers[webhooks.HEADER_ID]}", payload=body)
        if accepted.entity is not None:
            event_id, created = enqueue_new_event(store, new, publish)
        else:
            event_id, created = store.add_event(new, status=m.PENDING_FLOW)
        return jsonify({"event_id": event_id, "duplicate": not created}), 202

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        return jsonify({"status": "ok"}), 200

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        checks: dict[str, str] = {}
        try:
            with get_engine(settings.database_url).connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            checks["migrations"] = schema_problem(settings.database_url) or "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            checks["redis"] = "ok" if (ping_broker or _redis_ping(settings.redis_url))() else "error"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), 200 if ready else 503

    from integration.web import metrics as prometheus

    registry = prometheus.registry_for(settings, store, flows)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(prometheus.render(registry), headers={"Content-Type": prometheus.CONTENT_TYPE})

    from integration.web.console import init_console

    init_console(app, settings, store, publish, flows)  # only when PSINFOR_CONSOLE_SECRET_KEY is set
    return app


def _redis_ping(url: str) -> Callable[[], bool]:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    return lambda: bool(client.ping())
