"""A generated catalogue of any size, the same in both sandboxes: the bench's 100,000 SKUs, the tests' forty.

Deterministic from its parameters, so the Infor sandbox (items, styles, balances per warehouse) and the
PrestaShop sandbox (products, combinations, stock rows) build matching halves without talking to each other.
Every fifth product is a simple product (its item number is its reference); the others are styles of
``variants`` sizes (style number = product reference, each size an item = a combination's reference).
Item numbers start with ``G`` so they never meet the hand-made seed catalogue.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

SIZES = ("S", "M", "L", "XL", "XXL", "3XL")
SIZE_GROUP = "Size"
SIZE_FEATURE = "SIZE"  # the M3 feature (FTIZ) of the style model
WAREHOUSES = ("100", "200", "300")


@dataclass(frozen=True)
class ScaleSku:
    itno: str
    name: str
    ean13: str
    price: Decimal
    weight: Decimal
    size: str  # "" for a simple product
    quantities: dict[str, int]  # warehouse -> on-hand


@dataclass(frozen=True)
class ScaleProduct:
    reference: str
    name: str
    simple: bool
    skus: tuple[ScaleSku, ...]


def _ean(n: int) -> str:
    body = f"20{n:010d}"[:12]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def generate(skus: int, *, variants: int = 4, warehouses: Sequence[str] = WAREHOUSES,
             seed: int = 1) -> Iterator[ScaleProduct]:
    """Products until ``skus`` sellable units exist (the last style may have fewer sizes)."""
    rng = random.Random(seed)
    variants = max(1, min(variants, len(SIZES)))
    made = 0
    index = 0
    while made < skus:
        index += 1
        reference = f"G{index:06d}"
        name = f"Generated article {index}"
        price = Decimal(rng.randint(500, 15000)) / 100
        weight = Decimal(rng.randint(50, 3000)) / 1000
        if index % 5 == 0 or variants == 1:
            sizes: Sequence[str] = ("",)
        else:
            sizes = SIZES[:min(variants, skus - made)]
        units = []
        for size in sizes:
            made += 1
            itno = f"{reference}-{size}" if size else reference
            units.append(ScaleSku(itno, f"{name} {size}".strip(), _ean(made), price, weight, size,
                                  {w: rng.randint(0, 200) for w in warehouses}))
        yield ScaleProduct(reference, name, sizes == ("",), tuple(units))


def shop_quantity(sku: ScaleSku, warehouses: Sequence[str]) -> int:
    """What the shop shows for a generated unit when its stock is the sum of ``warehouses`` (nothing allocated)."""
    return sum(q for w, q in sku.quantities.items() if w in set(warehouses))
