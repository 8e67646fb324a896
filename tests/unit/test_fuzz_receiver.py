"""Fuzzing the receiver: hypothesis-driven bad requests against the real receiver (Flask app with the real store
and the real Celery publisher on the test Redis). Every answer is a 4xx; not one inbox row, not one broker
message. ``make fuzz`` runs a bigger version (``PSINFOR_FUZZ_EXAMPLES``, default here 300 per backend) and
prints the counts.

Bad requests come in three families: not signed at all or signed wrongly (random, oversized or malformed
headers, expired or future timestamps, the right signature of another secret), signed correctly but with a
body the receiver must refuse (bad ids, wrong shop, unknown events, deep JSON, huge numbers, NaN, broken
UTF-8, random bytes), and addressed to a connection that does not exist.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration.connectors.prestashop import webhooks
from integration.flows.registry import FLOWS, accepted_events
from integration.store.repository import Store
from integration.web.app import MAX_ID, create_app
from tasks.routing import queue_names
from tests.integration.conftest import (  # noqa: F401 - fixtures
    WEBHOOK_SECRET,
    celery_app,
    clean_broker,
    make_settings,
)

EXAMPLES = int(os.environ.get("PSINFOR_FUZZ_EXAMPLES", "300"))
ACCEPTED = set(accepted_events(None)) | {webhooks.PING}
QUEUES = queue_names(FLOWS.values())
COUNTS: Counter[tuple[str, int]] = Counter()

# Header values as HTTP can carry them (latin-1, no CR/LF: the test client refuses those, as a server would).
header_text = st.text(st.characters(max_codepoint=255, exclude_categories=("Cs",), exclude_characters="\r\n\x00"),
                      max_size=300)
digits = st.integers(min_value=1, max_value=400).map(lambda n: "9" * n)


def _valid_body() -> dict[str, Any]:
    return {"event": "order.created", "shop_id": 1, "id_order": 7, "occurred_at": "2026-11-27T10:00:00+01:00"}


bad_id = st.one_of(
    st.integers(max_value=0), st.integers(min_value=MAX_ID + 1), st.text(max_size=30), st.booleans(), st.none(),
    st.floats(allow_nan=False), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                                      st.integers(), max_size=2))
bad_shop = st.one_of(st.integers().filter(lambda n: n != 1), st.text(max_size=10), st.booleans(), st.none())
bad_event = st.text(max_size=40).filter(lambda e: e not in ACCEPTED)


@st.composite
def bad_json_body(draw: st.DrawFn) -> bytes:
    """A body the schema or the bounds refuse, whatever the signature."""
    body = _valid_body()
    kind = draw(st.sampled_from(["id", "shop", "event", "missing", "deep", "number", "constant", "array",
                                 "scalar", "utf8", "bytes", "extra-deep-value"]))
    if kind == "id":
        body["id_order"] = draw(bad_id)
    elif kind == "shop":
        body["shop_id"] = draw(bad_shop)
    elif kind == "event":
        body["event"] = draw(bad_event)
    elif kind == "missing":
        for key in draw(st.lists(st.sampled_from(["event", "shop_id", "id_order"]), min_size=1, unique=True)):
            body.pop(key)
    elif kind == "deep":
        depth = draw(st.integers(min_value=webhooks.MAX_JSON_DEPTH + 1, max_value=20_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (json.dumps(body)[:-1] + ', "x": ' + opener * depth + "1" + closer * depth + "}").encode()
    elif kind == "number":
        n = draw(st.integers(min_value=webhooks.MAX_NUMBER_DIGITS + 1, max_value=6000))
        where = draw(st.sampled_from(["id_order", "shop_id", "extra"]))
        text = json.dumps({k: v for k, v in body.items() if k != where})[:-1]
        return (text + f', "{where}": ' + "9" * n + "}").encode()
    elif kind == "constant":
        return (json.dumps(body)[:-1] + ', "x": ' + draw(st.sampled_from(["NaN", "Infinity", "-Infinity"])) + "}"
                ).encode()
    elif kind == "array":
        return json.dumps([body]).encode()
    elif kind == "scalar":
        return json.dumps(draw(st.one_of(st.integers(), st.text(max_size=20), st.none(), st.booleans()))).encode()
    elif kind == "utf8":
        return json.dumps(body)[:-1].encode() + b', "x": "' + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])
                                                                   ) + b'"}'
    elif kind == "bytes":
        return draw(st.binary(max_size=3000))
    else:  # a timestamp-like value of hundreds of digits where a date belongs
        body["occurred_at"] = draw(st.one_of(digits, st.text(max_size=50)))
    return json.dumps(body).encode()


@st.composite
def bad_request(draw: st.DrawFn) -> tuple[str, str, bytes, dict[str, str]]:
    family = draw(st.sampled_from(["unsigned", "wrong-signature", "expired", "bad-headers", "signed-bad-body",
                                   "unknown-connection"]))
    good_body = json.dumps(_valid_body()).encode()
    path = "/webhooks/prestashop"
    webhook_id = str(uuid.uuid4())
    now = int(time.time())
    if family == "unsigned":
        body = draw(st.one_of(st.just(good_body), bad_json_body()))
        headers = {}
    elif family == "wrong-signature":
        body = draw(st.one_of(st.just(good_body), bad_json_body()))
        secret = draw(st.text(min_size=1, max_size=40).filter(lambda s: s != WEBHOOK_SECRET))
        headers = webhooks.sign_headers(secret, webhook_id, body)
    elif family == "expired":
        body = good_body
        skew = draw(st.integers(min_value=webhooks.REPLAY_WINDOW_SECONDS + 1, max_value=10**11))
        timestamp = max(0, now + skew * draw(st.sampled_from([-1, 1])))
        headers = webhooks.sign_headers(WEBHOOK_SECRET, webhook_id, body, timestamp=timestamp)
    elif family == "bad-headers":
        body = draw(st.one_of(st.just(good_body), bad_json_body()))
        headers = webhooks.sign_headers(WEBHOOK_SECRET, webhook_id, body)
        broken = draw(st.sampled_from([webhooks.HEADER_ID, webhooks.HEADER_TIMESTAMP, webhooks.HEADER_SIGNATURE]))
        headers[broken] = draw(st.one_of(header_text, digits, st.just(""), header_text.map(lambda t: "v1," + t),
                                         st.just(headers[broken] + " " + "v1," + "A" * 5000)))
        if headers[broken] == webhooks.sign_headers(WEBHOOK_SECRET, webhook_id, body)[broken]:
            headers[broken] += "x"
    elif family == "signed-bad-body":
        body = draw(bad_json_body())
        headers = webhooks.sign_headers(WEBHOOK_SECRET, webhook_id, body)
    else:
        body = good_body
        headers = webhooks.sign_headers(WEBHOOK_SECRET, webhook_id, body)
        path += "/" + draw(st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=40)
                           .filter(lambda c: c != "default"))
    return family, path, body, headers


@pytest.fixture
def fuzz_target(make_settings, celery_app, clean_broker):  # noqa: F811
    from tasks.dispatch import enqueue

    settings = make_settings()
    return create_app(settings, enqueue=enqueue).test_client(), Store(settings.database_url), clean_broker


def test_no_bad_request_gets_a_5xx_a_row_or_a_message(fuzz_target):
    client, store, broker = fuzz_target

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(bad_request())
    def one(request: tuple[str, str, bytes, dict[str, str]]) -> None:
        family, path, body, headers = request
        response = client.post(path, data=body, headers=headers)
        COUNTS[(family, response.status_code)] += 1
        assert 400 <= response.status_code < 500, (family, response.status_code, response.get_data()[:300])
        assert store.status_counts() == {}
        assert all(broker.queue_length(q) == 0 for q in QUEUES)

    one()
    total = sum(COUNTS.values())
    by_status = Counter()
    for (_, status), n in COUNTS.items():
        by_status[status] += n
    print(f"\nfuzz: {total} bad requests; by status {dict(sorted(by_status.items()))}; "
          f"by family {dict(sorted(Counter(f for (f, _), n in COUNTS.items() for _ in range(n)).items()))}; "
          "0 answers of 5xx, 0 inbox rows, 0 broker messages")
    COUNTS.clear()
