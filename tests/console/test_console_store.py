"""The store methods the console, the metrics and the alerts use, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from integration.store import models as m
from integration.store.repository import NewEvent, Store


def new_event(store: Store, source_id: str = "1", entity: str = "order", **payload: object) -> int:
    event_id, _ = store.add_event(NewEvent("default", "prestashop", entity, source_id, f"{entity}.created",
                                           f"k-{uuid.uuid4()}", {"id_order": source_id, **payload}))
    return event_id


def run(store: Store, event_id: int, steps: list[str], *, hold_at: str | None = None) -> None:
    previous = None
    for step in steps:
        started = store.start_step(event_id, step, previous)
        assert started is not None
        attempt = started[0].attempt_id
        if step == hold_at:
            error = {"type": "HeldForReview", "message": "held"}
            store.fail_step(event_id, step, error, retrying=False, attempt_id=attempt, outcome=m.StepStatus.HELD)
            store.set_status(event_id, m.HELD, error=error)
            return
        last = step == steps[-1]
        store.finish_step(event_id, step, {"after": step}, attempt_id=attempt,
                          final_status=m.SUCCEEDED if last else None, result={"orno": "1000000001"} if last else None)
        previous = step


def test_users_are_unique_and_roles_checked(store: Store) -> None:
    uid = store.add_user("ana", "$argon2id$hash", m.ROLE_OPERATOR)
    assert store.get_user("ana").id == uid == store.get_user(user_id=uid).id
    with pytest.raises(ValueError, match="already exists"):
        store.add_user("ana", "$argon2id$other", m.ROLE_VIEWER)
    with pytest.raises(ValueError, match="unknown role"):
        store.add_user("bob", "$argon2id$hash", "root")
    assert store.update_user("ana", role=m.ROLE_ADMIN, active=False, logged_in=True)
    user = store.get_user("ana")
    assert user.role == m.ROLE_ADMIN and not user.active and user.last_login_at is not None
    assert not store.update_user("nobody", role=m.ROLE_ADMIN)
    assert [u.name for u in store.list_users()] == ["ana"]


def test_the_audit_log_keeps_every_action(store: Store) -> None:
    store.audit("ana", "replay", "dead_letter:3", detail={"event_id": 9}, remote_addr="127.0.0.1")
    store.audit("bob", "login", outcome="failed")
    assert [(a.user_name, a.action, a.outcome) for a in store.audit_entries()] == [
        ("bob", "login", "failed"), ("ana", "replay", "ok")]
    assert store.audit_entries(user_name="ana")[0].detail == {"event_id": 9}


def test_release_re_runs_from_the_held_step_with_the_earlier_snapshots(store: Store) -> None:
    event_id = new_event(store)
    run(store, event_id, ["extract", "transform", "validate", "load"], hold_at="validate")
    assert store.release_held(event_id, "ana") == ("order", "validate")
    event = store.get_event(event_id)
    assert event.status == m.QUEUED and event.finished_at is None
    assert event.payload[m.REVIEW_RELEASED]["by"] == "ana" and event.payload["id_order"] == "1"
    outputs = store.step_outputs(event_id)
    assert outputs["transform"] == {"after": "transform"} and outputs["validate"] is None
    assert store.start_step(event_id, "validate", "transform")[1] == {"after": "transform"}  # runs again
    assert store.release_held(event_id, "ana") is None  # not held any more


def test_skip_held_and_discard_dead_letter_keep_the_reason(store: Store) -> None:
    held = new_event(store, "2")
    run(store, held, ["extract", "validate"], hold_at="validate")
    assert store.skip_held(held, "a test order", "ana")
    assert store.get_event(held).status == m.SKIPPED and store.get_event(held).result["skipped"] == "a test order"
    assert not store.skip_held(held, "again", "ana")
    dead = new_event(store, "3")
    dlq = store.dead_letter(dead, step="load", task_name="t", error={"message": "no"}, traceback=None)
    assert store.discard_dead_letter(dlq, "cancelled", "ana") == dead
    assert store.get_dead_letter(dlq).status == m.DLQ_DISCARDED
    assert store.get_dead_letter(dlq).details["discarded"]["reason"] == "cancelled"
    assert store.get_event(dead).status == m.DEAD  # the poller still leaves the record alone
    assert store.discard_dead_letter(dlq, "again", "ana") is None
    assert store.open_event_for("default", "order", "3") == dead


def test_read_models_for_the_overview_metrics_and_alerts(store: Store) -> None:
    ok, dead, held = new_event(store, "1"), new_event(store, "2"), new_event(store, "3")
    run(store, ok, ["extract", "load"])
    store.dead_letter(dead, step="load", task_name="t", error={"message": "no"}, traceback=None)
    run(store, held, ["extract", "validate"], hold_at="validate")
    active = new_event(store, "4")
    hour_ago = m.utcnow() - timedelta(hours=1)
    counts = {(e, s): n for _, e, s, n in store.event_counts(hour_ago)}
    assert counts == {("order", "succeeded"): 1, ("order", "dead"): 1, ("order", "held"): 1, ("order", "received"): 1}
    assert store.finished_counts(hour_ago) == [("default", "order", 1)]
    assert [(c, e) for c, e, _ in store.oldest_in(m.ACTIVE_STATUSES)] == [("default", "order")]
    assert store.last_finished()[0][2] >= hour_ago
    assert store.dead_letter_counts() == [("default", "order", 1)]
    assert [d.event_id for d in store.dead_letters_after(0)] == [dead]
    assert [d.event_id for d in store.dead_letters_of(dead)] == [dead] and store.dead_letters_of(ok) == []
    assert [e.id for e in store.held_events()] == [held]
    assert store.held_events(older_than=hour_ago) == []
    attempts = store.attempts_after(0)
    assert [(a[1], a[2], a[3]) for a in attempts] == [
        ("order", "extract", "done"), ("order", "load", "done"), ("order", "extract", "done"),
        ("order", "validate", "held")]
    assert store.attempts_after(attempts[-1][0] + 1) == []
    assert active


def test_search_events_by_infor_id_customer_and_dates(store: Store) -> None:
    ok = new_event(store, "10", id_customer=77)
    run(store, ok, ["extract", "load"])
    store.finalize_binding("default", "order", "10", "1000000010")
    status_event = new_event(store, "10", entity="order_status")
    other = new_event(store, "11")
    assert {e.id for e in store.search_events(infor_id="1000000010")} == {ok, status_event}
    assert {e.id for e in store.search_events(infor_id="1000000001")} == {ok}  # named in the result
    assert [e.id for e in store.search_events(customer="77")] == [ok]
    assert [e.id for e in store.search_events(customer="7_")] == []  # LIKE wildcards are literal
    assert [e.id for e in store.search_events(source_id="11")] == [other]
    assert store.search_events(since=m.utcnow() + timedelta(minutes=1)) == []
    assert [e.id for e in store.search_events(limit=1, before_id=other)] == [status_event]
    assert store.bindings_of("default", "10") == [("order", "1000000010")]
