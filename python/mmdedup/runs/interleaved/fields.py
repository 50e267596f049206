"""Per-document fields of the layouts' own columns (dates, scores, URLs), for keep rules and
paragraph scopes."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import pyarrow as pa

from ...errors import ParameterError

_JSON_COLUMNS = ("extra", "meta", "general_metadata", "metadata")


def field_values(table: pa.Table, name: str) -> list[Any]:
    """A document field: a column, else a key of the JSON objects in ``extra``, ``meta``,
    ``general_metadata`` or ``metadata`` (also nested in one another, as when a Parquet layout's
    ``general_metadata`` travelled to JSON Lines); dots go deeper (``meta.date``).

    >>> inner = json.dumps({"date": "2021"})
    >>> t = pa.table({"extra": [json.dumps({"general_metadata": inner}), None]})
    >>> field_values(t, "date")
    ['2021', None]
    """
    rows = table.drop_columns([c for c in ("doc_id", "segments") if c in table.column_names])
    path = name.split(".")
    return [_lookup(r, path) for r in rows.to_pylist()]


def _lookup(value: Any, path: list[str]) -> Any:
    if isinstance(value, str) and value[:1] == "{":
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    if path[0] in value:
        return value[path[0]] if len(path) == 1 else _lookup(value[path[0]], path[1:])
    for nested in _JSON_COLUMNS:
        if nested in value:
            found = _lookup(value[nested], path)
            if found is not None:
                return found
    return None


def as_number(value: Any) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, _dt.datetime | _dt.date):
        return as_number(value.isoformat())
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            t = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as e:
            raise ParameterError(
                f"keep field value {value!r} is neither a number nor a date"
            ) from e
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.UTC)
        return t.timestamp()
    raise ParameterError(f"keep field value {value!r} is neither a number nor a date")


def urls_of(table: pa.Table) -> list[Any]:
    return field_values(table, "url")
