"""Status mapping both ways: M3 lowest/highest line status ⇄ PrestaShop configuration keys and flags."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.errors import MappingError
from integration.mapping.engine import MappingEngine

from .test_mapping_support import MAPPINGS_DIR

ENGINE = MappingEngine.load(MAPPINGS_DIR)


@pytest.fixture
def engine() -> MappingEngine:
    return ENGINE


@pytest.mark.parametrize(("lowest", "highest", "key"), [
    ("66", "66", "PS_OS_SHIPPING"),     # delivered
    ("77", "77", "PS_OS_SHIPPING"),     # invoiced
    ("66", "77", "PS_OS_SHIPPING"),
    ("33", "66", "PS_OS_PREPARATION"),  # partly delivered
    ("33", "33", "PS_OS_PREPARATION"),  # allocated
    ("44", "44", "PS_OS_PREPARATION"),  # picking
    ("22", "22", None),                 # entered, nothing to tell the shop
    (20, 33, None),
    ("90", "90", "PS_OS_CANCELED"),
    ("99", "99", "PS_OS_CANCELED"),
])
def test_infor_status_to_prestashop_key(engine, lowest, highest, key):
    assert engine.ps_state_for_infor_status(lowest, highest) == key


def test_the_pair_may_come_in_either_order(engine):
    assert engine.ps_state_for_infor_status("66", "33") == engine.ps_state_for_infor_status("33", "66")


def test_unmapped_infor_status_is_a_mapping_error_with_a_resolution(engine):
    with pytest.raises(MappingError) as info:
        engine.ps_state_for_infor_status("80", "80")
    assert "80/80" in info.value.message
    assert "Resolution:" in str(info.value) and "statuses.yaml" in str(info.value)


@pytest.mark.parametrize("value", ["6A", "", None, "123", "-1"])
def test_malformed_infor_status_is_named(engine, value):
    with pytest.raises(MappingError):
        engine.ps_state_for_infor_status(value, "66")


# Line statuses M3 uses: 05 quotation, 10 preliminary, 2x to allocate, 3x allocated, 4x picking, 6x delivered,
# 7x invoiced (the second digit being a sub-state).
LINE_STATUSES = [5, 10, 20, 22, 23, 24, 26, 27, 33, 34, 36, 37, 44, 46, 47, 66, 67, 77]


@settings(deadline=None)  # no timing in assertions: CI machines vary
@given(st.sampled_from(LINE_STATUSES), st.sampled_from(LINE_STATUSES))
def test_every_ordinary_status_pair_is_mapped(lowest, highest):
    low, high = sorted((lowest, highest))
    assert ENGINE.ps_state_for_infor_status(low, high) in (None, "PS_OS_SHIPPING", "PS_OS_PREPARATION")


@pytest.mark.parametrize(("key", "action"), [
    ("PS_OS_PAYMENT", "open"), ("PS_OS_WS_PAYMENT", "open"), ("PS_OS_BANKWIRE", "hold"),
    ("PS_OS_CANCELED", "cancel"), ("PS_OS_SHIPPING", "ignore"),
])
def test_prestashop_state_by_configuration_key(engine, key, action):
    assert engine.infor_status_for_ps_state(key) == action


def test_module_state_without_a_key_is_resolved_by_its_flags(engine):
    assert engine.infor_status_for_ps_state(None, {"paid": True, "logable": True}) == "open"
    assert engine.infor_status_for_ps_state("", {"paid": False, "logable": False, "shipped": False}) == "hold"


def test_key_wins_over_flags(engine):
    assert engine.infor_status_for_ps_state("PS_OS_CANCELED", {"paid": True}) == "cancel"


def test_unmapped_prestashop_state_is_a_mapping_error(engine):
    with pytest.raises(MappingError) as info:
        engine.infor_status_for_ps_state("PS_OS_CUSTOM_THING", {"shipped": True})
    assert "PS_OS_CUSTOM_THING" in info.value.message and info.value.resolution
