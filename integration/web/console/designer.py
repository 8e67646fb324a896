"""The mapping designer's model: field maps read from and written back to ``mappings/*.yaml``.

Invariants:
- An edit is a list of operations replayed on a fresh round-trip load of the saved file (ruamel.yaml), so the
  server keeps no state per browser and the text written keeps every comment, key order and flow style.
- A candidate is checked by the same loader as ``psinfor map check`` (``load_mappings`` on a copy of the
  mapping folder with the candidate in place), and previewed by the same code as ``psinfor map preview``.
- Saving refuses a candidate that does not check, or a file that changed since the editor read it; the
  previous version is kept under ``<mappings>/.history/`` (not a ``*.yaml`` of the folder, so the loader
  ignores it).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import io
import json
import os
import shutil
import tempfile
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from integration.errors import ConfigurationError, IntegrationError
from integration.mapping import loader, m3fields
from integration.mapping.fieldmap import FORMATS, Roots, check_path
from integration.mapping.schema import FILES, FieldSpecSchema

HISTORY_DIR = ".history"
# The loader's own field-spec keys, in its order (one place for the fact: integration/mapping/schema.py).
SPEC_KEYS = tuple(f.data_key or name for name, f in FieldSpecSchema._declared_fields.items())
# The canonical record each field map of orders.yaml is rendered from (the loader's own roots).
ORDER_MAPS: dict[str, tuple[str, Roots]] = {
    "AddBatchHead": ("OIS100MI", loader.HEAD_ROOTS),
    "AddBatchAddress": ("OIS100MI", loader.ADDRESS_ROOTS),
    "AddBatchLine": ("OIS100MI", loader.LINE_ROOTS),
    "AddBatchHeadChg": ("OIS100MI", loader.CHARGE_ROOTS),
}


class DesignerError(IntegrationError):
    """A request the designer cannot carry out (unknown file, a malformed operation, a stale base)."""


def _yaml() -> YAML:
    """Round-trip YAML in the house style of ``mappings/`` (2-space maps, "- " indented by 2, no re-wrapping)."""
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


@dataclass(frozen=True)
class Target:
    name: str
    length: int | None
    required: bool
    description: str


@dataclass(frozen=True)
class FieldMapView:
    """One field map of a file: where it is in the YAML, the M3 transaction, its current specs."""

    key: str  # dotted path of the field map in the file: "infor.AddBatchHead", "calls.0.fields"
    program: str
    transaction: str
    specs: dict[str, dict[str, Any]]
    sources: list[str]
    targets: list[Target]
    implicit: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "program": self.program, "transaction": self.transaction, "specs": self.specs,
                "sources": self.sources, "implicit": list(self.implicit),
                "targets": [dataclasses.asdict(t) for t in self.targets]}


def mapping_files(directory: Path) -> list[str]:
    """The mapping files the loader reads, in its order."""
    return [name for name in FILES if (directory / name).is_file()]


def file_path(directory: Path, name: str) -> Path:
    if name not in FILES:
        raise DesignerError(f"{name!r} is not a mapping file (known: {', '.join(FILES)})")
    return directory / name


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- what a field map can draw from and write to -----------------------------------------------------------

def source_paths(roots: Roots, depth: int = 4) -> list[str]:
    """Every path a field spec's ``from`` may name for these roots (checked by the loader's ``check_path``)."""
    found: list[str] = []
    for name, node in roots.items():
        found.extend(_walk(node, name, depth))
    return [p for p in found if check_path(p, roots) is None]


def _walk(node: Any, prefix: str, depth: int) -> Iterator[str]:
    if node is None or depth == 0:
        yield prefix
    elif node is list:
        for i in range(4):
            yield f"{prefix}.{i}"
    elif isinstance(node, Mapping):
        for key, child in node.items():
            yield from _walk(child, f"{prefix}.{key}", depth - 1)
    elif dataclasses.is_dataclass(node):
        for name, hint in typing.get_type_hints(node).items():
            child = _child(hint)
            if child is not _SKIP:
                yield from _walk(child, f"{prefix}.{name}", depth - 1)
        for name, value in vars(node).items():
            if isinstance(value, property):
                yield f"{prefix}.{name}"


_SKIP = object()


def _child(hint: Any) -> Any:
    """A dataclass field's type as a walk node: a dataclass, ``list`` of scalars, None (a value), or _SKIP (a
    list of records, which a field map cannot index into)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and args:
        hint = args[0]
        args = list(typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return _SKIP if args and dataclasses.is_dataclass(args[0]) else list
    if dataclasses.is_dataclass(hint):
        return hint
    return None


@cache
def _descriptions() -> dict[str, dict[str, dict[str, str]]]:
    text = resources.files("integration.web.console").joinpath("m3_descriptions.json").read_text("utf-8")
    data: dict[str, dict[str, dict[str, str]]] = json.loads(text)["programs"]
    return data


def targets(program: str, transaction: str) -> list[Target]:
    """The transaction's input fields with M3's length (the connector's metadata) and description."""
    if not m3fields.has_transaction(program, transaction):
        return []
    lengths = m3fields.field_lengths(program, transaction)
    required = set(m3fields.required_fields(program, transaction))
    described = _descriptions().get(program, {}).get(transaction, {})
    return [Target(name, length, name in required, described.get(name, ""))
            for name, length in sorted(lengths.items())]


# -- reading and editing ------------------------------------------------------------------------------------

def load_document(text: str) -> Any:
    return _yaml().load(text)


def dump_document(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def field_maps(name: str, doc: Any) -> list[FieldMapView]:
    """The field maps of a mapping file (orders.yaml, customers.yaml); none for the other files."""
    views: list[FieldMapView] = []
    if not isinstance(doc, Mapping):
        return views
    if name == "orders.yaml":
        infor = doc.get("infor") or {}
        for transaction, (program, roots) in ORDER_MAPS.items():
            if isinstance(infor, Mapping) and transaction in infor:
                views.append(FieldMapView(f"infor.{transaction}", program, transaction,
                                          _specs(infor[transaction]), source_paths(roots),
                                          targets(program, transaction), implicit=("ORNO",)))
    elif name == "customers.yaml":
        calls = [(f"calls.{i}.fields", c) for i, c in enumerate(doc.get("calls") or [])]
        if isinstance(doc.get("update"), Mapping):
            calls.append(("update.fields", doc["update"]))
        for key, call in calls:
            transaction = str(call.get("transaction", ""))
            views.append(FieldMapView(key, "CRS610MI", transaction, _specs(call.get("fields") or {}),
                                      source_paths(loader.CUSTOMER_ROOTS), targets("CRS610MI", transaction)))
    return views


def _specs(node: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(node, Mapping):
        return {}
    return {str(k): {str(a): _plain(b) for a, b in v.items()} if isinstance(v, Mapping) else {}
            for k, v in node.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    return str(value)


def _node(doc: Any, key: str) -> CommentedMap:
    current = doc
    for part in key.split("."):
        if isinstance(current, list):
            if not part.isdigit() or int(part) >= len(current):
                raise DesignerError(f"no field map {key!r}")
            current = current[int(part)]
        elif isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            raise DesignerError(f"no field map {key!r}")
    if not isinstance(current, CommentedMap):
        raise DesignerError(f"{key!r} is not a field map")
    return current


def clean_spec(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A spec from the browser, reduced to the keys the loader knows, in the file's usual order. Empty and
    default values are left out, so the YAML stays as short as a person would write it."""
    spec: dict[str, Any] = {}
    for key in SPEC_KEYS:
        value = raw.get(key)
        if value is None or value == "" or value is False:
            continue
        if key == "format" and value == "text":
            continue
        if key in ("truncate", "omit_zero"):
            spec[key] = True
        elif key == "format" and value not in FORMATS:
            raise DesignerError(f"unknown format {value!r} (one of: {', '.join(FORMATS)})")
        else:
            spec[key] = str(value)
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise DesignerError(f"unknown key(s) in a field spec: {', '.join(unknown)}")
    return spec


def apply_operations(text: str, operations: list[Mapping[str, Any]]) -> str:
    """The file's text with the designer's operations applied, comments and order kept.

    ``{"map": "infor.AddBatchHead", "field": "YREF", "spec": {"from": "order.reference", "truncate": true}}``
    sets a field (a new field goes last, in flow style); ``"spec": null`` removes it.
    """
    doc = load_document(text)
    for op in operations:
        if not isinstance(op, Mapping):
            raise DesignerError("an operation must be an object")
        target = _node(doc, str(op.get("map", "")))
        field_name = str(op.get("field", ""))
        if not field_name:
            raise DesignerError("an operation must name a field")
        raw = op.get("spec")
        if raw is None:
            if field_name in target:
                del target[field_name]
            continue
        if not isinstance(raw, Mapping):
            raise DesignerError("a field spec must be an object")
        spec = clean_spec(raw)
        existing = target.get(field_name)
        if isinstance(existing, CommentedMap):
            _update_in_place(existing, spec)
        else:
            fresh = CommentedMap(spec)
            fresh.fa.set_flow_style()
            target[field_name] = fresh
    return dump_document(doc)


def _update_in_place(node: CommentedMap, spec: dict[str, Any]) -> None:
    """Change a spec's keys without replacing its node (its comment and flow style stay)."""
    for key in [k for k in node if k not in spec]:
        del node[key]
    for index, (key, value) in enumerate(spec.items()):
        if key in node:
            node[key] = value
        else:
            node.insert(min(index, len(node)), key, value)


# -- checking, previewing, saving ------------------------------------------------------------------------

@dataclass
class Candidate:
    """A mapping folder with one file replaced, checked by the loader."""

    name: str
    text: str
    problems: list[dict[str, str]]
    config: loader.MappingConfig | None


def check(directory: Path, name: str, text: str) -> Candidate:
    """Load the whole mapping folder with ``text`` in place of ``name``: the loader's problems, or its config."""
    file_path(directory, name)
    with tempfile.TemporaryDirectory(prefix="psinfor-map-") as tmp:
        folder = Path(tmp)
        for other in directory.glob("*.y*ml"):
            shutil.copyfile(other, folder / other.name)
        (folder / name).write_text(text, encoding="utf-8")
        try:
            config = loader.load_mappings(folder)
        except ConfigurationError as exc:
            problems = [{"file": Path(p["file"]).name, "key": p.get("key", ""), "problem": p.get("problem", "")}
                        for p in exc.details.get("problems", [])]
            return Candidate(name, text, problems or [{"file": name, "key": "", "problem": exc.message}], None)
    return Candidate(name, text, [], dataclasses.replace(config, directory=directory))


def diff(old: str, new: str, name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"{name} (saved)", tofile=f"{name} (edited)"))


def preview(config: loader.MappingConfig, name: str, bundle: Mapping[str, Any]) -> dict[str, Any]:
    """``psinfor map preview``'s result for one order with this configuration; for customers.yaml, also the
    CRS610MI calls that would create the order's customer."""
    from integration.mapping.engine import MappingEngine
    from integration.mapping.preview import preview_order

    engine = MappingEngine(config)
    result = preview_order(engine, bundle)
    if name == "customers.yaml":
        try:
            order = engine.ps_order_to_canonical(bundle)
            customer = order.customer
            calls = engine.customer_to_infor(customer, cuno=engine.cuno_for(customer.ps_customer_id))
            result = {**result, "infor": [dict(c) for c in calls]}
        except IntegrationError as exc:
            result = {**result, "infor": [], "validation": [
                *result.get("validation", []),
                {"record": "customer", "field": "", "rule": "mapping", "message": str(exc), "value": None}]}
    return result


def save(directory: Path, name: str, text: str, base_hash: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Write ``text`` as the mapping file when it checks and the file is still the one the editor read;
    the previous version goes to ``.history/``. Returns what was done (paths relative to the folder)."""
    path = file_path(directory, name)
    current = path.read_text(encoding="utf-8")
    if text_hash(current) != base_hash:
        raise DesignerError(f"{name} changed on disk since it was opened; reload it and apply the change again")
    candidate = check(directory, name, text)
    if candidate.problems:
        raise DesignerError(f"{name} does not check: " + "; ".join(
            f"{p['file']}: {p['key'] or '(top level)'}: {p['problem']}" for p in candidate.problems),
            details={"problems": candidate.problems})
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    history = directory / HISTORY_DIR
    history.mkdir(exist_ok=True)
    kept = history / f"{Path(name).stem}.{stamp}{Path(name).suffix}"
    shutil.copy2(path, kept)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"file": name, "previous": str(kept.relative_to(directory)), "hash": text_hash(text),
            "diff": diff(current, text, name)}


def parse_check_error(exc: YAMLError) -> dict[str, str]:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return {"file": "", "key": where, "problem": f"not valid YAML: {getattr(exc, 'problem', None) or exc}"}


def canonical_paths(source: str, sources: list[str]) -> list[str]:
    """The field map's source paths a suggested shop field reaches: itself when the map draws from it, else the
    canonical paths the engine fills from it (``ai.provenance.CANONICAL``, the one place that says so), the
    paths read from it alone first. The suggester ranks bundle fields; the designer connects canonical paths."""
    from integration.ai.provenance import CANONICAL

    known = set(sources)
    if source in known:
        return [source]
    paths = [p for p, behind in CANONICAL.items() if source in behind and p in known]
    return sorted(paths, key=lambda p: (len(CANONICAL[p]), p))
