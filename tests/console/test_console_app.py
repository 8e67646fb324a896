"""The console's server side through Flask's test client: switched off without a secret, logins (rate limit,
cookies, sessions that end with a password change), CSRF on every form, roles, the audit log, the held and
dead-letter actions, secrets masked, and the designer's check and save endpoints."""

from __future__ import annotations

import re
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from integration.config import PROJECT_ROOT, load_settings
from integration.errors import ConfigurationError
from integration.store import models as m
from integration.store.repository import NewEvent, Store
from integration.web.app import create_app
from integration.web.console.auth import hash_password
from tests.console.conftest import CONSOLE_SECRET, PASSWORDS

USERS = PASSWORDS


@pytest.fixture
def env(sqlite_url: str, redis_url: str, tmp_path: Path) -> dict[str, str]:
    import shutil

    shutil.copytree(PROJECT_ROOT / "mappings", tmp_path / "mappings")
    return {"DATABASE_URL": sqlite_url, "REDIS_URL": redis_url, "MAPPINGS_DIR": str(tmp_path / "mappings"),
            "PSINFOR_BROKER_PREFIX": f"console-app-{uuid.uuid4().hex[:8]}:", "PS_KEY": "x" * 32,
            "PS_URL": "http://127.0.0.1:9/api"}


class Console:
    def __init__(self, env: dict[str, str], console_env: dict[str, str] | None = None):
        import os

        self.settings = load_settings(env)
        self.store = Store(self.settings.database_url)
        self.published: list[tuple[int, str, str | None]] = []
        saved = dict(os.environ)
        os.environ.update({"PSINFOR_CONSOLE_SECRET_KEY": CONSOLE_SECRET, **(console_env or {})})
        try:
            self.app = create_app(self.settings, enqueue=lambda *a: self.published.append(a))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.client = self.app.test_client()

    def token(self) -> str:
        page = self.client.get("/console/login").text
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]

    def login(self, name: str, password: str | None = None) -> Any:
        return self.client.post("/console/login", data={"username": name, "password": password or USERS[name],
                                                        "csrf_token": self.token()})

    def post(self, path: str, **form: Any) -> Any:
        token = re.search(r'name="csrf-token" content="([^"]+)"',
                          self.client.get("/console/overview").text).group(1)  # type: ignore[union-attr]
        return self.client.post(path, data={**form, "csrf_token": token})

    def api(self, path: str, body: dict[str, Any]) -> Any:
        token = re.search(r'name="csrf-token" content="([^"]+)"',
                          self.client.get("/console/overview").text).group(1)  # type: ignore[union-attr]
        return self.client.post(path, json=body, headers={"X-CSRFToken": token})


@cache
def password_hash(name: str) -> str:
    return hash_password(USERS[name])  # argon2 is slow on purpose: hash each test password once


@pytest.fixture
def console(env: dict[str, str]) -> Console:
    c = Console(env)
    for name in USERS:
        c.store.add_user(name, password_hash(name), name)
    return c


def dead_letter(store: Store, source_id: str = "7", payload: dict[str, Any] | None = None) -> tuple[int, int]:
    event_id, _ = store.add_event(NewEvent("default", "prestashop", "order", source_id, "order.created",
                                           f"k-{uuid.uuid4()}", payload or {"id_order": int(source_id)}))
    dlq = store.dead_letter(event_id, step="load", task_name="psinfor.order.load",
                            error={"type": "M3Error", "message": "refused", "resolution": "fix it"}, traceback=None)
    return event_id, dlq


def held_event(store: Store, source_id: str = "8") -> int:
    event_id, _ = store.add_event(NewEvent("default", "prestashop", "order", source_id, "order.created",
                                           f"k-{uuid.uuid4()}", {"id_order": int(source_id)}))
    for step in ("extract", "transform", "validate"):
        started = store.start_step(event_id, step, {"transform": "extract", "validate": "transform"}.get(step))
        assert started is not None
        if step != "validate":
            store.finish_step(event_id, step, {"from": step}, attempt_id=started[0].attempt_id)
        else:
            error = {"type": "HeldForReview", "message": "held for review: 250 mugs", "details": {
                "anomalies": [{"rule": "max_line_quantity", "message": "250 > 200"}]}}
            store.fail_step(event_id, step, error, retrying=False, attempt_id=started[0].attempt_id,
                            outcome=m.StepStatus.HELD)
            store.set_status(event_id, m.HELD, error=error)
    return event_id


def test_the_console_is_off_without_a_secret_key(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PSINFOR_CONSOLE_SECRET_KEY", raising=False)
    app = create_app(load_settings(env), enqueue=lambda *a: None)
    assert app.test_client().get("/console/login").status_code == 404
    assert app.test_client().get("/healthz").status_code == 200


def test_a_short_secret_key_is_refused(env: dict[str, str]) -> None:
    from integration.web.console.settings import ConsoleSettings

    with pytest.raises(ConfigurationError, match="PSINFOR_CONSOLE_SECRET_KEY is shorter"):
        ConsoleSettings.from_env({"PSINFOR_CONSOLE_SECRET_KEY": "short"})


def test_pages_need_a_login_and_the_session_cookie_is_locked_down(console: Console) -> None:
    response = console.client.get("/console/events")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
    response = console.login("viewer")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/overview")
    cookie = response.headers["Set-Cookie"]
    assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/console"))
    page = console.client.get("/console/overview")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers
    assert console.store.audit_entries(user_name="viewer")[0].action == "login"


def test_login_goes_back_only_inside_the_console(console: Console) -> None:
    response = console.client.post("/console/login", data={
        "username": "viewer", "password": USERS["viewer"], "csrf_token": console.token(), "next": "https://evil"})
    assert response.headers["Location"].endswith("/console/overview")


def test_logins_are_rate_limited(console: Console) -> None:
    for _ in range(5):
        assert console.login("admin", "wrong password!").status_code == 401
    assert console.login("admin").status_code == 429  # even the right password, for the window
    outcomes = [a.outcome for a in console.store.audit_entries(user_name="admin")]
    assert outcomes.count("failed") == 5 and outcomes[0] == "limited"


def test_a_disabled_user_or_a_changed_password_ends_the_session(console: Console) -> None:
    console.login("operator")
    assert console.client.get("/console/events").status_code == 200
    console.store.update_user("operator", password_hash=hash_password("another password 1"))
    assert console.client.get("/console/events").status_code == 302
    console.store.update_user("operator", active=False)
    assert console.login("operator", "another password 1").status_code == 401


def test_every_post_needs_the_csrf_token(console: Console) -> None:
    _, dlq = dead_letter(console.store)
    console.login("operator")
    assert console.client.post("/console/dead-letters/replay", data={"ids": str(dlq)}).status_code == 400
    assert console.client.post("/console/logout").status_code == 400
    assert console.client.post("/console/login", data={"username": "admin", "password": USERS["admin"]}
                               ).status_code == 400
    assert console.store.get_dead_letter(dlq).status == m.DLQ_OPEN and console.published == []
    assert console.post("/console/dead-letters/replay", ids=str(dlq)).status_code == 302
    assert console.store.get_dead_letter(dlq).status == m.DLQ_REPLAYED


@pytest.mark.parametrize("path", ["/console/dead-letters/replay", "/console/dead-letters/discard",
                                  "/console/held/release", "/console/held/skip"])
def test_a_viewer_may_not_act(console: Console, path: str) -> None:
    console.login("viewer")
    assert console.post(path, ids="1", reason="no").status_code == 403
    assert console.store.audit_entries(user_name="viewer")[0].outcome == "refused"


def test_replay_publishes_from_the_start_and_is_audited(console: Console) -> None:
    event_id, dlq = dead_letter(console.store)
    console.login("operator")
    response = console.post("/console/dead-letters/replay", ids=str(dlq))
    assert f"replayed={event_id}" in response.headers["Location"]
    assert console.published == [(event_id, "order", None)]
    page = console.client.get(response.headers["Location"]).text
    assert f'data-event="{event_id}"' in page and 'hx-get="/console/events/' in page  # polls for the outcome
    entry = console.store.audit_entries(action="replay")[0]
    assert entry.user_name == "operator" and entry.detail["event_id"] == event_id


def test_discard_needs_a_reason_and_keeps_it(console: Console) -> None:
    event_id, dlq = dead_letter(console.store)
    console.login("operator")
    assert console.post("/console/dead-letters/discard", ids=str(dlq)).status_code == 400
    assert console.post("/console/dead-letters/discard", ids=str(dlq), reason="cancelled by phone").status_code == 302
    assert console.store.get_dead_letter(dlq).status == m.DLQ_DISCARDED
    assert console.store.get_event(event_id).result == {"discarded": "cancelled by phone", "by": "operator",
                                                        "dead_letter": dlq}
    assert "cancelled by phone" in console.client.get("/console/dead-letters?status=discarded").text


def test_release_and_skip_of_held_events(console: Console) -> None:
    released, skipped = held_event(console.store, "8"), held_event(console.store, "9")
    console.login("operator")
    page = console.client.get("/console/held").text
    assert "250 mugs" in page and "max_line_quantity" in page
    console.post("/console/held/release", ids=str(released))
    assert console.published == [(released, "order", "validate")]
    event = console.store.get_event(released)
    assert event.status == m.QUEUED and event.payload[m.REVIEW_RELEASED]["by"] == "operator"
    console.post("/console/held/skip", ids=str(skipped), reason="a test order")
    event = console.store.get_event(skipped)
    assert event.status == m.SKIPPED and event.result["skipped"] == "a test order"
    assert [a.action for a in console.store.audit_entries()][:2] == ["skip", "release"]


def test_event_pages_filter_link_and_mask_secrets(console: Console) -> None:
    event_id, _ = dead_letter(console.store, "41", {"id_order": 41, "api_password": "hunter2-secret"})
    console.store.finalize_binding("default", "order", "41", "1000000041")
    console.login("viewer")
    page = console.client.get(f"/console/events/{event_id}").text
    assert "hunter2-secret" not in page and "[scrubbed]" in page
    assert "http://127.0.0.1:9/api/orders/41" in page and "1000000041" in page
    assert f'data-event="{event_id}"' in console.client.get("/console/events?infor_id=1000000041").text
    assert f'data-event="{event_id}"' in console.client.get("/console/events?status=dead&shop_id=41").text
    assert f'data-event="{event_id}"' not in console.client.get("/console/events?status=succeeded").text
    assert console.client.get("/console/events?since=yesterday").status_code == 400


def test_overview_and_its_refreshing_panel(console: Console) -> None:
    dead_letter(console.store)
    console.login("viewer")
    page = console.client.get("/console/overview").text
    assert 'hx-trigger="every 5s"' in page and 'data-dead="1"' in page
    assert console.client.get("/console/overview/panel").status_code == 200


def test_designer_checks_and_only_an_admin_saves(console: Console, env: dict[str, str]) -> None:
    path = Path(env["MAPPINGS_DIR"]) / "orders.yaml"
    original = path.read_text()
    op = {"map": "infor.AddBatchHead", "field": "YREF", "spec": {"from": "order.referenc"}}
    console.login("operator")
    checked = console.api("/console/mappings/orders.yaml/check", {"ops": [op]}).json
    assert checked["problems"][0]["key"] == "infor.AddBatchHead.YREF.from"
    good = {**op, "spec": {"from": "order.reference"}}
    checked = console.api("/console/mappings/orders.yaml/check", {"ops": [good]}).json
    assert checked["problems"] == [] and "+    YREF: {from: order.reference}" in checked["diff"]
    body = {"ops": [good], "base_hash": checked["base_hash"]}
    assert console.api("/console/mappings/orders.yaml/save", body).status_code == 403
    assert path.read_text() == original

    console.client.post("/console/logout", data={"csrf_token": console.token()})
    console.login("admin")
    assert console.api("/console/mappings/orders.yaml/save", {**body, "ops": [op]}).status_code == 409  # invalid
    saved = console.api("/console/mappings/orders.yaml/save", body)
    assert saved.status_code == 200 and saved.json["previous"].startswith(".history/orders.")
    assert "YREF: {from: order.reference}" in path.read_text()
    assert console.api("/console/mappings/orders.yaml/save", body).status_code == 409  # stale base
    assert console.store.audit_entries(action="mapping:save")[0].outcome == "refused"


def test_designer_edits_a_plain_yaml_file_as_text(console: Console, env: dict[str, str]) -> None:
    console.login("admin")
    page = console.client.get("/console/mappings/lookups.yaml").text
    assert 'id="yaml-text"' in page
    text = (Path(env["MAPPINGS_DIR"]) / "lookups.yaml").read_text()
    broken = console.api("/console/mappings/lookups.yaml/check", {"text": text + "\n  : [\n"}).json
    assert "not valid YAML" in broken["problems"][0]["problem"]
    assert console.client.get("/console/mappings/secrets.yaml").status_code == 404
