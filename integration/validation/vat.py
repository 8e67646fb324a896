"""VAT numbers as the customer flows check them, with python-stdnum (the per-country rules of the EU's VIES
formats and the UK's). ``format`` refuses what cannot be a VAT number of its country (wrong length, letters
where digits belong); ``checksum`` also refuses wrong check digits. No network: VIES itself is not asked.
"""

from __future__ import annotations

from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import InvalidChecksum, ValidationError

LEVELS = ("none", "format", "checksum")
_PREFIX_ALIASES = {"GR": "EL"}  # Greece's VAT numbers start with EL


def vat_problem(number: str, country: str = "", level: str = "format") -> str | None:
    """Why ``number`` is not a valid VAT number (None when it is, or cannot be checked: a country without
    rules here). ``country`` (ISO alpha-2) is used when the number carries no country prefix."""
    if level == "none" or not number.strip():
        return None
    compact = "".join(ch for ch in number.upper() if ch.isalnum())
    prefix = compact[:2]
    if not prefix.isalpha() and country:
        prefix = _PREFIX_ALIASES.get(country.upper(), country.upper())
        compact = prefix + compact
    try:
        if prefix.lower() in eu_vat.MEMBER_STATES or prefix == "EL":
            eu_vat.validate(compact)
        elif prefix == "GB" and (gb := get_cc_module("gb", "vat")) is not None:
            gb.validate(compact)
        else:
            return None
    except InvalidChecksum:
        return None if level == "format" else f"VAT number {number!r} has wrong check digits for {prefix}"
    except ValidationError as exc:
        reason = str(getattr(exc, "message", "") or exc).rstrip(".").lower()
        return f"VAT number {number!r} is not a valid {prefix} VAT number ({reason})"
    return None
