"""Enrichment rules: defaults, then every matching rule in file order (later overrides earlier)."""

from __future__ import annotations

from integration.transform.enrichment import EnrichmentRule, enrich

RULES = [
    EnrichmentRule("eu", {"country": frozenset({"FR", "DE"})}, {"warehouse": "200"}),
    EnrichmentRule("b2b in france", {"country": frozenset({"FR"}), "customer_group": frozenset({"4"})},
                   {"order_type": "B2B", "cost_centre": "CC7"}),
    EnrichmentRule("paypal", {"payment": frozenset({"PAYPAL"})}, {"project": "PP"}),
]
DEFAULTS = {"order_type": "WEB", "warehouse": "100", "facility": "A01"}


def test_defaults_alone_when_nothing_matches():
    result, applied = enrich(DEFAULTS, RULES, {"country": "US", "customer_group": "3", "payment": "cheque"})
    assert result == DEFAULTS and applied == []


def test_all_conditions_of_a_rule_must_hold():
    result, applied = enrich(DEFAULTS, RULES, {"country": "DE", "customer_group": "4"})
    assert result["warehouse"] == "200" and result["order_type"] == "WEB" and applied == ["eu"]


def test_matching_rules_stack_in_order_and_values_compare_case_insensitively():
    result, applied = enrich(DEFAULTS, RULES, {"country": "fr", "customer_group": "4", "payment": "paypal"})
    assert applied == ["eu", "b2b in france", "paypal"]
    assert result == {"order_type": "B2B", "warehouse": "200", "facility": "A01", "cost_centre": "CC7",
                      "project": "PP"}
