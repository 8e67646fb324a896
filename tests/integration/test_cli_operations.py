"""Operator commands tell the truth: what could not be published is an error (exit 69) and nothing is recorded as
sent; unknown dead letters and connections are errors; ``events list`` filters by a fixed status and by order;
``resync order`` names an order already in M3 instead of claiming to send it, and ``--force`` re-sends only
what is not bound."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from integration.cli import main
from integration.store import models as m
from integration.store.repository import NewEvent


@pytest.fixture
def ops(make_settings, runtime_for, celery_app, clean_broker):
    settings = make_settings()
    rt = runtime_for(settings)
    return CliRunner(), rt.store, clean_broker


def test_resync_with_the_broker_down_says_so_and_exits_non_zero(ops, db_url):
    # A process of its own, as an operator runs it: the broker's Redis does not answer.
    _, store, _ = ops
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PS_", "PSINFOR_", "IONAPI", "WEBHOOK"))}
    env.update({"DATABASE_URL": db_url, "REDIS_URL": "redis://127.0.0.1:9/0"})
    done = subprocess.run([str(Path(sys.executable).parent / "psinfor"), "resync", "order", "7"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 69
    assert "Traceback" not in done.stderr and "enqueued" not in done.stdout
    assert done.stderr.strip() == ("Error: cannot publish: the broker did not answer (connection refused: nothing "
                                   "listens on that host and port); nothing was sent")
    assert store.status_counts() == {}  # no event claims to be queued


def test_resync_publishes_once_and_refuses_to_double(ops):
    runner, store, broker = ops
    sent = runner.invoke(main, ["resync", "order", "7"])
    assert sent.exit_code == 0 and "enqueued" in sent.output, sent.output
    assert broker.queue_length("orders") == 1
    again = runner.invoke(main, ["resync", "order", "7"])
    assert again.exit_code == 0 and "is queued" in again.output and "Nothing sent" in again.output
    assert broker.queue_length("orders") == 1
    forced = runner.invoke(main, ["resync", "order", "7", "--force"])
    assert forced.exit_code == 0 and "enqueued" in forced.output
    assert broker.queue_length("orders") == 2
    store.save_binding("default", "order", "8", "1000042")
    bound = runner.invoke(main, ["resync", "order", "8", "--force"])
    assert bound.exit_code == 1 and "order 8 is already Infor order 1000042" in bound.output
    assert broker.queue_length("orders") == 2


def test_unknown_dead_letters_and_connections_are_errors(ops):
    runner, _, _ = ops
    replay = runner.invoke(main, ["dlq", "replay", "999"])
    assert replay.exit_code == 1 and "#999: no such dead letter" in replay.output
    show = runner.invoke(main, ["dlq", "show", "999"])
    assert show.exit_code == 1 and "no dead letter 999" in show.output
    nope = runner.invoke(main, ["resync", "order", "7", "--connection", "nope"])
    assert nope.exit_code == 2 and "unknown connection 'nope' (configured: default)" in nope.output
    assert runner.invoke(main, ["resync", "orders", "--since", "2026-01-01", "--connection", "nope"]).exit_code == 2


def test_events_list_takes_a_fixed_status_and_an_order(ops):
    runner, store, _ = ops
    for order_id in (7, 8):
        store.add_event(NewEvent("default", "prestashop", "order", str(order_id), "order.created",
                                 f"hook-{order_id}", {"id_order": order_id}), status=m.QUEUED)
    bogus = runner.invoke(main, ["events", "list", "--status", "bogus"])
    assert bogus.exit_code == 2 and "'bogus' is not one of" in bogus.output
    only_7 = runner.invoke(main, ["events", "list", "--order", "7"]).output.splitlines()
    assert len(only_7) == 1 and only_7[0].split()[4] == "7"
    assert runner.invoke(main, ["events", "list", "--status", "dead"]).output.strip() == "no events"
