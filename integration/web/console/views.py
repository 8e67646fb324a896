"""The console's pages and actions. Viewers read; operators replay, release, skip and discard; admins also
edit mappings. Every action (and every refusal) goes to the audit log; every POST carries a CSRF token."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError as CSRFError

from integration.config import Settings
from integration.errors import IntegrationError
from integration.flows.base import Enqueue, Flow
from integration.flows.maintenance import release_held
from integration.jsonutil import dumps
from integration.observability import scrub
from integration.store import models as m
from integration.store.repository import Store

from . import designer
from .auth import CurrentUser, LoginLimiter, authenticate, fingerprint, requires
from .settings import ConsoleSettings

log = structlog.get_logger("psinfor.console")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BUNDLE_TTL_SECONDS = 60.0
MAX_REASON = 500
CUSTOMER_HISTORY = 50  # events of a customer's history on its page


def make_blueprint(console: ConsoleSettings, settings: Settings, store: Store, enqueue: Enqueue,
                   flows: Iterable[Flow] | None = None) -> Blueprint:
    from integration.flows.registry import FLOWS

    flow_list = list(FLOWS.values() if flows is None else flows)
    bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                   static_folder="static", static_url_path="/static")
    limiter = LoginLimiter(console.login_attempts, console.login_window_seconds, _redis(settings.redis_url),
                           settings.key_prefix)
    bundles = _BundleCache(settings)

    # -- every request --------------------------------------------------------------------------------
    @bp.before_request
    def _load_user() -> Any:
        g.console_store = store
        g.console_user = None
        uid = session.get("uid")
        if uid is not None:
            user = store.get_user(user_id=int(uid))
            if user is not None and user.active and session.get("pwf") == fingerprint(user.password_hash):
                g.console_user = CurrentUser(user.id, user.name, user.role)
            else:
                session.clear()
        if request.method in UNSAFE_METHODS:
            token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
            try:
                validate_csrf(token)
            except CSRFError as exc:
                store.audit(g.console_user.name if g.console_user else "-", "refused:csrf", request.path,
                            outcome="refused", detail={"reason": str(exc)}, remote_addr=request.remote_addr)
                abort(400, description=f"CSRF check failed: {exc}")
        if g.console_user is None and request.endpoint not in ("console.login", "console.static"):
            if request.headers.get("HX-Request") or request.is_json:
                abort(401)
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
        return None

    @bp.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                    "frame-ancestors 'none'; form-action 'self'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @bp.context_processor
    def _context() -> dict[str, Any]:
        return {"user": g.get("console_user"), "csrf_token": generate_csrf, "ROLE_OPERATOR": m.ROLE_OPERATOR,
                "ROLE_ADMIN": m.ROLE_ADMIN, "refresh": console.refresh_seconds, "fmt_time": _fmt_time,
                "fmt_age": _fmt_age, "dumps": _pretty}

    @bp.errorhandler(HTTPException)
    def _error(exc: HTTPException) -> Any:
        if exc.code == 401 and (request.headers.get("HX-Request") or request.is_json):
            return jsonify({"error": "log in first"}), 401
        if request.is_json or request.path.endswith(("/check", "/save")):
            return jsonify({"error": exc.name, "detail": exc.description}), exc.code
        return render_template("console/error.html", error=exc), exc.code

    def audit(action: str, target: str = "", *, outcome: str = "ok", **detail: Any) -> None:
        user = g.get("console_user")
        store.audit(user.name if user else "-", action, target, outcome=outcome, detail=detail or None,
                    remote_addr=request.remote_addr)

    # -- logging in and out ----------------------------------------------------------------------------
    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "GET":
            return render_template("console/login.html", next=request.args.get("next", ""))
        name = (request.form.get("username") or "").strip()[:64]
        remote = request.remote_addr or "-"
        if limiter.blocked(remote, name):
            store.audit(name or "-", "login", outcome="limited", remote_addr=remote)
            return render_template("console/login.html", error="Too many failed logins: wait a few minutes.",
                                   next=request.form.get("next", "")), 429
        user = authenticate(store, name, request.form.get("password") or "")
        if user is None:
            limiter.failed(remote, name)
            store.audit(name or "-", "login", outcome="failed", remote_addr=remote)
            return render_template("console/login.html", error="Wrong user name or password.",
                                   next=request.form.get("next", "")), 401
        limiter.succeeded(name)
        stored = store.get_user(user.name)
        session.clear()  # a fresh session (and CSRF token) at every login
        session.permanent = True
        session["uid"] = user.id
        session["pwf"] = fingerprint(stored.password_hash) if stored else ""
        g.console_user = user
        audit("login")
        target = request.form.get("next") or ""
        return redirect(target if target.startswith("/console/") else url_for("console.overview"))

    @bp.post("/logout")
    def logout() -> Any:
        audit("logout")
        session.clear()
        return redirect(url_for("console.login"))

    # -- overview ------------------------------------------------------------------------------------
    @bp.get("/")
    def index() -> Any:
        return redirect(url_for("console.overview"))

    @bp.get("/overview")
    def overview() -> Any:
        return render_template("console/overview.html", **_overview_data(store, settings, flow_list))

    @bp.get("/overview/panel")
    def overview_panel() -> Any:
        return render_template("console/_overview_panel.html", **_overview_data(store, settings, flow_list))

    # -- events --------------------------------------------------------------------------------------
    @bp.get("/events")
    def events() -> Any:
        args = request.args
        filters = {k: (args.get(k) or "").strip() for k in
                   ("flow", "status", "connection", "shop_id", "infor_id", "customer", "since", "until")}
        try:
            since = _day(filters["since"])
            until = _day(filters["until"], end=True)
        except ValueError:
            abort(400, description="dates are YYYY-MM-DD")
        before = args.get("before", type=int)
        rows = store.search_events(entity=filters["flow"] or None, status=filters["status"] or None,
                                   connection=filters["connection"] or None, source_id=filters["shop_id"] or None,
                                   infor_id=filters["infor_id"] or None, customer=filters["customer"] or None,
                                   since=since, until=until, limit=100, before_id=before)
        return render_template("console/events.html", events=rows, filters=filters,
                               flows=[f.entity for f in flow_list], statuses=[s.value for s in m.EventStatus],
                               connections=sorted(settings.connections), next_before=rows[-1].id if len(rows) == 100
                               else None)

    @bp.get("/events/<int:event_id>")
    def event_detail(event_id: int) -> Any:
        snap = store.event_snapshot(event_id)
        if not snap:
            abort(404, description=f"no event {event_id}")
        event = store.get_event(event_id)
        assert event is not None
        outputs = {k: scrub(v) for k, v in store.step_outputs(event_id).items()}
        bindings = store.bindings_of(event.connection, event.source_id)
        return render_template("console/event.html", event=event, snap=snap, attempts=store.attempts_of(event_id),
                               outputs=outputs, payload=scrub(event.payload or {}), bindings=bindings,
                               shop_link=_shop_link(console, settings, event.connection, event.entity,
                                                    event.source_id),
                               infor_links=[(e, i, _infor_link(console, i)) for e, i in bindings
                                            if not i.startswith(m.PENDING_PREFIX)],
                               letters=store.dead_letters_of(event_id))

    @bp.get("/events/<int:event_id>/outcome")
    def event_outcome(event_id: int) -> Any:
        event = store.get_event(event_id)
        if event is None:
            abort(404)
        return render_template("console/_outcome.html", event=event, final=event.status in m.FINAL_STATUSES)

    # -- dead letters --------------------------------------------------------------------------------
    @bp.get("/dead-letters")
    def dead_letters() -> Any:
        show = request.args.get("status", m.DLQ_OPEN)
        rows = store.list_dead_letters(None if show == "all" else show, limit=500)
        replayed = [int(i) for i in request.args.get("replayed", "").split(",") if i.strip().isdigit()]
        return render_template("console/dead_letters.html", letters=rows, show=show,
                               replayed=[e for e in (store.get_event(i) for i in replayed) if e is not None])

    @bp.post("/dead-letters/replay")
    @requires(m.ROLE_OPERATOR)
    def replay() -> Any:
        events_replayed: list[int] = []
        for dlq_id in _ids(request.form.getlist("ids")):
            row = store.get_dead_letter(dlq_id)
            event_id = store.reopen_for_replay(dlq_id)
            if row is None or event_id is None:
                flash(f"Dead letter #{dlq_id} is not open: not replayed.", "warning")
                audit("replay", f"dead_letter:{dlq_id}", outcome="refused", reason="not open")
                continue
            published = _publish(enqueue, event_id, row.entity, None)
            audit("replay", f"dead_letter:{dlq_id}", event_id=event_id, entity=row.entity, source_id=row.source_id,
                  published=published)
            events_replayed.append(event_id)
        if not events_replayed:
            flash("Nothing replayed: choose at least one open dead letter.", "warning")
        return redirect(url_for("console.dead_letters", replayed=",".join(map(str, events_replayed)) or None))

    @bp.post("/dead-letters/discard")
    @requires(m.ROLE_OPERATOR)
    def discard() -> Any:
        reason = _reason()
        for dlq_id in _ids(request.form.getlist("ids")):
            event_id = store.discard_dead_letter(dlq_id, reason, g.console_user.name)
            audit("discard", f"dead_letter:{dlq_id}", outcome="ok" if event_id else "refused", reason=reason,
                  event_id=event_id)
            flash(f"Dead letter #{dlq_id} discarded." if event_id else f"Dead letter #{dlq_id} is not open.",
                  "info" if event_id else "warning")
        return redirect(url_for("console.dead_letters"))

    # -- held for review -------------------------------------------------------------------------------
    @bp.get("/held")
    def held() -> Any:
        released = [int(i) for i in request.args.get("released", "").split(",") if i.strip().isdigit()]
        return render_template("console/held.html", events=store.held_events(limit=500), now=m.utcnow(),
                               released=[e for e in (store.get_event(i) for i in released) if e is not None])

    @bp.post("/held/release")
    @requires(m.ROLE_OPERATOR)
    def release() -> Any:
        done: list[int] = []
        for event_id in _ids(request.form.getlist("ids")):
            released = release_held(store, event_id, g.console_user.name, enqueue)
            if released is None:
                audit("release", f"event:{event_id}", outcome="refused", reason="not held")
                flash(f"Event {event_id} is not held.", "warning")
                continue
            if not released.published:
                flash(f"Event {event_id}: the broker did not answer; the sweeper will pick the event up.", "warning")
            audit("release", f"event:{event_id}", entity=released.entity, from_step=released.from_step,
                  published=released.published)
            done.append(event_id)
        return redirect(url_for("console.held", released=",".join(map(str, done)) or None))

    @bp.post("/held/skip")
    @requires(m.ROLE_OPERATOR)
    def skip() -> Any:
        reason = _reason()
        for event_id in _ids(request.form.getlist("ids")):
            ok = store.skip_held(event_id, reason, g.console_user.name)
            audit("skip", f"event:{event_id}", outcome="ok" if ok else "refused", reason=reason)
            flash(f"Event {event_id} skipped." if ok else f"Event {event_id} is not held.", "info" if ok else "warning")
        return redirect(url_for("console.held"))

    # -- audit log ---------------------------------------------------------------------------------------
    @bp.get("/audit")
    def audit_log() -> Any:
        return render_template("console/audit.html", entries=store.audit_entries(
            500, user_name=request.args.get("user") or None, action=request.args.get("action") or None))

    # -- customer 360 ------------------------------------------------------------------------------------
    runtime: list[Any] = []  # one Runtime on the console's own settings, made at the first customer page

    @bp.get("/customers")
    def customers() -> Any:
        """``integration.customer360``'s view of one customer (shop id or e-mail): read-only, so viewers too."""
        from integration.customer360 import CustomerNotFound, customer_360
        from integration.runtime import Runtime

        key = (request.args.get("q") or "").strip()[:254]
        connections = sorted(settings.connections)
        connection = request.args.get("connection") or (connections[0] if connections else "default")
        if connection not in settings.connections:
            abort(400, description=f"no connection {connection!r}")
        view, error = None, None
        if key:
            if not runtime:
                runtime.append(Runtime(settings))
            try:
                view = customer_360(runtime[0], connection, key, history=CUSTOMER_HISTORY)
            except CustomerNotFound as exc:
                error = str(exc)
            except IntegrationError as exc:
                error = f"could not build the view: {exc}"
            except Exception as exc:  # a system is unreachable: say so rather than a bare 500
                log.warning("customer page: a system did not answer", error=type(exc).__name__)
                error = f"could not read the shop or M3 ({type(exc).__name__}); try again later"
        return render_template("console/customer.html", key=key, connection=connection, connections=connections,
                               view=view, error=error), 404 if error and error.startswith("no shop customer") else 200

    # -- mappings: the flows and the visual designer --------------------------------------------------------
    @bp.get("/mappings")
    def mappings() -> Any:
        directory = settings.mappings_dir
        return render_template("console/mappings.html", flows=flow_list, directory=directory,
                               files=designer.mapping_files(directory),
                               maps={n: len(designer.field_maps(n, _doc(directory, n)))
                                     for n in designer.mapping_files(directory)})

    @bp.get("/mappings/<name>")
    def mapping_file(name: str) -> Any:
        directory = settings.mappings_dir
        try:
            path = designer.file_path(directory, name)
        except designer.DesignerError as exc:
            abort(404, description=exc.message)
        text = path.read_text(encoding="utf-8")
        doc = designer.load_document(text)
        views = [v.to_json() for v in designer.field_maps(name, doc)]
        latest = store.search_events(entity="order", limit=1)
        config = _loaded(directory)
        return render_template(
            "console/designer.html", name=name, text=text, base_hash=designer.text_hash(text), maps=views,
            order_id=latest[0].source_id if latest else "", connections=sorted(settings.connections),
            lookups=sorted(config.lookups) if config else [], formats=list(designer.FORMATS),
            options=["send_prices", "send_discount"] if name == "orders.yaml" else [],
            history=sorted((p.name for p in (directory / designer.HISTORY_DIR).glob(f"{name.rsplit('.', 1)[0]}.*")),
                           reverse=True)[:10] if (directory / designer.HISTORY_DIR).is_dir() else [])

    @bp.get("/mappings/<name>/suggest")
    def mapping_suggest(name: str) -> Any:
        """``psinfor map suggest``'s ranking for one field map's transaction (called the same way: the saved
        mapping folder as evidence; the suggester never reads the target transaction's own map)."""
        from integration.ai.suggest import suggest

        directory = settings.mappings_dir
        try:
            path = designer.file_path(directory, name)
        except designer.DesignerError as exc:
            abort(404, description=exc.message)
        key = request.args.get("map", "")
        view = next((v for v in designer.field_maps(name, _doc(directory, name)) if v.key == key), None)
        if view is None or not path.is_file():
            abort(404, description=f"no field map {key!r} in {name}")
        top = min(max(request.args.get("top", 3, type=int) or 3, 1), 10)
        try:  # config None (the folder does not load): ranked without the other mappings' evidence
            result = suggest(view.program, view.transaction, config=_loaded(directory), top=top)
        except KeyError:
            abort(404, description=f"no metadata for {view.program}/{view.transaction}")
        return jsonify({"map": key, "target": result["target"], "suggestions": [
            {**s, "candidates": [{**c, "paths": designer.canonical_paths(c["source"], view.sources)}
                                 for c in s["candidates"]]}
            for s in result["suggestions"] if s["candidates"]]})

    @bp.post("/mappings/<name>/check")
    def mapping_check(name: str) -> Any:
        """The candidate's text, the loader's problems, the diff, the redrawn field maps and the preview."""
        directory = settings.mappings_dir
        body = request.get_json(silent=True) or {}
        try:
            saved = designer.file_path(directory, name).read_text(encoding="utf-8")
            text = _candidate_text(saved, body)
        except designer.DesignerError as exc:
            return jsonify({"error": exc.message}), 422
        except designer.YAMLError as exc:
            return jsonify({"text": body.get("text", ""), "problems": [designer.parse_check_error(exc)],
                            "diff": "", "maps": [], "preview": None})
        candidate = designer.check(directory, name, text)
        result: dict[str, Any] = {
            "text": text, "problems": candidate.problems, "diff": designer.diff(saved, text, name),
            "maps": [v.to_json() for v in designer.field_maps(name, designer.load_document(text))],
            "base_hash": designer.text_hash(saved), "preview": None, "preview_error": None,
        }
        order_id = str(body.get("order_id") or "").strip()
        if order_id and candidate.config is not None and name in ("orders.yaml", "customers.yaml"):
            try:
                bundle = bundles.get(str(body.get("connection") or "default"), int(order_id))
                result["preview"] = designer.preview(candidate.config, name, bundle)
            except (ValueError, IntegrationError) as exc:
                result["preview_error"] = str(exc)
            except Exception as exc:  # the shop is unreachable: the check still stands
                log.warning("mapping preview: could not read the order", order_id=order_id, error=type(exc).__name__)
                result["preview_error"] = f"could not read order {order_id} from the shop ({type(exc).__name__})"
        return jsonify(result)

    @bp.post("/mappings/<name>/save")
    @requires(m.ROLE_ADMIN)
    def mapping_save(name: str) -> Any:
        directory = settings.mappings_dir
        body = request.get_json(silent=True) or {}
        try:
            saved = designer.file_path(directory, name).read_text(encoding="utf-8")
            text = _candidate_text(saved, body)
            outcome = designer.save(directory, name, text, str(body.get("base_hash") or ""))
        except designer.DesignerError as exc:
            audit("mapping:save", name, outcome="refused", reason=exc.message)
            return jsonify({"error": exc.message, "problems": exc.details.get("problems", [])}), 409
        except designer.YAMLError as exc:
            return jsonify({"error": "not valid YAML", "problems": [designer.parse_check_error(exc)]}), 422
        audit("mapping:save", name, previous=outcome["previous"], diff=outcome["diff"][:20000])
        _loaded.cache_clear()
        return jsonify({**outcome, "note": "saved; workers read the mapping files when they start, so restart "
                                           "them for the change to apply"})

    return bp


# -- helpers -----------------------------------------------------------------------------------------------

def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def _publish(enqueue: Enqueue, event_id: int, entity: str, step: str | None) -> bool:
    """Publish, or leave the event for the sweeper when the broker does not answer."""
    try:
        enqueue(event_id, entity, step)
        return True
    except Exception as exc:
        log.warning("console: publish failed; the sweeper will enqueue the event", event_id=event_id,
                    error=type(exc).__name__)
        flash(f"Event {event_id}: the broker did not answer; the sweeper will pick the event up.", "warning")
        return False


def _ids(values: list[str]) -> list[int]:
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            if part.strip().isdigit():
                ids.append(int(part))
    return list(dict.fromkeys(ids))


def _reason() -> str:
    reason = (request.form.get("reason") or "").strip()
    if not reason:
        abort(400, description="give a reason (it is kept in the event's history and the audit log)")
    return reason[:MAX_REASON]


def _day(text: str, *, end: bool = False) -> datetime | None:
    if not text:
        return None
    day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    return day + timedelta(days=1) if end else day


def _fmt_time(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _fmt_age(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "-"
    seconds = max(0, int(((now or m.utcnow()) - value).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _pretty(value: Any) -> str:
    return dumps(value, indent=2, sort_keys=True)


def _shop_link(console: ConsoleSettings, settings: Settings, connection: str, entity: str, source_id: str) -> str:
    if console.shop_order_url and entity.startswith("order"):
        return console.shop_order_url.replace("{id}", source_id)
    resource = {"order": "orders", "order_status": "orders", "customer": "customers"}.get(entity)
    if resource is None or connection not in settings.connections:
        return ""
    return f"{settings.connections[connection].prestashop.url}/{resource}/{source_id}"


def _infor_link(console: ConsoleSettings, infor_id: str) -> str:
    if console.infor_order_url:
        return console.infor_order_url.replace("{id}", infor_id)
    return url_for("console.events", infor_id=infor_id)


def _candidate_text(saved: str, body: dict[str, Any]) -> str:
    if isinstance(body.get("text"), str):
        designer.load_document(body["text"])  # YAMLError when it does not parse
        return str(body["text"])
    operations = body.get("ops") or []
    if not isinstance(operations, list):
        raise designer.DesignerError("ops must be a list")
    return designer.apply_operations(saved, operations)


def _doc(directory: Any, name: str) -> Any:
    try:
        return designer.load_document((directory / name).read_text(encoding="utf-8"))
    except (OSError, designer.YAMLError):
        return None


class _LoadedCache:
    """The mapping folder as the loader reads it, for the designer's lists (lookup names): a few seconds old
    at most."""

    def __init__(self) -> None:
        self._value: tuple[float, Any, Any] | None = None
        self._lock = threading.Lock()

    def __call__(self, directory: Any) -> Any:
        from integration.mapping.loader import load_mappings

        with self._lock:
            if self._value and self._value[1] == directory and time.monotonic() - self._value[0] < 5:
                return self._value[2]
            try:
                config = load_mappings(directory)
            except IntegrationError:
                config = None
            self._value = (time.monotonic(), directory, config)
            return config

    def cache_clear(self) -> None:
        with self._lock:
            self._value = None


_loaded = _LoadedCache()


class _BundleCache:
    """Order bundles read from the shop for the live preview, kept a minute: every edit re-renders the same
    order without asking the shop again."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._items: dict[tuple[str, int], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, connection: str, order_id: int) -> dict[str, Any]:
        key = (connection, order_id)
        with self._lock:
            hit = self._items.get(key)
            if hit and time.monotonic() - hit[0] < BUNDLE_TTL_SECONDS:
                return hit[1]
        from integration.connectors.prestashop.bundles import fetch_order_bundle
        from integration.runtime import build_prestashop_client

        client = build_prestashop_client(self.settings.connection(connection), None, self.settings.key_prefix)
        bundle = fetch_order_bundle(client, order_id)
        with self._lock:
            self._items[key] = (time.monotonic(), bundle)
            if len(self._items) > 50:
                self._items.pop(next(iter(self._items)))
        return bundle


def _overview_data(store: Store, settings: Settings, flows: list[Flow]) -> dict[str, Any]:
    """Per connection and flow: events by status in the last hour and day, throughput, oldest active and held
    events, open dead letters; and the broker's queue depths."""
    from integration.web.metrics import broker_queue_depths

    now = m.utcnow()
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(connection: str, entity: str) -> dict[str, Any]:
        return rows.setdefault((connection, entity), {
            "connection": connection, "flow": entity, "hour": defaultdict(int), "day": defaultdict(int),
            "succeeded_hour": 0, "oldest_active": None, "oldest_held": None, "dead": 0, "held": 0})

    for connection in sorted(settings.connections):
        for flow in flows:
            row(connection, flow.entity)
    for connection, entity, status, count in store.event_counts(now - timedelta(hours=1)):
        row(connection, entity)["hour"][status] += count
    for connection, entity, status, count in store.event_counts(now - timedelta(days=1)):
        row(connection, entity)["day"][status] += count
    for connection, entity, status, count in store.event_counts():
        if status == m.HELD:
            row(connection, entity)["held"] = count
    for connection, entity, count in store.finished_counts(now - timedelta(hours=1)):
        row(connection, entity)["succeeded_hour"] = count
    for connection, entity, created in store.oldest_in(m.ACTIVE_STATUSES):
        row(connection, entity)["oldest_active"] = created
    for connection, entity, created in store.oldest_in({m.HELD}):
        row(connection, entity)["oldest_held"] = created
    for connection, entity, count in store.dead_letter_counts():
        row(connection, entity)["dead"] = count
    try:
        depths: dict[str, int] | None = broker_queue_depths(_redis(settings.redis_url), settings.key_prefix,
                                                            [f.queue for f in flows])
    except Exception:
        depths = None
    return {"rows": [rows[k] for k in sorted(rows)], "depths": depths, "now": now,
            "statuses": [s.value for s in m.EventStatus]}
