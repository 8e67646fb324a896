"""The console's customer 360 page through Flask's test client, on both sandboxes over HTTP: a viewer finds a
customer by e-mail or id and sees its shop record, its M3 binding with the compared fields, its orders and its
history linked to the event pages; an unknown customer is a clear message."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from integration.config import PROJECT_ROOT
from integration.store.repository import NewEvent
from tests.console.test_console_app import USERS, Console, password_hash
from tests.integration.conftest import PS_KEY


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Path]]:
    from psinfor_devkit.sandbox.infor import start_infor_sandbox
    from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox

    infor = start_infor_sandbox(port=0)
    ps = start_prestashop_sandbox(port=0, key=PS_KEY)
    ionapi = infor.write_ionapi(tmp_path_factory.mktemp("customer-page") / "sandbox.ionapi")
    yield ps, infor, ionapi
    ps.stop()
    infor.stop()


@pytest.fixture
def console(sandboxes: tuple[Any, Any, Path], sqlite_url: str, redis_url: str, tmp_path: Path) -> Console:
    ps, _, ionapi = sandboxes
    shutil.copytree(PROJECT_ROOT / "mappings", tmp_path / "mappings")
    c = Console({"DATABASE_URL": sqlite_url, "REDIS_URL": redis_url, "MAPPINGS_DIR": str(tmp_path / "mappings"),
                 "PSINFOR_BROKER_PREFIX": f"customer-page-{uuid.uuid4().hex[:8]}:", "PS_KEY": PS_KEY,
                 "PS_URL": f"{ps.url}/api", "IONAPI_FILE": str(ionapi)})
    for name in USERS:
        c.store.add_user(name, password_hash(name), name)
    return c


def register(ps: Any, email: str) -> int:
    response = requests.post(f"{ps.url}/_sandbox/customers", json={
        "firstname": "Rose", "lastname": "Lambert", "email": email,
        "address": {"address1": "5 cours Mirabeau", "postcode": "13100", "city": "Aix-en-Provence"}}, timeout=10)
    response.raise_for_status()
    return int(response.json()["id_customer"])


def test_a_viewer_sees_one_customer_with_its_m3_side_and_history(console: Console, sandboxes: Any) -> None:
    email = f"rose.{uuid.uuid4().hex[:6]}@example.fr"
    customer_id = register(sandboxes[0], email)
    event_id, _ = console.store.add_event(NewEvent("default", "prestashop", "customer", str(customer_id),
                                                   "customer.created", f"k-{uuid.uuid4()}", {"id": customer_id}))
    console.login("viewer")
    assert 'href="/console/customers"' in console.client.get("/console/overview").text

    page = console.client.get("/console/customers", query_string={"q": email})
    assert page.status_code == 200, page.text
    assert email in page.text and "not in M3 yet" in page.text
    assert f'href="/console/events/{event_id}"' in page.text  # the history links to the event pages
    assert 'id="customer-fields"' not in page.text  # nothing to compare before it is bound

    console.store.save_binding("default", "customer", str(customer_id), "PS9999001", {"how": "created"})
    page = console.client.get("/console/customers", query_string={"q": str(customer_id)})
    assert page.status_code == 200 and "PS9999001 (created" in page.text
    # M3 has no such customer here: every compared field is marked as differing, the shop's values shown.
    assert 'data-field="MAIL" data-differs="yes"' in page.text and email in page.text


def test_an_unknown_customer_is_a_clear_message(console: Console) -> None:
    console.login("viewer")
    page = console.client.get("/console/customers", query_string={"q": "nobody@example.org"})
    assert page.status_code == 404
    assert "no shop customer with the e-mail nobody@example.org" in page.text
    assert console.client.get("/console/customers").status_code == 200  # the empty search form


def test_the_page_needs_a_login(console: Console) -> None:
    response = console.client.get("/console/customers?q=1")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]
