"""Human tables and JSON documents for the `dockyard` CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

EMPTY = "-"
LIST_COLUMNS = ("UUID", "NAME", "IMAGE", "STATUS", "TASK STATE", "ADDRESSES", "PORTS")
HIDDEN_FIELDS = frozenset({"links"})


def to_json(document: Any) -> str:
    """The API's JSON as one indented document."""
    return json.dumps(document, indent=2)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, headers first, no trailing blanks."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(headers), *rows]
    ]
    return "\n".join(lines)


def cell(value: Any) -> str:
    """One value on one line: strings as they are, nothing as '-', the rest as JSON."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, str):
        return value.replace("\n", "\\n")
    return json.dumps(value, separators=(", ", ": "))


def addresses(value: Any) -> str:
    """Every address of every network, comma-separated."""
    if not isinstance(value, Mapping):
        return EMPTY
    found = [
        str(entry.get("addr"))
        for entries in value.values()
        for entry in entries or []
        if isinstance(entry, Mapping) and entry.get("addr")
    ]
    return ",".join(found) or EMPTY


def ports(value: Any) -> str:
    """Exposed ports, comma-separated."""
    if not isinstance(value, list) or not value:
        return EMPTY
    return ",".join(str(port) for port in value)


def container_row(container: Mapping[str, Any]) -> list[str]:
    """The `list` columns of one container."""
    return [
        cell(container.get("uuid")),
        cell(container.get("name")),
        cell(container.get("image")),
        cell(container.get("status")),
        cell(container.get("task_state")),
        addresses(container.get("addresses")),
        ports(container.get("ports")),
    ]


def containers_table(containers: Sequence[Mapping[str, Any]]) -> str:
    """The `list` table."""
    return table(LIST_COLUMNS, [container_row(c) for c in containers])


def fields_table(document: Mapping[str, Any]) -> str:
    """A FIELD / VALUE table of one object, in the API's field order."""
    rows = [[key, cell(value)] for key, value in document.items() if key not in HIDDEN_FIELDS]
    return table(("FIELD", "VALUE"), rows)
