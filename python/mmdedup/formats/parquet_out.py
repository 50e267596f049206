"""Interleaved documents as the Parquet table of a layout: the columns' types are read from the
values, and a file written a block of documents at a time gets the types of all its blocks.

A block's :class:`Plan` says what its values allow (the source's type, the type inferred from
them, the keys of a JSON Lines source as columns); the plans of a file's blocks, merged in
order, decide each column's type before the first block is written, so that the file does not
depend on how its documents were read. For a file of one block this is the table the whole
file's values give.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..errors import InputError
from .base import Layout

__all__ = ["Plan", "json_default", "parquet_table", "plan_block"]


def json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def _storable(kind: pa.DataType) -> bool:
    """Whether Parquet can store a type: not a struct without fields, nor one inside another."""
    if pa.types.is_struct(kind):
        return kind.num_fields > 0 and all(
            _storable(kind.field(i).type) for i in range(kind.num_fields)
        )
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _storable(kind.value_type)
    return True


def _inferred(values: list[Any], kind: pa.DataType | None = None) -> pa.DataType | None:
    """The type of ``values`` as Arrow reads them (as ``kind`` when given), if Parquet can
    store it; None when it cannot, or the values have no one type."""
    try:
        column = pa.array(values, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return column.type if _storable(column.type) else None


def _unify(a: pa.DataType | None, b: pa.DataType | None) -> pa.DataType | None:
    if a is None or b is None:
        return None
    if a == b:
        return a
    try:
        kind = (
            pa.unify_schemas(
                [pa.schema([("x", a)]), pa.schema([("x", b)])], promote_options="permissive"
            )
            .field("x")
            .type
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    return kind if _storable(kind) else None


@dataclass
class Plan:
    """What the values of one block (or of several, merged) allow.

    Attributes:
        core: The layout's columns written (those the file's first document has), each with
            the source's type (None when the source does not give one), whether that type holds
            every value, and the type inferred from the values (None: no one type; written as
            JSON text).
        keys: A JSON Lines source: its keys that become columns (those of the file's first
            document), each with its inferred type; None when they stay one JSON column
            ``extra`` (a key without one type).
    """

    core: dict[str, tuple[pa.DataType | None, bool, pa.DataType | None]] = field(
        default_factory=dict
    )
    keys: dict[str, pa.DataType | None] | None = None

    def merge(self, later: Plan) -> Plan:
        """This plan and the next block's."""
        core = {
            name: (kind, fits and later.core[name][1], _unify(inf, later.core[name][2]))
            for name, (kind, fits, inf) in self.core.items()
        }
        keys = None
        if self.keys is not None and later.keys is not None:
            keys = {k: _unify(t, later.keys[k]) for k, t in self.keys.items()}
        return Plan(core, keys)

    def key_types(self) -> dict[str, pa.DataType] | None:
        """The keys that become columns, with their types; None when they cannot."""
        if self.keys is None or any(t is None for t in self.keys.values()):
            return None
        return {k: t for k, t in self.keys.items() if t is not None}


def plan_block(
    layout: Layout,
    core: list[dict[str, Any]],
    carried: pa.Table,
    source: pa.Schema | None,
    first: Plan | None = None,
) -> Plan:
    """The plan of one block: ``core`` its documents as ``layout.write_row`` gives them,
    ``carried`` their other columns, ``source`` the source's schema (when the layout is the
    source's). ``first``: the plan of the file's first block, whose columns and keys the others
    follow."""
    names = (
        list(first.core)
        if first is not None
        else [n for n in layout.core if not core or n in core[0]]
    )
    plan = Plan()
    for name in names:
        kind = source.field(name).type if source is not None and name in source.names else None
        values = [c[name] for c in core]
        fits = kind is not None and _inferred(values, kind) is not None
        plan.core[name] = (kind, fits, _inferred(values))
    if "extra" in carried.column_names and (first is None or first.keys is not None):
        objs = _objects(carried)
        if first is not None:
            keys = list(first.keys or {})
        else:
            keys = [k for k in objs[0] if k not in plan.core] if objs else []
        plan.keys = {k: _inferred([o.get(k) for o in objs]) for k in keys}
    return plan


def _objects(carried: pa.Table) -> list[dict[str, Any]]:
    return [json.loads(e) if e else {} for e in carried.column("extra").to_pylist()]


def parquet_table(
    layout: Layout,
    core: list[dict[str, Any]],
    carried: pa.Table,
    source: pa.Schema | None,
    plan: Plan,
) -> pa.Table:
    """The layout's table of a block, with the column types ``plan`` (the file's) decides."""
    columns: dict[str, pa.Array] = {}
    for name, (kind, fits, inferred) in plan.core.items():
        values = [c[name] for c in core]
        chosen = kind if fits else inferred
        if chosen is None:
            text = [None if v is None else json.dumps(v, default=json_default) for v in values]
            columns[name] = pa.array(text, pa.string())
            continue
        try:
            columns[name] = pa.array(values, chosen)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise InputError(f"column {name!r} cannot hold its values as {chosen}: {e}") from e
    out = pa.table(columns) if columns else pa.table({})
    keys = plan.key_types()
    if "extra" in carried.column_names and keys is not None:
        # A JSON Lines source's keys become columns, when each key holds one type.
        objs = _objects(carried)
        carried = carried.drop_columns(["extra"])
        for k, kind in keys.items():
            try:
                values = pa.array([o.get(k) for o in objs], kind)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise InputError(f"key {k!r} cannot hold its values as {kind}: {e}") from e
            carried = carried.append_column(pa.field(k, kind), values)
    for name in carried.column_names:
        if name not in columns:
            out = out.append_column(carried.field(name), carried.column(name))
    if source is not None and set(source.names) == set(out.column_names):
        out = out.select(source.names).replace_schema_metadata(source.metadata)
    return out
