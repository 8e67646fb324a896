"""Order status mapping between PrestaShop states and M3 order status ranges.

PrestaShop state ids differ from shop to shop (payment modules add states, merchants reorder them), so the
shop side is named by its ``PS_OS_*`` configuration key, with the state's flags (paid, shipped, logable...)
as the fallback for module states that have no key. M3 has no single order status: the head carries the
lowest and highest line status (ORSL/ORST), e.g. 33/66 = partly allocated, partly delivered. Rules are
therefore ranges over (lowest, highest), first match wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from integration.errors import MappingError


@dataclass(frozen=True)
class InforRangeRule:
    """(lowest in [low_min, low_max]) and (highest in [high_min, high_max]) → ``ps_state`` (None: no change)."""

    lowest: tuple[int, int]
    highest: tuple[int, int]
    ps_state: str | None
    label: str = ""

    def matches(self, lowest: int, highest: int) -> bool:
        return self.lowest[0] <= lowest <= self.lowest[1] and self.highest[0] <= highest <= self.highest[1]


@dataclass(frozen=True)
class FlagRule:
    """A PrestaShop state whose flags all equal ``when`` → ``action``."""

    when: Mapping[str, bool]
    action: str

    def matches(self, flags: Mapping[str, bool]) -> bool:
        return all(bool(flags.get(name, False)) == value for name, value in self.when.items())


@dataclass(frozen=True)
class StatusMap:
    infor_to_ps: Sequence[InforRangeRule]
    ps_by_key: Mapping[str, str]
    ps_by_flags: Sequence[FlagRule] = field(default_factory=tuple)


def parse_status(value: object, name: str) -> int:
    """M3 statuses arrive as two-digit strings ("66"); accept ints too, refuse anything else by name."""
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or len(text) > 2:
        raise MappingError(
            f"Infor {name} status {value!r} is not a two-digit M3 status",
            resolution="check the ORSL/ORST values read from OIS100MI GetHead",
            details={name: value},
        )
    return int(text)


def ps_state_for_infor_status(status_map: StatusMap, lowest: object, highest: object) -> str | None:
    """The PrestaShop configuration key for an M3 (lowest, highest) line status; None means "leave as is".

    Raises ``MappingError`` when no rule covers the pair: an unknown status must be noticed, not ignored.
    """
    low, high = parse_status(lowest, "lowest"), parse_status(highest, "highest")
    if low > high:
        low, high = high, low
    for rule in status_map.infor_to_ps:
        if rule.matches(low, high):
            return rule.ps_state
    raise MappingError(
        f"no PrestaShop state is mapped for Infor order status {low:02d}/{high:02d} (lowest/highest)",
        resolution="add a range covering it under infor_to_prestashop in mappings/statuses.yaml",
        details={"lowest": low, "highest": high},
    )


def infor_action_for_ps_state(
    status_map: StatusMap, state_key: str | None, flags: Mapping[str, bool] | None = None
) -> str:
    """What the ERP side does for an order in this PrestaShop state: e.g. ``open`` (send it), ``hold``
    (wait for payment), ``cancel``. The configuration key decides; the flags only when there is no key."""
    if state_key and state_key in status_map.ps_by_key:
        return status_map.ps_by_key[state_key]
    if flags is not None:
        for rule in status_map.ps_by_flags:
            if rule.matches(flags):
                return rule.action
    raise MappingError(
        f"no Infor status is mapped for PrestaShop state {state_key or '(no configuration key)'}"
        + (f" with flags {dict(sorted(flags.items()))}" if flags else ""),
        resolution="add the key under prestashop_to_infor.by_key, or a flag rule under "
        "prestashop_to_infor.by_flags, in mappings/statuses.yaml",
        details={"state_key": state_key, "flags": dict(flags or {})},
    )
