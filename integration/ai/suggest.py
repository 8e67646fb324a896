"""Mapping suggestions: for each field of an M3 transaction, the shop fields that should fill it, ranked.

Signals, each a number in [0, 1] for one (target field, source field) pair:

- ``concept``: what the M3 description (plus the code spelled out, ``lexicon.M3_CODES``) and the shop field's
  name mean, as concept sets across languages, overlap weighted by rarity (IDF over all M3 descriptions and
  shop field names, so "number" or "code" count little and "postcode" much);
- ``fuzzy``: plain string similarity of the two texts (rapidfuzz), for words the lexicon does not know;
- ``shape``: whether the sample's value (or, without a sample, the field's documented type) is the kind of
  value the target expects (a date for "Order date", an ISO code for "Country", an amount for "Charge amount");
- ``length``: whether it fits the target's length (text may be cut, identifiers not);
- ``context``: whether the source's part of the bundle suits the transaction (lines for a line transaction,
  addresses for an address transaction...);
- ``mapped``: the deployment's other mappings fill the same M3 field from this source
  (``provenance.mapped_sources``, which never reads the target transaction's own map).

They are combined by a logistic model; its weights (``suggest_weights.json``) were fitted on the labelled
pairs of ``bench/eval/`` (``python -m bench.eval --refit-weights``); ``make eval`` measures it with each
transaction left out of the fit in turn. Pure: nothing is read but the packaged metadata; the caller passes
the sample and the loaded mappings.

The item direction works the same way with the roles swapped: for each PrestaShop product field, the M3
output fields of an item read (``MMS200MI/Get``...) that should fill it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from rapidfuzz import fuzz

from integration.connectors.infor import metadata

from . import catalogue, lexicon, provenance, shapes

FEATURES = ("concept", "fuzzy", "shape", "length", "context", "mapped", "bias")
READ_PREFIXES = ("Get", "Lst", "Search", "Sel")
PRODUCT_REQUIRED = frozenset({"name", "price", "link_rewrite"})
PART_CONCEPT_WEIGHT = 0.5


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    kind: str
    length: int | None
    required: bool
    concepts: frozenset[str]
    text: str


@dataclass(frozen=True)
class Candidate:
    name: str
    part: str
    field: str
    kind: str
    length: int
    has_sample: bool
    concepts: frozenset[str]
    part_concepts: frozenset[str]
    text: str


@dataclass
class Problem:
    """One target transaction, ready to score: its fields, the candidate sources and the mapping evidence."""

    program: str
    transaction: str
    direction: str  # prestashop_to_infor | infor_to_prestashop
    description: str
    targets: list[Target]
    candidates: list[Candidate]
    mapped: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # target -> source -> [where]
    lookups: tuple[str, ...] = ()
    customer_number: str | None = None

    @property
    def label(self) -> str:
        return f"{self.program}/{self.transaction}"


# --- packaged data ---------------------------------------------------------------------------------------

@cache
def _descriptions() -> dict[str, Any]:
    text = resources.files("integration.ai").joinpath("m3_descriptions.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)["programs"]
    return data


def transaction_info(program: str, transaction: str) -> dict[str, Any]:
    """Descriptions of one transaction (``{"description", "input": {F: [text, type]}, "output": {F: text}}``)."""
    info: dict[str, Any] = _descriptions().get(program, {}).get(transaction, {})
    return info


@cache
def default_weights() -> tuple[float, ...]:
    text = resources.files("integration.ai").joinpath("suggest_weights.json").read_text("utf-8")
    data = json.loads(text)
    if tuple(data["features"]) != FEATURES:
        raise ValueError("suggest_weights.json was fitted for other features; run python -m bench.eval "
                         "--refit-weights")
    return tuple(float(w) for w in data["weights"])


@cache
def _idf() -> dict[str, float]:
    """Rarity of each concept over every M3 description and every shop field name."""
    docs: list[frozenset[str]] = []
    for program in _descriptions().values():
        for tx in program.values():
            docs.extend(lexicon.concepts(d) for d, _ in tx["input"].values())
            docs.extend(lexicon.concepts(d) for d in tx["output"].values())
    for fields in catalogue.PARTS.values():
        docs.extend(lexicon.concepts(lexicon.source_words(f)) for f in fields)
    docs.extend(lexicon.concepts(f"{lexicon.source_words(f)} {m}") for f, (_, _, m) in catalogue.PRODUCT.items())
    df: dict[str, int] = {}
    for doc in docs:
        for c in doc:
            df[c] = df.get(c, 0) + 1
    n = len(docs)
    return {c: math.log((n + 1) / (k + 1)) + 1.0 for c, k in df.items()}


def _weight(concept: str) -> float:
    return _idf().get(concept, math.log(len(_idf()) + 1) + 1.0)


# A concept that entails another: a last name is a name, a carrier is a delivery method, shipping is a charge.
_IMPLIES = {"FIRSTNAME": {"NAME", "PERSON"}, "LASTNAME": {"NAME", "PERSON"}, "COMPANY": {"NAME"},
            "LINE1": {"ADDRESS"}, "LINE2": {"ADDRESS"}, "LINE3": {"ADDRESS"}, "REFERENCE": {"NUMBER"},
            "CARRIER": {"DELIVERY", "SHIPPING", "METHOD"}, "SHIPPING": {"CHARGE"}, "WRAPPING": {"CHARGE"},
            "BARCODE": {"NUMBER"}}


def _expand(found: frozenset[str]) -> frozenset[str]:
    out = set(found)
    for c in found:
        out |= _IMPLIES.get(c, set())
    return frozenset(out)


# --- building a problem -----------------------------------------------------------------------------------

def is_read(transaction: str) -> bool:
    return transaction.startswith(READ_PREFIXES)


def _m3_concepts(code: str, description: str) -> frozenset[str]:
    return _expand(lexicon.concepts(description) | lexicon.concepts(lexicon.m3_code_words(code)))


_PART_WORDS = {"order_rows[]": "order line item", "address_delivery": "delivery address",
               "address_invoice": "invoice address", "country_delivery": "delivery address country",
               "country_invoice": "invoice address country", "state_delivery": "delivery address state",
               "state_invoice": "invoice address state"}


def _candidate(source: catalogue.Source) -> Candidate:
    kind, longest = shapes.sample_kind(source.values, source.field)
    has_sample = kind != "empty"
    if not has_sample:
        kind = shapes.name_kind(source.part, source.field)
        longest = catalogue.MAX_LENGTH.get(source.field, 0) if kind in ("text", "code") else 0
    elif kind in ("integer", "code", "text") and source.field == "postcode":
        kind = "postcode"
    elif kind == "code" and source.field == "iso_code" and source.part.startswith("state"):
        kind = "state"
    words = lexicon.source_words(source.field)
    part_words = _PART_WORDS.get(source.part, source.part.replace("_", " "))
    return Candidate(source.name, source.part, source.field, kind, longest, has_sample,
                     _expand(lexicon.concepts(words)), _expand(lexicon.concepts(part_words)), words)


def _forward_targets(program: str, transaction: str) -> list[Target]:
    meta = metadata.transaction_meta(program, transaction)
    if meta is None:
        raise KeyError(f"{program}/{transaction}")
    info = transaction_info(program, transaction).get("input", {})
    out = []
    for code, length in meta.inputs.items():
        description, swagger_type = info.get(code, ["", "string"])
        text = lexicon.fold(f"{description} {lexicon.m3_code_words(code)}")
        out.append(Target(code, description, shapes.target_kind(description, swagger_type, length, code), length,
                          code in meta.required, _m3_concepts(code, description), text))
    return out


def _reverse_candidates(program: str, transaction: str, record: Mapping[str, Any] | None) -> list[Candidate]:
    meta = metadata.transaction_meta(program, transaction)
    if meta is None:
        raise KeyError(f"{program}/{transaction}")
    info = transaction_info(program, transaction).get("output", {})
    out = []
    for code, length in meta.outputs.items():
        description = info.get(code, "")
        values = (record[code],) if record and code in record else ()
        kind, longest = shapes.sample_kind(values, code)
        has_sample = kind != "empty"
        if not has_sample:
            expected = shapes.target_kind(description, "string", length, code)
            kind = {"identifier": "id", "quantity": "integer", "language": "code", "postcode": "code"}.get(
                expected, expected)
            longest = length or 0 if kind in ("text", "code", "id") else 0
        if kind == "integer" and (length or 0) <= 2 and shapes.target_kind(
                description, "string", length, code) not in ("quantity", "amount", "integer"):
            kind = "code"  # a one- or two-digit status or flag
        text = lexicon.fold(f"{description} {lexicon.m3_code_words(code)}")
        out.append(Candidate(code, "", code, kind, longest, has_sample, _m3_concepts(code, description),
                             frozenset(), text))
    return out


def _reverse_targets() -> list[Target]:
    out = []
    for name, (kind, length, meaning) in catalogue.PRODUCT.items():
        text = lexicon.fold(f"{lexicon.source_words(name)} {meaning}")
        # every product field is about the item: an M3 field that says "item" is closer than one that does not
        out.append(Target(f"product.{name}", meaning, kind, length, name in PRODUCT_REQUIRED,
                          _expand(lexicon.concepts(text)) | {"ITEM"}, text))
    return out


def build_problem(program: str, transaction: str, *, config: Any = None, bundle: Mapping[str, Any] | None = None,
                  m3_record: Mapping[str, Any] | None = None, also_exclude: Iterable[tuple[str, str]] = ()
                  ) -> Problem:
    """Everything needed to score one transaction. ``config`` (a loaded ``MappingConfig``, optional) gives the
    evidence of the other transactions' mappings (never this one's, nor those in ``also_exclude``: the
    evaluation leaves a held-out transaction out of every training problem too); ``bundle`` / ``m3_record``
    are optional samples."""
    excluded = tuple(also_exclude)
    info = transaction_info(program, transaction)
    lookups = tuple(sorted(getattr(config, "lookups", {}) or {}))
    customers = getattr(config, "customers", None)
    cuno_template = getattr(customers, "customer_number", None)
    if is_read(transaction):
        targets = _reverse_targets()
        candidates = _reverse_candidates(program, transaction, m3_record)
        mapped: dict[str, dict[str, list[str]]] = {}
        inbound = getattr(config, "inbound", None)
        if any(p == "MMS200MI" for p, _ in excluded):
            inbound = None
        for m in provenance.item_mapped_sources(inbound, exclude_program=program):
            for source in m.sources:
                mapped.setdefault(f"product.{m.field}", {}).setdefault(source, []).append("inbound.yaml item")
        return Problem(program, transaction, "infor_to_prestashop", info.get("description", ""), targets,
                       candidates, mapped, lookups, cuno_template)
    targets = _forward_targets(program, transaction)
    candidates = [_candidate(s) for s in catalogue.bundle_sources(bundle)]
    mapped = {}
    if config is not None:
        for m in provenance.mapped_sources(config, exclude=[(program, transaction), *excluded]):
            for source in m.sources:
                mapped.setdefault(m.field, {}).setdefault(source, []).append(f"{m.program}/{m.transaction}")
    return Problem(program, transaction, "prestashop_to_infor", info.get("description", ""), targets, candidates,
                   mapped, lookups, cuno_template)


# --- signals ----------------------------------------------------------------------------------------------

def concept_score(target: frozenset[str], source: frozenset[str], part: frozenset[str] = frozenset()) -> float:
    """IDF-weighted Dice overlap; the source's part (``customer``, ``address_delivery``) counts half."""
    weights: dict[str, float] = {c: _weight(c) for c in source}
    for c in part:
        weights.setdefault(c, PART_CONCEPT_WEIGHT * _weight(c))
    common = sum(min(_weight(c), weights[c]) for c in target if c in weights)
    if not common:
        return 0.0
    total = sum(_weight(c) for c in target) + sum(weights.values())
    return 2 * common / total


def fuzzy_score(target_text: str, source_text: str) -> float:
    if not target_text or not source_text:
        return 0.0
    return fuzz.token_set_ratio(target_text, source_text) / 100.0


def context_score(problem: Problem, candidate: Candidate) -> float:
    """How well the source's part of the bundle suits the transaction (rules on the transaction's concepts)."""
    if problem.direction == "infor_to_prestashop":
        return 1.0
    tx = lexicon.concepts(f"{problem.description} {problem.transaction}")
    part = candidate.part
    is_line, is_address = "LINE" in tx, "ADDRESS" in tx
    address_part = part.startswith(("address_", "country_", "state_"))
    if part == "order_rows[]":
        return 1.0 if is_line else 0.0
    if is_line:
        return 0.5 if part in ("order", "currency") else 0.2
    if is_address:
        return 1.0 if address_part else 0.6 if part == "customer" else 0.3
    if "CUSTOMER" in tx and "ORDER" not in tx:
        return 1.0 if part == "customer" or address_part else 0.3
    return 1.0 if part in ("order", "customer", "currency", "carrier") else 0.5


def features(problem: Problem, target: Target, candidate: Candidate) -> list[float]:
    """The signal vector of one pair, in ``FEATURES`` order."""
    mapped = 1.0 if candidate.name in problem.mapped.get(target.name, {}) else 0.0
    return [
        concept_score(target.concepts, candidate.concepts, candidate.part_concepts),
        fuzzy_score(target.text, candidate.text),
        shapes.compatibility(target.kind, candidate.kind),
        shapes.length_fit(target.length, candidate.length, candidate.kind),
        context_score(problem, candidate),
        mapped,
        1.0,
    ]


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def score(weights: Sequence[float], vector: Sequence[float]) -> float:
    return _sigmoid(sum(w * x for w, x in zip(weights, vector, strict=True)))


def rank(problem: Problem, weights: Sequence[float] | None = None
         ) -> dict[str, list[tuple[Candidate, float, list[float]]]]:
    """Target name → every candidate with its score and signals, best first (ties by source name)."""
    w = tuple(weights) if weights is not None else default_weights()
    out: dict[str, list[tuple[Candidate, float, list[float]]]] = {}
    for target in problem.targets:
        scored = []
        for candidate in problem.candidates:
            vector = features(problem, target, candidate)
            scored.append((candidate, score(w, vector), vector))
        scored.sort(key=lambda x: (-x[1], x[0].name))
        out[target.name] = scored
    return out


# --- presenting -------------------------------------------------------------------------------------------

def transform_for(problem: Problem, target: Target, candidate: Candidate) -> str | None:
    """The transform the mapping needs on the way (the field-map vocabulary of ``mappings/*.yaml``)."""
    t, s = target.kind, candidate.kind
    if t == "date" and s in ("datetime", "date"):
        return "date"
    if t == "amount" and s in ("amount", "integer"):
        return "decimal"
    if t in ("quantity", "integer") and s in ("integer", "amount"):
        return "integer"
    if t == "bool" and s in ("code", "integer"):
        return "lookup"
    needs_lookup = (t in ("code", "language", "currency", "country") and s in ("id", "text")) or (
        t == "identifier" and s == "id" and target.length is not None and candidate.length > target.length)
    if needs_lookup:
        for table in problem.lookups:
            if lexicon.concepts(lexicon.source_words(table)) & (candidate.concepts | target.concepts):
                return f"lookup({table})"
        return "lookup"
    if (problem.customer_number and s == "id" and "CUSTOMER" in target.concepts and "NUMBER" in target.concepts
            and "CUSTOMER" in (candidate.part_concepts | candidate.concepts)):
        return f"format({problem.customer_number})"
    if target.length is not None and candidate.length > target.length and s == "text":
        return f"truncate({target.length})"
    if t == "code" and s in ("text", "code") and problem.direction == "prestashop_to_infor":
        return "upper"
    return None


def explain(problem: Problem, target: Target, candidate: Candidate, vector: Sequence[float]) -> str:
    """Why, in words, from the signals that counted; sample values are never repeated (personal data)."""
    concept, fuzzy, shape, length, context, mapped, _ = vector
    parts: list[str] = []
    common = sorted(target.concepts & (candidate.concepts | candidate.part_concepts))
    if concept >= 0.2 and common:
        parts.append(f"{target.description or target.name!r} and {candidate.field!r} both mean "
                     f"{', '.join(c.lower() for c in common)}")
    elif fuzzy >= 0.6:
        parts.append(f"names alike ({fuzzy:.2f})")
    origin = "the sample's value" if candidate.has_sample else "the documented type"
    if shape >= 0.8:
        parts.append(f"{origin} is {_article(candidate.kind)} as {target.name} expects")
    elif shape <= 0.3:
        parts.append(f"{origin} is {_article(candidate.kind)}, {target.name} expects {_article(target.kind)}")
    if length < 1.0 and target.length:
        parts.append(f"longer than {target.length} characters")
    if mapped:
        where = problem.mapped.get(target.name, {}).get(candidate.name, [])
        parts.append(f"mapped so in {', '.join(sorted(set(where)))}")
    if context == 0.0:
        parts.append("a line field on a head transaction")
    return "; ".join(parts) or "weak match"


def _article(kind: str) -> str:
    words = {"id": "an id", "integer": "a whole number", "amount": "an amount", "date": "a date",
             "datetime": "a date and time", "email": "an e-mail address", "phone": "a phone number",
             "country": "an ISO country code", "currency": "an ISO currency code", "state": "a state code",
             "postcode": "a postcode", "code": "a short code", "text": "text", "bool": "a yes/no flag",
             "identifier": "an identifier", "quantity": "a quantity", "language": "a language"}
    return words.get(kind, kind)


def suggest(program: str, transaction: str, *, config: Any = None, bundle: Mapping[str, Any] | None = None,
            m3_record: Mapping[str, Any] | None = None, top: int = 3, min_score: float = 0.1,
            weights: Sequence[float] | None = None) -> dict[str, Any]:
    """The ``psinfor map suggest --json`` document for one transaction."""
    problem = build_problem(program, transaction, config=config, bundle=bundle, m3_record=m3_record)
    ranked = rank(problem, weights)
    suggestions: list[dict[str, Any]] = []
    for target in problem.targets:
        candidates: list[dict[str, Any]] = []
        for candidate, value, vector in ranked[target.name][:top]:
            if value < min_score:
                break
            candidates.append({"source": candidate.name, "score": round(value, 2),
                               "transform": transform_for(problem, target, candidate),
                               "why": explain(problem, target, candidate, vector)})
        suggestions.append({"field": target.name, "description": target.description, "required": target.required,
                            "candidates": candidates})
    suggestions.sort(key=lambda s: (not s["required"], -(s["candidates"][0]["score"] if s["candidates"] else 0)))
    return {"target": problem.label, "direction": problem.direction, "suggestions": suggestions}


# --- fitting (used by bench/eval.py) ----------------------------------------------------------------------

def fit_weights(examples: Sequence[tuple[Sequence[float], int]], *, l2: float = 1.0, iterations: int = 25,
                pos_weight: float = 1.0) -> tuple[float, ...]:
    """Logistic regression by Newton's method (a handful of features: exact, deterministic, no numpy).

    Unweighted by default, so a score reads as the chance that the pair is right (calibrated on the labelled
    pairs); ``l2`` keeps weights finite on separable data.
    """
    n = len(FEATURES)
    w = [0.0] * n
    for _ in range(iterations):
        grad = [l2 * x for x in w]
        hess = [[l2 if i == j else 0.0 for j in range(n)] for i in range(n)]
        grad[-1] -= l2 * w[-1]  # the bias is not penalised
        hess[-1][-1] -= l2
        for x, y in examples:
            p = score(w, x)
            c = pos_weight if y else 1.0
            r = c * (p - y)
            s = c * p * (1 - p)
            for i in range(n):
                xi = x[i]
                if xi == 0.0:
                    continue
                grad[i] += r * xi
                row = hess[i]
                sxi = s * xi
                for j in range(i + 1):
                    row[j] += sxi * x[j]
        for i in range(n):
            for j in range(i):
                hess[j][i] = hess[i][j]
        hess[-1][-1] += 1e-9
        step = _solve(hess, grad)
        w = [wi - si for wi, si in zip(w, step, strict=True)]
        if max(abs(si) for si in step) < 1e-7:
            break
    return tuple(round(x, 6) for x in w)


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a small dense system)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-12:
            continue
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for k in range(col, n + 1):
                m[r][k] -= f * m[col][k]
    x = [0.0] * n
    for i in range(n - 1, -1, -1):
        if abs(m[i][i]) < 1e-12:
            continue
        x[i] = (m[i][n] - sum(m[i][k] * x[k] for k in range(i + 1, n))) / m[i][i]
    return x
