"""Enrichment: Infor-only order fields (order type, warehouse, facility, cost centre, project) from rules.

A web order knows its shop, country, customer group, carrier and payment method; M3 also wants an order
type, a facility, a warehouse... that the shop has no notion of. Each deployment states how to derive them
as rules in ``mappings/enrichment.yaml``: defaults first, then every rule whose conditions all hold, in file
order, so a later, more specific rule overrides an earlier, general one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The order facts a condition may test, and what each holds in the facts dict.
CONDITION_KEYS = ("shop", "country", "customer_group", "carrier", "payment", "currency")
# The fields a rule may set.
TARGET_KEYS = ("order_type", "warehouse", "facility", "cost_centre", "project", "delivery_method",
               "delivery_terms", "payment_terms")


@dataclass(frozen=True)
class EnrichmentRule:
    name: str
    when: Mapping[str, frozenset[str]]
    set: Mapping[str, str]

    def matches(self, facts: Mapping[str, str]) -> bool:
        """All conditions hold; a condition lists accepted values (compared as strings, case-insensitive)."""
        return all(str(facts.get(key, "")).upper() in values for key, values in self.when.items())


def enrich(defaults: Mapping[str, str], rules: Sequence[EnrichmentRule],
           facts: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The enriched fields and the names of the rules that applied (shown in the preview, for the why)."""
    result = dict(defaults)
    applied: list[str] = []
    for rule in rules:
        if rule.matches(facts):
            result.update(rule.set)
            applied.append(rule.name)
    return result, applied
