"""Interleaved documents as the Parquet table of a layout: the columns' types are read from the
values, and a file written a block of documents at a time gets the types of all its blocks.

A block's :class:`Plan` says what its values allow (the source's type, the type inferred from
them, the keys of a JSON Lines source as columns); the plans of a file's blocks, merged in
order, decide each column's type before the first block is written, so that the file does not
depend on how its documents were read. For a file of one block this is the table the whole
file's values give.

The keys of a JSON Lines source (the canonical column ``extra``) become a column each: every key
of the file, in order of first appearance, null in a document without it. They stay in the one
JSON column ``extra`` instead, all of them, when a column per key would lose or mislabel data:
a key without one type over the file, a key named like a column the file has otherwise (the
layout's, another carried column) or that reading it back would take for its own (``doc_id``,
``segments``, ``extra``), or more than :data:`MAX_KEY_COLUMNS` keys. A column carried from a
Parquet source that the layout writes too is an :class:`~mmdedup.InputError`: one of the two
would be lost.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..errors import InputError
from .base import Layout, json_kind

__all__ = [
    "MAX_KEY_COLUMNS",
    "RESERVED",
    "Plan",
    "json_default",
    "key_objects",
    "parquet_table",
    "plan_block",
]

MAX_KEY_COLUMNS = 1000
"""Keys of a file that may become columns, at most: past it they stay in ``extra`` (a table of
that many mostly null columns is of no use, and slow to build)."""

RESERVED = ("doc_id", "segments", "extra")
"""The columns of the canonical table of documents that mmdedup fills itself (``extra``: the keys
that are not columns): a key so named does not become a column, and a Parquet source may not
have a column ``doc_id`` or ``segments``."""


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
        keys: A JSON Lines source: its keys (those of every document, in order of first
            appearance), each with its inferred type (None: no one type); None when there are
            none to make columns of (no ``extra`` column, or the source's own Parquet schema).
        stay: Why the keys stay in the one JSON column ``extra`` whatever their types (a name
            that clashes, too many keys); None when they may become columns.
    """

    core: dict[str, tuple[pa.DataType | None, bool, pa.DataType | None]] = field(
        default_factory=dict
    )
    keys: dict[str, pa.DataType | None] | None = None
    stay: str | None = None

    def merge(self, later: Plan) -> Plan:
        """This plan and the next block's: the keys of both, each with the type of all its
        values (a key absent from a block is null there, which any type holds)."""
        core = {
            name: (kind, fits and later.core[name][1], _unify(inf, later.core[name][2]))
            for name, (kind, fits, inf) in self.core.items()
        }
        keys = None
        stay = self.stay or later.stay
        if self.keys is not None and later.keys is not None:
            keys = dict(self.keys)
            for k, t in later.keys.items():
                keys[k] = _unify(keys[k], t) if k in keys else t
            if stay is None and len(keys) > MAX_KEY_COLUMNS:
                stay = f"more than {MAX_KEY_COLUMNS} keys"
            if stay is not None:
                keys = {}  # their types no longer matter
        return Plan(core, keys, stay)

    def why_extra(self) -> str | None:
        """Why a JSON Lines source's keys are written as the one JSON column ``extra`` rather
        than as columns; None when they become columns (or there are none)."""
        if self.keys is None:
            return None
        if self.stay is not None:
            return self.stay
        mixed = [k for k, t in self.keys.items() if t is None]
        return f"the key {mixed[0]!r} has no one type" if mixed else None

    def key_types(self) -> dict[str, pa.DataType] | None:
        """The keys that become columns, with their types; None when they stay in ``extra``
        (or there are none to make columns of)."""
        if self.keys is None or self.stay is not None:
            return None
        if any(t is None for t in self.keys.values()):
            return None
        return {k: t for k, t in self.keys.items() if t is not None}


def plan_block(
    layout: Layout,
    core: list[dict[str, Any]],
    carried: pa.Table,
    source: pa.Schema | None,
    first: Plan | None = None,
    *,
    ids: pa.ChunkedArray | pa.Array | None = None,
) -> Plan:
    """The plan of one block: ``core`` its documents as ``layout.write_row`` gives them,
    ``carried`` their other columns, ``source`` the source's schema (when the layout is the
    source's: its columns are written as they are, ``extra`` included). ``first``: the plan of
    the file's first block, whose core columns the others follow. ``ids``: the documents'
    ``doc_id``, to name one in an error.

    A carried column the layout writes too is an :class:`~mmdedup.InputError`."""
    names = (
        list(first.core)
        if first is not None
        else [n for n in layout.core if not core or n in core[0]]
    )
    written = set(names) | set(layout.core)
    clash = [n for n in carried.column_names if n in written]
    if clash:
        raise InputError(
            f"the column(s) {', '.join(map(repr, clash))} carried from the source are also "
            f"column(s) that {layout.name} writes from the documents: one of the two would be "
            f"lost; rename them in the source, or convert to another layout"
        )
    plan = Plan()
    for name in names:
        kind = source.field(name).type if source is not None and name in source.names else None
        values = [c[name] for c in core]
        fits = kind is not None and _inferred(values, kind) is not None
        plan.core[name] = (kind, fits, _inferred(values))
    if "extra" in carried.column_names and source is None:
        objs = key_objects(carried.column("extra"), ids)
        keys = dict.fromkeys(k for o in objs for k in o)
        taken = written | set(RESERVED) | set(carried.column_names)
        named = [k for k in keys if k in taken]
        plan.keys = {}
        if named:
            plan.stay = f"the key {named[0]!r} is the name of another column"
        elif len(keys) > MAX_KEY_COLUMNS:
            plan.stay = f"more than {MAX_KEY_COLUMNS} keys"
        else:
            plan.keys = {k: _inferred([o.get(k) for o in objs]) for k in keys}
    return plan


def key_objects(
    extra: pa.Array | pa.ChunkedArray, ids: pa.ChunkedArray | pa.Array | None = None
) -> list[dict[str, Any]]:
    """The keys of each document, from the canonical column ``extra`` (JSON objects, or null
    for none); a value that is not a JSON object is an :class:`~mmdedup.InputError` naming the
    document (its ``doc_id`` from ``ids``)."""
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(extra.to_pylist()):
        if raw is None:
            out.append({})
            continue
        what = f"{json_kind(raw)} ({extra.type})"
        obj = None
        if isinstance(raw, str):
            try:
                obj = json.loads(raw)
                what = f"JSON that is {json_kind(obj)}"
            except ValueError:
                what = "text that is not JSON"
        if not isinstance(obj, dict):
            doc = f"document {ids[i].as_py()}: " if ids is not None else ""
            raise InputError(
                f"{doc}the column 'extra' holds {what} where mmdedup expects a JSON object (it "
                "keeps there the keys of a document that are not columns): rename the column in "
                "the source"
            )
        out.append(obj)
    return out


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
        objs = key_objects(carried.column("extra"))
        carried = carried.drop_columns(["extra"])
        for k, kind in keys.items():
            try:
                values = pa.array([o.get(k) for o in objs], kind)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise InputError(f"key {k!r} cannot hold its values as {kind}: {e}") from e
            carried = carried.append_column(pa.field(k, kind), values)
    for name in carried.column_names:  # none is a core column: plan_block saw to it
        out = out.append_column(carried.field(name), carried.column(name))
    if source is not None and set(source.names) == set(out.column_names):
        out = out.select(source.names).replace_schema_metadata(source.metadata)
    return out
