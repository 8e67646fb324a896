"""Product variant resolution: a PrestaShop (product id, combination id) → the Infor item number (ITNO).

Shops identify a sellable unit by product + combination; M3 by one item number. Deployments bridge the two
in different ways, so the strategies are configured and tried in order:

- ``table``: an explicit table, keyed ``"product_id:combination_id"`` (or ``"product_id"`` for a simple
  product, or for every combination of it);
- ``reference``: the order row's ``product_reference`` (PrestaShop snapshots the combination's reference
  when it has one, else the product's) is the ITNO;
- ``ean``: the row's EAN-13 looked up in an EAN → item index (built from the item master).

A strategy that finds nothing passes to the next; one that finds two items is an error at once, because
guessing would ship the wrong product.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from integration.errors import MappingError

STRATEGIES = ("table", "reference", "ean")


@dataclass(frozen=True)
class Resolution:
    item_number: str
    strategy: str


def _valid_ean(ean: str) -> bool:
    """PrestaShop stores "0" or "" for "no EAN" on old data; only real 8/12/13/14-digit codes count."""
    return ean.isdigit() and len(ean) in (8, 12, 13, 14) and set(ean) != {"0"}


def resolve_item(
    product_id: int,
    combination_id: int,
    reference: str,
    ean13: str,
    *,
    order: Sequence[str],
    table: Mapping[str, str],
    ean_index: Mapping[str, Sequence[str]] | None = None,
    known_item: Callable[[str], bool] | None = None,
) -> Resolution:
    """Resolve one order row to an ITNO, trying the strategies in ``order``.

    ``known_item`` (when given) tells whether an ITNO exists in the ERP; the ``reference`` strategy then
    only accepts references that are real items, so a shop-only reference falls through to the next
    strategy instead of reaching M3. Raises ``MappingError`` (with a Resolution hint) when nothing or more
    than one item matches.
    """
    reference = (reference or "").strip()
    ean13 = (ean13 or "").strip()
    tried: list[str] = []
    for strategy in order:
        if strategy == "table":
            for key in (f"{product_id}:{combination_id}", f"{product_id}"):
                if key in table:
                    return Resolution(str(table[key]), "table")
            tried.append(f"table (no key {product_id}:{combination_id} or {product_id})")
        elif strategy == "reference":
            if reference and (known_item is None or known_item(reference)):
                return Resolution(reference, "reference")
            tried.append(f"reference ({reference!r} {'is empty' if not reference else 'is not an Infor item'})")
        elif strategy == "ean":
            if not _valid_ean(ean13):
                tried.append(f"ean ({ean13!r} is not an EAN)")
                continue
            matches = sorted(set((ean_index or {}).get(ean13, ())))
            if len(matches) > 1:
                raise MappingError(
                    f"product {product_id} combination {combination_id}: EAN {ean13} matches several Infor "
                    f"items: {', '.join(matches)}",
                    resolution="give the combination an explicit entry in mappings/variants.yaml (table), "
                    "or correct the EANs in the item master",
                    details={"product_id": product_id, "combination_id": combination_id, "ean13": ean13,
                             "items": matches},
                )
            if matches:
                return Resolution(matches[0], "ean")
            tried.append(f"ean ({ean13} not in the item index)")
        else:  # the loader refuses unknown names; this guards direct callers
            raise MappingError(f"unknown variant strategy {strategy!r}", details={"strategy": strategy})
    raise MappingError(
        f"product {product_id} combination {combination_id} (reference {reference!r}) has no Infor item: "
        + "; ".join(tried),
        resolution="set the product's or combination's reference to the Infor item number, or add "
        f"'{product_id}:{combination_id}: ITNO' to the table in mappings/variants.yaml",
        details={"product_id": product_id, "combination_id": combination_id, "reference": reference,
                 "ean13": ean13, "tried": tried},
    )
