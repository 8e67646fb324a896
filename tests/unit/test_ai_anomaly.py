"""Anomaly detectors, one by one, and the thresholds section of validation.yaml."""

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from integration.ai.anomaly import (
    DetectionContext,
    HistoryIndex,
    PastOrder,
    address_key,
    context_from_history,
    detect,
    robust_z,
)
from integration.ai.thresholds import Thresholds, load_thresholds
from integration.canonical import Address, Customer, Order, OrderLine, Totals
from integration.errors import ConfigurationError
from integration.mapping.loader import load_mappings

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))
_ids = iter(range(1, 10_000))


def make_order(customer=1, *, at=T0, lines=(("IT1", 1, "20.00"),), currency="EUR", country="FR", invoice=None,
               carrier="Colissimo", street="1 Main Street", group=3):
    order_lines = [OrderLine(n, n, 0, q, item_number=i, erp_unit_price=Decimal(p), erp_total=Decimal(p) * q)
                   for n, (i, q, p) in enumerate(lines, start=1)]
    total = sum((line.erp_total for line in order_lines), Decimal(0))
    oid = next(_ids)
    return Order(oid, f"REF{oid}", Customer(customer, group_id=group),
                 Address(street=[street], postcode="75002", city="Paris", country=country),
                 Address(street=[street], postcode="75002", city="Paris", country=invoice or country),
                 at, currency, "EUR", Decimal(1), "fixed", "tax_excl", f"REF{oid}-{oid}", carrier_name=carrier,
                 lines=order_lines, erp_totals=Totals("EUR", products_tax_excl=total))


def history_of(customer, values, start=T0 - timedelta(days=200)):
    return [PastOrder.from_order(make_order(customer, at=start + timedelta(days=10 * k), lines=(("IT1", 1, v),)))
            for k, v in enumerate(values)]


def detectors(findings):
    return [f.detector for f in findings]


def test_robust_z_ignores_one_outlier_in_the_history():
    z, med, spread = robust_z(10.0, [1.0, 1.1, 0.9, 1.0, 50.0], floor=0.1)
    assert med == 1.0 and spread == pytest.approx(0.14826)
    assert z > 50


def test_order_value_twenty_times_the_usual_is_found():
    past = history_of(1, ["40.00", "55.00", "35.00", "60.00", "45.00", "50.00", "42.00"])
    order = make_order(1, lines=(("IT9", 10, "100.00"),))  # 1000 EUR, about 22 times the median
    findings = detect(order, DetectionContext(history=past))
    assert detectors(findings) == ["order_value"]
    f = findings[0]
    assert f.score >= 1 and f.evidence["median"] == "45.00" and f.evidence["history"] == 7
    assert "times the customer's median" in f.message


def test_order_value_needs_history_and_a_real_jump():
    usual = history_of(1, ["40.00", "55.00", "35.00", "60.00", "45.00", "50.00", "42.00"])
    assert detect(make_order(1, lines=(("IT1", 3, "60.00"),)), DetectionContext(history=usual)) == []
    short = usual[:3]
    assert detect(make_order(1, lines=(("IT9", 10, "100.00"),)), DetectionContext(history=short)) == []


def test_line_price_against_m3_price():
    order = make_order(lines=(("IT1", 1, "20.00"), ("IT2", 1, "4.00"), ("IT3", 1, "30.00")))
    prices = {"IT1": Decimal("21.00"), "IT2": Decimal("20.00"), "IT3": Decimal("20.00"), "IT4": Decimal("1")}
    findings = detect(order, DetectionContext(m3_prices=prices))
    assert {(f.detector, f.line_no) for f in findings} == {("line_price", 2), ("line_price", 3)}
    under = next(f for f in findings if f.line_no == 2)
    assert under.evidence == {"item_number": "IT2", "price": "4.00", "m3_price": "20.00", "ratio": "0.200"}
    assert detect(order, DetectionContext()) == []  # no cached price: nothing to compare


def test_quantity_outlier_against_the_item_and_the_customer():
    usual = {"IT1": [1, 1, 2, 1, 1, 1, 2, 1, 1, 3, 1, 1]}
    fat_finger = make_order(lines=(("IT1", 100, "5.00"),))
    findings = detect(fat_finger, DetectionContext(item_quantities=usual))
    assert detectors(findings) == ["quantity"] and findings[0].evidence["basis"] == "item"
    assert detect(make_order(lines=(("IT1", 3, "5.00"),)), DetectionContext(item_quantities=usual)) == []
    # a customer who has bought that much before is usual
    bought = [PastOrder.from_order(make_order(lines=(("IT1", 80, "5.00"),)))]
    assert detect(fat_finger, DetectionContext(history=bought, item_quantities=usual)) == []


def test_quantity_uses_the_customers_own_scale_when_known():
    past = [PastOrder.from_order(make_order(7, lines=((f"X{k}", 20 + k % 5, "5.00"),))) for k in range(10)]
    usual_for_b2b = detect(make_order(7, lines=(("IT5", 30, "0.50"),)), DetectionContext(history=past))
    assert usual_for_b2b == []
    ten_times = detect(make_order(7, lines=(("IT5", 220, "0.50"),)), DetectionContext(history=past))
    assert detectors(ten_times) == ["quantity"] and ten_times[0].evidence["basis"] == "customer"


def test_combinations_never_seen_for_the_country():
    combos = {("currency", "FR"): {"EUR": 500}, ("carrier", "FR"): {"Colissimo": 300, "DHL": 200},
              ("billing", "US"): {"US": 300}}
    context = DetectionContext(combinations=combos)
    assert detect(make_order(), context) == []
    odd_currency = detect(make_order(currency="SEK"), context)
    assert detectors(odd_currency) == ["combination"] and odd_currency[0].evidence["dimension"] == "currency"
    odd_carrier = detect(make_order(carrier="PostNord"), context)
    assert odd_carrier[0].evidence == {"dimension": "carrier", "key": "FR", "value": "PostNord", "seen": 0,
                                       "support": 500}
    first = detect(make_order(country="FR", invoice="US", currency="EUR"), context)
    assert [f.evidence["dimension"] for f in first] == ["billing"]
    regular = history_of(1, ["10.00"])
    assert detect(make_order(country="FR", invoice="US"), replace(context, history=regular)) == []
    # too few orders to the country to know what is usual
    assert detect(make_order(country="SE", currency="CHF"), context) == []


def test_velocity_customer_and_address():
    burst = [PastOrder.from_order(make_order(5, at=T0 - timedelta(minutes=m))) for m in (30, 10)]
    findings = detect(make_order(5), DetectionContext(recent=burst))
    assert detectors(findings) == ["velocity"] and findings[0].evidence["orders"] == 3
    assert detect(make_order(5), DetectionContext(recent=burst[1:])) == []  # a quick re-order is usual
    stale = [PastOrder.from_order(make_order(5, at=T0 - timedelta(hours=h))) for h in (3, 2)]
    assert detect(make_order(5), DetectionContext(recent=stale)) == []
    ring = [PastOrder.from_order(make_order(c, at=T0 - timedelta(hours=c), street="9 Depot Lane")) for c in (11, 12)]
    found = detect(make_order(13, street="9, Depot lane"), DetectionContext(recent=ring))
    assert detectors(found) == ["velocity"] and found[0].evidence["kind"] == "address"


def test_address_key_folds_typing_differences():
    a = Address(street=["9, Dépôt Lane"], postcode="75002", country="FR")
    b = Address(street=["9 depot lane"], postcode="75002", country="FR")
    assert address_key(a) == address_key(b)


def test_history_index_and_flat_history_agree():
    past = [PastOrder.from_order(make_order(1, at=T0 - timedelta(days=d), lines=(("IT1", 2, "10.00"),)))
            for d in range(12, 0, -1)]
    skipped = PastOrder.from_order(make_order(1, at=T0 - timedelta(minutes=5)), accepted=False)
    order = make_order(1)
    flat = context_from_history(order, [*past, skipped], {"IT1": Decimal("10.00")})
    index = HistoryIndex()
    for p in [*past, skipped]:
        index.add(p)
    incremental = index.context_for(order, {"IT1": Decimal("10.00")})
    assert flat.history == incremental.history and len(flat.history) == 12  # the skipped order teaches nothing
    assert skipped.ps_order_id in [p.ps_order_id for p in flat.recent]  # ...but counts for velocity
    assert flat.item_quantities == incremental.item_quantities == {"IT1": [2] * 12}
    assert flat.combinations[("carrier", "FR")] == {"Colissimo": 12}


def test_disabled_detectors_say_nothing():
    t = Thresholds()
    off = replace(t, line_price=replace(t.line_price, enabled=False))
    order = make_order(lines=(("IT2", 1, "4.00"),))
    assert detect(order, DetectionContext(m3_prices={"IT2": Decimal(20)}), off) == []


def test_thresholds_from_yaml():
    t = load_thresholds({"order_value": {"min_ratio": "8"}, "velocity": {"enabled": False}})
    assert t.order_value.min_ratio == Decimal(8) and t.order_value.min_history == Thresholds().order_value.min_history
    assert t.velocity.enabled is False
    assert load_thresholds(None) == Thresholds()
    config = load_mappings(ROOT / "mappings")
    assert isinstance(config.validation.detectors, Thresholds)


def test_a_bad_threshold_names_file_and_key(tmp_path):
    import shutil

    copy = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", copy)
    path = copy / "validation.yaml"
    path.write_text(path.read_text("utf-8").replace("max_share: 0.001", "max_share: 2"), "utf-8")
    with pytest.raises(ConfigurationError, match=r"validation.yaml: detectors.combination.max_share"):
        load_mappings(copy)
