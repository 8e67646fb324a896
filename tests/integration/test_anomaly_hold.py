"""Anomaly detection in the order flow, end to end: signed webhooks from the PrestaShop sandbox, an embedded
worker on the live Redis, the Infor sandbox over HTTP. A customer's usual orders go through; an order twenty
times their usual value is held with the ``order_value`` finding, released by an operator from the CLI and
then synced once; a held order skipped from the CLI ends skipped with the reason.

The shop sandbox stamps every order "now", so a customer's usual orders arrive within seconds: the velocity
detector (three orders of one customer within an hour) is relaxed in this test's copy of the mappings; it is
covered by the unit tests and ``make eval``.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from integration.cli import main
from integration.store import models as m
from tests.integration.conftest import Systems
from tests.integration.test_order_flow import Pipeline

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = 2
USUAL = [{"product_id": 3, "combination_id": 0, "quantity": 1}]
TWENTY_TIMES = [{"product_id": 3, "combination_id": 0, "quantity": 20}]


def _mappings(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", target)
    path = target / "validation.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["detectors"]["velocity"] = {"max_customer_orders": 100}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return target


@pytest.fixture
def pipeline(tmp_path: Path, make_settings: Any, runtime_for: Any, celery_app: Any, clean_broker: Any,
             worker: Any) -> Iterator[Pipeline]:
    settings = functools.partial(make_settings, MAPPINGS_DIR=str(_mappings(tmp_path)))
    running = Systems(tmp_path, settings, runtime_for)
    yield Pipeline(running.ps, running.infor, running.receiver, running.rt)
    running.stop()


def _usual_orders(pipeline: Pipeline, count: int = 6) -> None:
    """The customer's history: ``count`` ordinary orders, every one synced (clean orders are not held)."""
    for order_id in pipeline.place(count=count, customer_id=CUSTOMER, lines=USUAL):
        [event] = pipeline.wait_final(order_id)
        assert event.status == m.SUCCEEDED, event.last_error


def _held(pipeline: Pipeline, lines: list[dict[str, int]] = TWENTY_TIMES) -> tuple[int, m.SyncEvent]:
    [order_id] = pipeline.place(customer_id=CUSTOMER, lines=lines)
    [event] = pipeline.wait_final(order_id)
    assert event.status == m.HELD, (event.status, event.last_error)
    assert event.current_step == "validate"
    return order_id, event


def test_an_order_twenty_times_the_usual_is_held_released_and_synced_once(pipeline: Pipeline):
    _usual_orders(pipeline)
    assert len(pipeline.infor_orders()) == 6
    order_id, event = _held(pipeline)
    findings = event.last_error["details"]["findings"]
    [value] = [f for f in findings if f["detector"] == "order_value"]
    assert value["score"] >= 1 and value["evidence"]["history"] == 6
    assert float(value["evidence"]["ratio"]) == pytest.approx(20, rel=0.05)
    assert "released" not in str(event.payload)
    assert len(pipeline.infor_orders()) == 6  # nothing reached M3
    assert pipeline.store.get_binding("default", "order", str(order_id)) is None

    listed = CliRunner().invoke(main, ["held", "list"])
    assert listed.exit_code == 0 and str(event.id) in listed.output and "order_value" in listed.output
    released = CliRunner().invoke(main, ["events", "release", str(event.id), "--by", "ana"])
    assert released.exit_code == 0, released.output
    [done] = pipeline.wait_final(order_id)
    assert done.id == event.id and done.status == m.SUCCEEDED, done.last_error
    assert done.payload[m.REVIEW_RELEASED]["by"] == "ana"
    cuors = [o["CUOR"] for o in pipeline.infor_orders()]
    assert len(cuors) == 7 and cuors.count(done.result["cuor"]) == 1  # synced once
    assert pipeline.store.get_binding("default", "order", str(order_id)) == done.result["orno"]
    again = CliRunner().invoke(main, ["events", "release", str(event.id)])
    assert again.exit_code != 0 and "not held" in again.output
    assert [a.action for a in pipeline.store.audit_entries(user_name="ana")] == ["release"]

    # Released, it is part of the customer's history: the next such order is compared with it too.
    from integration.ai.history import context_for

    rt = pipeline.rt
    outputs = pipeline.store.step_outputs(done.id)
    # validate hands load only what load reads: the canonical order stays in transform's snapshot alone.
    assert "canonical" in outputs["transform"] and "canonical" not in outputs["validate"]  # type: ignore[operator]
    assert outputs["validate"]["calls"] == outputs["transform"]["calls"]  # type: ignore[index]
    order = rt.mapping.ps_order_to_canonical(outputs["extract"]["bundle"])  # type: ignore[index]
    assert len(context_for(rt, "default", order, done.result["cuno"]).history) == 6  # itself excluded


def test_a_held_order_skipped_from_the_cli_ends_skipped_with_the_reason(pipeline: Pipeline):
    _usual_orders(pipeline)
    order_id, event = _held(pipeline)
    missing = CliRunner().invoke(main, ["events", "skip", str(event.id)])
    assert missing.exit_code != 0 and "--reason" in missing.output
    skipped = CliRunner().invoke(main, ["events", "skip", str(event.id), "--reason", "a typo, the customer "
                                        "ordered again", "--by", "ana"])
    assert skipped.exit_code == 0, skipped.output
    [done] = pipeline.wait_final(order_id)
    assert done.status == m.SKIPPED and done.result["skipped"] == "a typo, the customer ordered again"
    assert done.result["by"] == "ana"
    assert len(pipeline.infor_orders()) == 6  # never reached M3
    assert CliRunner().invoke(main, ["events", "release", str(event.id)]).exit_code != 0


def test_with_the_shipped_thresholds_a_third_order_within_the_hour_is_held_for_velocity(
        tmp_path: Path, make_settings: Any, runtime_for: Any, celery_app: Any, clean_broker: Any, worker: Any):
    """The shipped ``detectors`` (the repository's mappings, not the sandboxes' relaxed copy): two orders of a
    customer pass, the third within the velocity window is held with the ``velocity`` finding naming the
    earlier two."""
    systems = Systems(tmp_path, functools.partial(make_settings, MAPPINGS_DIR=str(ROOT / "mappings")), runtime_for)
    try:
        pipeline = Pipeline(systems.ps, systems.infor, systems.receiver, systems.rt)
        first = [pipeline.place(customer_id=CUSTOMER, lines=USUAL)[0] for _ in range(2)]
        for order_id in first:
            [event] = pipeline.wait_final(order_id)
            assert event.status == m.SUCCEEDED, event.last_error
        _, event = _held(pipeline, USUAL)
        [velocity] = event.last_error["details"]["findings"]
        assert velocity["detector"] == "velocity" and velocity["evidence"]["earlier_orders"] == sorted(first)
    finally:
        systems.stop()
