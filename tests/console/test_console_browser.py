"""The console in a real headless browser, against the real pipeline: a shop order M3 refuses becomes a dead
letter, is replayed from the console once the item exists in Infor, and succeeds; a held order is released;
the mapping designer connects a field by drag and drop, previews it live on a real shop order and saves the
YAML; a viewer is refused a replay; a POST without its CSRF token is refused. One browser for the module.

Screenshots of each page go to var/screenshots/, or to docs/console/ (linked from the README) with
``make screenshots``.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from integration.mapping.loader import load_mappings
from integration.store import models as m
from integration.store.repository import NewEvent
from tests.console.conftest import PASSWORDS, Stack, screenshot
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration
WAIT = 60


def wait(driver: Any, timeout: float = WAIT) -> WebDriverWait:
    return WebDriverWait(driver, timeout)


def login(driver: Any, stack: Stack, name: str) -> None:
    """Log in as ``name`` (logging the current user out first)."""
    driver.get(f"{stack.url}/console/overview")
    current = driver.find_elements(By.ID, "whoami")
    if current and current[0].text.split()[0] == name:
        return
    if current:
        driver.find_element(By.CSS_SELECTOR, "form.who button").click()
        wait(driver).until(ec.presence_of_element_located((By.ID, "login-form")))
        driver.get(f"{stack.url}/console/overview")
    wait(driver).until(ec.presence_of_element_located((By.ID, "login-form")))
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORDS[name])
    driver.find_element(By.ID, "login-submit").click()
    wait(driver).until(ec.text_to_be_present_in_element((By.ID, "whoami"), name))


def post_from_page(driver: Any, path: str, form: dict[str, str], *, with_csrf: bool) -> int:
    """A POST sent by the logged-in page itself (its session cookie), with or without the page's CSRF token."""
    return int(driver.execute_async_script("""
        const [path, form, withCsrf, done] = arguments;
        const body = new URLSearchParams(form);
        if (withCsrf) body.set("csrf_token", document.querySelector('meta[name="csrf-token"]').content);
        fetch(path, {method: "POST", body: body, credentials: "same-origin", redirect: "manual"})
          .then((r) => done(r.status), () => done(-1));
    """, path, form, with_csrf))


def dead_letter_for(stack: Stack, order_id: int) -> m.DeadLetter:
    def found() -> m.DeadLetter | None:
        return next((d for d in stack.store.list_dead_letters(None, limit=1000) if d.source_id == str(order_id)),
                    None)

    return wait_until(found, timeout=WAIT)


def final_event(stack: Stack, order_id: int) -> m.SyncEvent:
    def final() -> m.SyncEvent | None:
        events = [e for e in stack.store.search_events(entity="order", source_id=str(order_id))]
        return events[0] if events and events[0].status in m.FINAL_STATUSES else None

    return wait_until(final, timeout=WAIT)


def test_log_in_and_see_the_overview(browser: Any, stack: Stack) -> None:
    browser.get(f"{stack.url}/console/")
    wait(browser).until(ec.presence_of_element_located((By.ID, "login-form")))
    assert "/console/login" in browser.current_url
    browser.find_element(By.ID, "username").send_keys("admin")
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.ID, "login-submit").click()
    assert "Wrong user name or password" in wait(browser).until(
        ec.presence_of_element_located((By.ID, "login-error"))).text
    screenshot(browser, "login", height=700)
    login(browser, stack, "admin")
    assert browser.find_element(By.ID, "overview-table").find_elements(By.CSS_SELECTOR, "tr[data-flow='order']")
    cookie = browser.get_cookie("psinfor_console")
    assert cookie and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"


def test_a_dead_letter_from_a_rejected_order_is_replayed_and_succeeds(browser: Any, stack: Stack) -> None:
    order_id = stack.place(lines=[{"product_id": 10, "combination_id": 0, "quantity": 1}])  # LEGACY-LAMP
    letter = dead_letter_for(stack, order_id)
    assert "LEGACY-LAMP" in letter.message
    login(browser, stack, "operator")
    browser.get(f"{stack.url}/console/overview")
    wait(browser).until(lambda d: d.find_element(By.CSS_SELECTOR, "tr[data-flow='order'] [data-dead]")
                        .get_attribute("data-dead") == "1")
    browser.get(f"{stack.url}/console/dead-letters")
    row = browser.find_element(By.ID, f"dl-{letter.id}")
    assert "LEGACY-LAMP" in row.text and "Resolution:" in row.text
    screenshot(browser, "dead-letters")

    # The item is created in Infor (as the resolution hint says), then the operator replays.
    requests.post(f"{stack.infor.url}/_sandbox/items", json={"itno": "LEGACY-LAMP", "ITDS": "Desk lamp",
                                                             "price": "39"}, timeout=10).raise_for_status()
    row.find_element(By.CSS_SELECTOR, "button.replay-one").click()
    outcome = wait(browser).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f".outcome.final[data-event='{letter.event_id}']")))
    assert outcome.get_attribute("data-status") == m.SUCCEEDED, outcome.text
    assert "Infor order" in outcome.text
    screenshot(browser, "dead-letter-replayed")
    assert stack.store.get_dead_letter(letter.id).status == m.DLQ_REPLAYED
    assert stack.store.get_binding("default", "order", str(order_id))
    assert any(a.action == "replay" and a.user_name == "operator" for a in stack.store.audit_entries())

    # the record's history: the refused load and the one that succeeded, with the link to the other side
    browser.get(f"{stack.url}/console/events/{letter.event_id}")
    timeline = browser.find_element(By.ID, "timeline").text
    assert "failed" in timeline and "LEGACY-LAMP" in timeline and "done" in timeline
    assert browser.find_elements(By.CSS_SELECTOR, "a.infor-link")
    screenshot(browser, "event")
    browser.get(f"{stack.url}/console/events?flow=order")
    assert browser.find_element(By.CSS_SELECTOR, f"tr[data-event='{letter.event_id}']")
    screenshot(browser, "events")


def test_a_held_order_is_released_and_succeeds(browser: Any, stack: Stack) -> None:
    order_id = stack.place(customer_id=1, lines=[{"product_id": 3, "combination_id": 0, "quantity": 250}])
    event = final_event(stack, order_id)
    assert event.status == m.HELD, event.last_error
    login(browser, stack, "operator")
    browser.get(f"{stack.url}/console/held")
    row = browser.find_element(By.CSS_SELECTOR, f"#held-events tr[data-event='{event.id}']")
    assert "held for review" in row.text
    screenshot(browser, "held")
    row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    browser.find_element(By.ID, "release-selected").click()
    outcome = wait(browser).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f".outcome.final[data-event='{event.id}']")))
    assert outcome.get_attribute("data-status") == m.SUCCEEDED, outcome.text
    assert stack.store.get_event(event.id).payload[m.REVIEW_RELEASED]["by"] == "operator"


def test_the_designer_connects_a_field_by_drag_and_drop_previews_and_saves(browser: Any, stack: Stack) -> None:
    order_id = stack.place(send_webhook=False)
    login(browser, stack, "admin")
    browser.get(f"{stack.url}/console/mappings")
    assert browser.find_element(By.CSS_SELECTOR, ".flow[data-flow='order']").text.count("→") == 4
    screenshot(browser, "mappings")
    browser.get(f"{stack.url}/console/mappings/orders.yaml")
    field = browser.find_element(By.ID, "preview-order")
    field.clear()
    field.send_keys(str(order_id))
    browser.find_element(By.ID, "preview-refresh").click()
    cell = (By.CSS_SELECTOR, "[data-preview='AddBatchHead.YREF'][data-index='1']")
    before = wait(browser).until(ec.presence_of_element_located(cell)).text
    reference = wait(browser).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "[data-preview='AddBatchHead.OREF']"))).text
    assert before and reference and before != reference  # YREF is the invoice name, for now

    browser.find_element(By.ID, "source-filter").send_keys("order.reference")
    source = wait(browser).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#sources .src[data-path='order.reference']")))
    target = browser.find_element(By.CSS_SELECTOR, "#targets .tgt[data-field='YREF']")
    browser.execute_script("document.getElementById('designer').scrollIntoView()")
    ActionChains(browser).drag_and_drop(source, target).perform()
    wait(browser).until(lambda d: d.find_element(*cell).text == reference)
    assert browser.find_element(By.CSS_SELECTOR, "#wires path[data-wire='YREF']")
    assert "check ok" in browser.find_element(By.ID, "check-status").get_attribute("class")
    screenshot(browser, "designer")

    wait(browser).until(ec.element_to_be_clickable((By.ID, "review-save"))).click()
    diff = browser.find_element(By.ID, "diff").text
    assert "+    YREF: {from: order.reference, truncate: true}" in diff
    assert "-    YREF: {from: order.invoice_address.name, truncate: true}" in diff
    screenshot(browser, "designer-diff")
    browser.find_element(By.ID, "confirm-save").click()
    assert "Saved orders.yaml" in wait(browser).until(ec.visibility_of_element_located((By.ID, "save-result"))).text

    saved = (stack.mappings / "orders.yaml").read_text()
    assert "    YREF: {from: order.reference, truncate: true}\n" in saved
    assert saved.startswith("# How a PrestaShop order becomes an M3 batch order")  # comments kept
    assert "PHN2: {from: address.phone}      # E.164" in saved
    assert load_mappings(stack.mappings).orders.head.fields["YREF"].source == "order.reference"  # still valid
    kept = list((stack.mappings / ".history").glob("orders.*.yaml"))
    assert len(kept) == 1 and "order.invoice_address.name" in kept[0].read_text()
    assert any(a.action == "mapping:save" for a in stack.store.audit_entries())


def test_the_designer_proposes_a_suggested_field_and_uses_it_in_one_click(browser: Any, stack: Stack) -> None:
    login(browser, stack, "viewer")  # suggestions and unsaved edits need no admin; saving would
    browser.get(f"{stack.url}/console/mappings/orders.yaml")
    browser.find_element(By.ID, "target-filter").send_keys("NREF")
    hint = "#targets .tgt[data-field='NREF'] .suggestion"  # the list is redrawn often: read it in one go
    wait(browser).until(lambda d: str(d.execute_script(
        "const n = document.querySelector(arguments[0]); return n && n.dataset.suggested + '|' + n.textContent",
        hint)).startswith("order.reference|suggested: order.reference ("))
    browser.find_element(By.ID, "source-filter").send_keys("order.reference")  # the source shown: a dashed wire
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#wires path.proposed"))
    browser.execute_script("document.querySelector(arguments[0]).click()", hint + " .use-suggestion")
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#wires path[data-wire='NREF']"))
    wait(browser).until(lambda d: "NREF: {from: order.reference}" in d.find_element(
        By.ID, "candidate-text").get_attribute("textContent"))
    assert not browser.find_elements(By.CSS_SELECTOR, "#targets .tgt[data-field='NREF'] .suggestion")


def _open_dead_letter(stack: Stack) -> int:
    event_id, _ = stack.store.add_event(NewEvent("default", "prestashop", "order", "999999", "order.created",
                                                 f"console-test-{len(stack.store.audit_entries())}", {}))
    return stack.store.dead_letter(event_id, step="load", task_name="psinfor.order.load",
                                   error={"type": "M3Error", "message": "refused"}, traceback=None)


def test_a_viewer_is_refused_a_replay(browser: Any, stack: Stack) -> None:
    dlq_id = _open_dead_letter(stack)
    login(browser, stack, "viewer")
    browser.get(f"{stack.url}/console/dead-letters")
    assert browser.find_element(By.ID, f"dl-{dlq_id}")
    assert not browser.find_elements(By.CSS_SELECTOR, "button.replay-one")  # no button for a viewer ...
    assert post_from_page(browser, "/console/dead-letters/replay", {"ids": str(dlq_id)}, with_csrf=True) == 403
    assert stack.store.get_dead_letter(dlq_id).status == m.DLQ_OPEN  # ... and the server refuses it anyway
    refused = stack.store.audit_entries(user_name="viewer")[0]
    assert refused.outcome == "refused" and refused.action == "refused:console.replay"


def test_a_post_without_its_csrf_token_is_refused(browser: Any, stack: Stack) -> None:
    dlq_id = _open_dead_letter(stack)
    login(browser, stack, "operator")
    browser.get(f"{stack.url}/console/dead-letters")
    assert post_from_page(browser, "/console/dead-letters/replay", {"ids": str(dlq_id)}, with_csrf=False) == 400
    assert stack.store.get_dead_letter(dlq_id).status == m.DLQ_OPEN
    assert stack.store.audit_entries(action="refused:csrf")
    browser.get(f"{stack.url}/console/audit")
    screenshot(browser, "audit")
    browser.get(f"{stack.url}/console/overview")
    screenshot(browser, "overview")
