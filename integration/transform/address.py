"""Address standardisation: countries, postcodes, phones, names, and M3's fixed-width address lines.

PrestaShop stores free text (address1/address2 up to 128 characters, phones as typed); M3 takes four
36-character lines (CUA1-CUA4), a 10-character postcode, a 20-character town and, depending on the field,
a 10- or 16-character phone. These functions turn one into the other without losing or mangling data: a
street is wrapped at word boundaries, never cut mid-word unless a single word is longer than a line, and
what does not fit is returned so the caller can report it instead of dropping it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
import pycountry
from anyascii import anyascii

_SPACES = re.compile(r"\s+")


def clean_text(value: object) -> str:
    """Trim, fold runs of whitespace (newlines, tabs, NBSP) into one space, and NFC-normalise.

    NFC matters: "é" typed as e + combining accent is two code points and would count twice against M3's
    lengths.
    """
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    return _SPACES.sub(" ", text).strip()


def transliterate(text: str) -> str:
    """ASCII rendering of ``text`` ("Müller" → "Muller", "Łódź" → "Lodz") for ERPs set up without Unicode."""
    return clean_text(anyascii(text))


@dataclass(frozen=True)
class WrappedLines:
    """Lines of at most ``width`` characters, and the text that did not fit in ``max_lines``."""

    lines: list[str]
    overflow: str


def wrap_words(text: str, width: int) -> list[str]:
    """Greedy word wrap: each line as full as it can be without splitting a word.

    A single word longer than ``width`` (a long compound name, a URL) is the one case that must be split:
    it is cut into ``width``-sized pieces so nothing is lost.
    """
    if width < 1:
        raise ValueError("width must be at least 1")
    lines: list[str] = []
    current = ""
    for word in clean_text(text).split(" "):
        if not word:
            continue
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def split_street(parts: list[str], width: int = 36, max_lines: int = 4) -> WrappedLines:
    """Fit street parts (address1, address2, other) into ``max_lines`` lines of ``width`` characters.

    Each part starts on a new line when there is room, so "12 rue X" and "Bâtiment B" stay apart as the
    customer typed them. When the parts need more lines than M3 has, they are re-flowed together (words
    still whole), and whatever still does not fit is returned as ``overflow``.
    """
    cleaned = [clean_text(p) for p in parts if clean_text(p)]
    separate: list[str] = []
    for part in cleaned:
        separate.extend(wrap_words(part, width))
    if len(separate) <= max_lines:
        return WrappedLines(separate, "")
    flowed = wrap_words(" ".join(cleaned), width)
    return WrappedLines(flowed[:max_lines], " ".join(flowed[max_lines:]))


def fit(text: str, width: int) -> str:
    """Shorten ``text`` to ``width`` characters at a word boundary when there is one (names, towns)."""
    text = clean_text(text)
    if len(text) <= width:
        return text
    cut = text[: width + 1].rsplit(" ", 1)[0]
    return cut if 0 < len(cut) <= width else text[:width]


def person_name(first: str, last: str) -> str:
    """"First Last" with whitespace cleaned; either part may be empty."""
    return clean_text(f"{clean_text(first)} {clean_text(last)}")


def display_name(company: str, first: str, last: str) -> str:
    """The name M3 shows for a customer or an address: the company when there is one, else the person."""
    return clean_text(company) or person_name(first, last)


def country_alpha2(iso_code: str) -> str | None:
    """Validated ISO 3166-1 alpha-2 code for a PrestaShop ``countries.iso_code``, or None if unknown.

    PrestaShop allows 2-3 characters; alpha-3 codes are translated to alpha-2, which is what M3's CSCD
    usually holds.
    """
    code = clean_text(iso_code).upper()
    if not code:
        return None
    found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else pycountry.countries.get(alpha_3=code)
    return str(found.alpha_2) if found is not None else None


def subdivision_code(country: str, state_iso: str) -> str | None:
    """The subdivision part of ISO 3166-2 (``"CA"`` for US-CA) when it exists for ``country``, else None."""
    code = clean_text(state_iso).upper()
    if not code or not country:
        return None
    if "-" in code:
        code = code.split("-", 1)[1]
    found = pycountry.subdivisions.get(code=f"{country.upper()}-{code}")
    return code if found is not None else None


def m3_state(country: str, state: str | None, codes: Mapping[str, str]) -> str | None:
    """The state as the ERP codes it: the configured code for ``COUNTRY-STATE`` ("AU-NSW" → the tenant's
    two-character ECAR), else the shop's own code. An unmapped code longer than ECAR is left as it is, so
    validation refuses it naming the field (a shortened state could be another state)."""
    if not state:
        return None
    return codes.get(f"{clean_text(country).upper()}-{clean_text(state).upper()}", state)


def normalise_postcode(postcode: str, country: str) -> str:
    """Upper-case, single-spaced postcode; for countries whose codes are digits only, spaces removed."""
    text = clean_text(postcode).upper()
    if text.replace(" ", "").replace("-", "").isdigit() and country.upper() not in ("PT", "PL", "BR", "JP", "US"):
        # FR/DE/ES/IT "75 002" typed with a space: the code itself has none. Countries whose digit-only
        # codes carry a separator (PT 1000-001, PL 00-950, BR, JP, US ZIP+4) keep it.
        text = text.replace(" ", "")
    return text


def postcode_matches(postcode: str, zip_code_format: str, country: str) -> bool:
    """Whether ``postcode`` fits PrestaShop's ``zip_code_format`` (N digit, L letter, C country ISO code).

    An empty format means the shop does not check it, so anything is accepted.
    """
    if not zip_code_format:
        return True
    pattern = ""
    for ch in zip_code_format:
        if ch == "N":
            pattern += r"\d"
        elif ch == "L":
            pattern += "[A-Z]"
        elif ch == "C":
            pattern += re.escape(country.upper())
        else:
            pattern += re.escape(ch)
    return re.fullmatch(pattern, postcode.upper()) is not None


@lru_cache(maxsize=4096)
def phone_e164(raw: str, country: str | None) -> str | None:
    """The phone number in E.164 ("+33478123456"), read as a national number of ``country`` when it has
    no international prefix; None when it is not a valid number (the raw text is kept by the caller).
    Remembered per process: phonenumbers' parse and check cost more than the rest of an address's mapping, and a
    returning customer's addresses bring the same numbers again."""
    text = clean_text(raw)
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, (country or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
