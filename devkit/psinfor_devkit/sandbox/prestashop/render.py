"""Output the way PrestaShop 8's ``WebserviceOutputXML`` / ``WebserviceOutputJSON`` do, quirks included.

XML: every value in CDATA, empty values as empty elements, ``xlink:href`` on non-zero foreign keys,
``notFilterable="true"`` on computed fields, ``<language id=…>`` children for i18n fields, associations with
``nodeType``/``api`` (or ``virtualEntity``) attributes, bare ``<order id=… xlink:href=…/>`` entries in
minimal lists. JSON: ``id`` as a number and everything else as strings, i18n fields as a plain string when
one language is output and a list of ``{"id","value"}`` otherwise, empty associations dropped, an empty list
as a bare ``[]``, and PHP's ``json_encode`` escaping (``\\/``, ``\\uXXXX``).

Records are stored as PrestaShop would output them (strings; i18n fields as ``{id_lang: text}``), so
rendering is string building, fast enough for the benchmark.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from psinfor_devkit.sandbox.prestashop.schema import Resource

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">\n'
XML_TAIL = "</prestashop>\n"

Display = Sequence[str | tuple[str, Sequence[str]]] | None  # None = full


def cdata(value: str) -> str:
    """CDATA-wrap a value; ``]]>`` inside it is split across two sections, as PHP's output does."""
    if value == "":
        return ""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _lang_ids(value: dict[int, str], languages: Iterable[int] | None) -> list[int]:
    if languages is None:
        return sorted(value)
    wanted = set(languages)
    return [i for i in sorted(value) if i in wanted]


def _field_xml(resource: Resource, name: str, record: dict[str, Any], api: str,
               languages: Iterable[int] | None, indent: str) -> str:
    spec = resource.by_name.get(name)
    value = record.get(name, "")
    attrs = ""
    if spec is not None and spec.not_filterable:
        attrs += ' notFilterable="true"'
    if spec is not None and spec.lang and isinstance(value, dict):
        langs = "".join(
            f'<language id="{i}" xlink:href="{api}/languages/{i}">'
            f'{cdata(value[i]) or "<![CDATA[]]>"}</language>'
            for i in _lang_ids(value, languages))
        return f"{indent}<{name}{attrs}>{langs}</{name}>\n"
    text = "" if value is None else str(value)
    if spec is not None and spec.href and text not in ("", "0"):
        attrs = f' xlink:href="{api}/{spec.href}/{text}"' + attrs
    return f"{indent}<{name}{attrs}>{cdata(text)}</{name}>\n"


def _associations_xml(resource: Resource, record: dict[str, Any], api: str,
                      wanted: dict[str, Sequence[str] | None]) -> str:
    stored = record.get("associations") or {}
    parts = ["<associations>\n"]
    for assoc in resource.associations:
        if assoc.name not in wanted:
            continue
        sub_fields = wanted[assoc.name] or assoc.fields
        items = stored.get(assoc.name) or []
        if assoc.virtual:
            head = f'<{assoc.name} nodeType="{assoc.node_type}" virtualEntity="true"'
        else:
            head = f'<{assoc.name} nodeType="{assoc.node_type}" api="{assoc.api}"'
        if not items:
            parts.append(head + "/>\n")
            continue
        parts.append(head + ">\n")
        for item in items:
            href = "" if assoc.virtual else f' xlink:href="{api}/{assoc.api}/{item.get("id", "")}"'
            parts.append(f"\t<{assoc.node_type}{href}>\n")
            for sub in sub_fields:
                parts.append(f"\t<{sub}>{cdata(str(item.get(sub, '')))}</{sub}>\n")
            parts.append(f"\t</{assoc.node_type}>\n")
        parts.append(f"</{assoc.name}>\n")
    parts.append("</associations>\n")
    return "".join(parts)


def split_display(resource: Resource, display: Display) -> tuple[list[str], dict[str, Sequence[str] | None]]:
    """Plain fields and associations (with their sub-fields, None = all) a display asks for."""
    if display is None:
        return resource.field_names, {a.name: None for a in resource.associations}
    fields: list[str] = []
    assocs: dict[str, Sequence[str] | None] = {}
    for item in display:
        if isinstance(item, tuple):
            assocs[item[0]] = item[1]
        elif resource.association(item) is not None:
            assocs[item] = None
        else:
            fields.append(item)
    ordered = [n for n in resource.field_names if n in fields]
    return ordered, assocs


def record_xml(resource: Resource, record: dict[str, Any], api: str, *, display: Display = None,
               languages: Iterable[int] | None = None, indent: str = "\t") -> str:
    """One ``<order>…</order>`` element."""
    fields, assocs = split_display(resource, display)
    parts = [f"<{resource.singular}>\n"]
    parts.extend(_field_xml(resource, name, record, api, languages, indent) for name in fields)
    if assocs and resource.associations:
        parts.append(_associations_xml(resource, record, api, assocs))
    parts.append(f"</{resource.singular}>\n")
    return "".join(parts)


def object_xml(resource: Resource, record: dict[str, Any], api: str, *, display: Display = None,
               languages: Iterable[int] | None = None) -> bytes:
    return (XML_HEAD + record_xml(resource, record, api, display=display, languages=languages)
            + XML_TAIL).encode()


def list_xml(resource: Resource, records: Iterable[dict[str, Any]], api: str, *, display: Display | str,
             languages: Iterable[int] | None = None) -> bytes:
    """A list: bare ``<order id=… xlink:href=…/>`` entries for the default (minimal) display."""
    parts = [XML_HEAD, f"<{resource.name}>\n"]
    if display == "minimum":
        parts.extend(f'<{resource.singular} id="{r["id"]}" xlink:href="{api}/{resource.name}/{r["id"]}"/>\n'
                     for r in records)
    else:
        full_display = None if display == "full" else display
        parts.extend(record_xml(resource, r, api, display=full_display, languages=languages)  # type: ignore[arg-type]
                     for r in records)
    parts.append(f"</{resource.name}>\n")
    parts.append(XML_TAIL)
    return "".join(parts).encode()


# -- JSON -----------------------------------------------------------------------------------------------


def _php_json(data: Any) -> bytes:
    """``json_encode`` as PHP does by default: ASCII with \\uXXXX escapes and escaped slashes."""
    return json.dumps(data, separators=(",", ":")).replace("/", "\\/").encode()


def _record_json(resource: Resource, record: dict[str, Any], display: Display,
                 languages: Iterable[int] | None) -> dict[str, Any]:
    fields, assocs = split_display(resource, display)
    out: dict[str, Any] = {}
    for name in fields:
        value = record.get(name, "")
        spec = resource.by_name.get(name)
        if name == "id":
            out[name] = int(value)
        elif spec is not None and spec.lang and isinstance(value, dict):
            ids = _lang_ids(value, languages)
            out[name] = value[ids[0]] if len(ids) == 1 else [{"id": str(i), "value": value[i]} for i in ids]
        else:
            out[name] = "" if value is None else str(value)
    stored = record.get("associations") or {}
    rendered = {}
    for assoc in resource.associations:
        if assoc.name in assocs and stored.get(assoc.name):
            sub_fields = assocs[assoc.name] or assoc.fields
            rendered[assoc.name] = [{k: str(item.get(k, "")) for k in sub_fields} for item in stored[assoc.name]]
    if rendered:
        out["associations"] = rendered
    return out


def object_json(resource: Resource, record: dict[str, Any], *, display: Display = None,
                languages: Iterable[int] | None = None) -> bytes:
    return _php_json({resource.singular: _record_json(resource, record, display, languages)})


def list_json(resource: Resource, records: Sequence[dict[str, Any]], *, display: Display | str,
              languages: Iterable[int] | None = None) -> bytes:
    if not records:
        return b"[]"  # the real quirk: not {"orders": []}
    if display == "minimum":
        return _php_json({resource.name: [{"id": int(r["id"])} for r in records]})
    full_display = None if display == "full" else display
    return _php_json({resource.name: [_record_json(resource, r, full_display, languages)  # type: ignore[arg-type]
                                      for r in records]})


# -- schemas and errors ---------------------------------------------------------------------------------


def schema_xml(resource: Resource, kind: str, language_ids: Sequence[int]) -> bytes:
    """``?schema=blank`` (empty template to fill for a POST) or ``?schema=synopsis`` (with validation attrs)."""
    parts = [XML_HEAD, f"<{resource.singular}>\n"]
    for spec in resource.fields:
        if kind == "synopsis" and spec.name == "id":
            continue
        attrs = ""
        if kind == "synopsis":
            if spec.required:
                attrs += ' required="true"'
            if spec.max_size:
                attrs += f' maxSize="{spec.max_size}"'
            if spec.fmt:
                attrs += f' format="{spec.fmt}"'
            if spec.not_writable:
                attrs += ' readOnly="true"'
        empty = "" if kind == "synopsis" else "<![CDATA[]]>"
        if spec.lang:
            langs = "".join(f'<language id="{i}">{empty}</language>' for i in language_ids)
            parts.append(f"\t<{spec.name}{attrs}>{langs}</{spec.name}>\n")
        else:
            parts.append(f"\t<{spec.name}{attrs}>{empty}</{spec.name}>\n")
    if resource.associations:
        parts.append("<associations>\n")
        for assoc in resource.associations:
            extra = ' virtualEntity="true"' if assoc.virtual else f' api="{assoc.api}"'
            parts.append(f'<{assoc.name} nodeType="{assoc.node_type}"{extra}>\n\t<{assoc.node_type}>\n')
            parts.extend(f"\t<{sub}>{'' if kind == 'synopsis' else '<![CDATA[]]>'}</{sub}>\n"
                         for sub in assoc.fields)
            parts.append(f"\t</{assoc.node_type}>\n</{assoc.name}>\n")
        parts.append("</associations>\n")
    parts.append(f"</{resource.singular}>\n")
    parts.append(XML_TAIL)
    return "".join(parts).encode()


def errors_xml(errors: Sequence[tuple[int, str]]) -> bytes:
    body = "".join(f"<error>\n<code>{cdata(str(code))}</code>\n<message>{cdata(message)}</message>\n</error>\n"
                   for code, message in errors)
    return (XML_HEAD + "<errors>\n" + body + "</errors>\n" + XML_TAIL).encode()


def errors_json(errors: Sequence[tuple[int, str]]) -> bytes:
    return _php_json({"errors": [{"code": code, "message": message} for code, message in errors]})


def api_index_xml(resources: Iterable[Resource], api: str, allowed: dict[str, set[str]], shop_name: str) -> bytes:
    """``GET /api/``: the resources this key may use, with its methods and schema links."""
    parts = [XML_HEAD, f'<api shopName="{_attr(shop_name)}">\n']
    for resource in resources:
        methods = allowed.get(resource.name)
        if not methods:
            continue
        flags = " ".join(f'{m.lower()}="{"true" if m in methods else "false"}"'
                         for m in ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"))
        href = f"{api}/{resource.name}"
        parts.append(f'<{resource.name} xlink:href="{href}" {flags}>\n'
                     f'<description xlink:href="{href}" {flags}>{_attr(resource.description)}</description>\n'
                     f'<schema xlink:href="{href}?schema=blank" type="blank"/>\n'
                     f'<schema xlink:href="{href}?schema=synopsis" type="synopsis"/>\n'
                     f"</{resource.name}>\n")
    parts.append("</api>\n")
    parts.append(XML_TAIL)
    return "".join(parts).encode()
