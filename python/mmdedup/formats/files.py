"""Reading and writing interleaved documents in any layout, with the layout detected.

Reading then writing back to the same layout is lossless: Parquet columns come back with their
Arrow types and order, JSON Lines objects with the same keys and values (the layout's keys in
its usual order, then the others in input order). The original schema and layout travel in the
table's schema metadata (``mmdedup.format``, ``mmdedup.schema``).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from ..compression import Compressor, compression_of
from ..errors import InputError, OnError, ParameterError, on_error_mode
from ..io import Shard, atomic_write, discover, jsonl_lines, read_columns
from .aligned import INFIMM, OBELICS, OMNICORPUS
from .base import Layout, RowError, RowResult
from .markdown_layouts import PIN, WANJUAN
from .mmc4 import MMC4
from .model import SEGMENTS, Documents, Problem, make_table

__all__ = ["FORMATS", "detect_format", "jsonl_rows", "read_documents", "write_documents"]

FORMATS: dict[str, Layout] = {f.name: f for f in (OBELICS, MMC4, OMNICORPUS, PIN, WANJUAN, INFIMM)}
"""Every layout by name."""


def _shard(path: str | Path | Shard) -> Shard:
    return path if isinstance(path, Shard) else discover([str(path)])[0]


def _schema(shard: Shard) -> pa.Schema:
    path, fs = shard.path.arrow()
    return pq.read_schema(path, filesystem=fs)


# A `\uD800`..`\uDFFF` escape: half of a surrogate pair, or a lone one (not a character).
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def jsonl_rows(shard: Shard) -> list[dict[str, Any] | str]:
    """Each non-blank line as an object, or the reason it is not one."""
    out: list[dict[str, Any] | str] = []
    for line in jsonl_lines(shard):
        try:
            value = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError as e:
            out.append(f"not valid UTF-8: {e}")
            continue
        except ValueError as e:
            out.append(f"invalid JSON: {e}")
            continue
        if not isinstance(value, dict):
            out.append(f"expected a JSON object, got {type(value).__name__}")
        elif _SURROGATE.search(line) and not _encodable(value):
            out.append("a lone surrogate escape (not a character)")
        else:
            out.append(value)
    return out


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _detect(shard: Shard, keys: set[str], types: dict[str, Any]) -> str:
    for f in FORMATS.values():
        if f.container == shard.format and f.matches(keys, types):
            return f.name
    raise InputError(
        f"cannot tell the layout from the {'columns' if shard.format == 'parquet' else 'keys'} "
        f"{sorted(keys)}; pass --format (format= in Python), one of {', '.join(FORMATS)}",
        path=str(shard.path),
    )


def detect_format(path: str | Path | Shard) -> str:
    """The layout of a file, from its Parquet schema or the keys of its first JSON object.

    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> p = Path(tempfile.mkdtemp()) / "a.parquet"
    >>> pq.write_table(pa.table({"text_list": [["x"]], "image_list": [[None]]}), p)
    >>> detect_format(p)
    'infimm'
    """
    shard = _shard(path)
    if shard.format == "parquet":
        schema = _schema(shard)
        return _detect(shard, set(schema.names), {f.name: f.type for f in schema})
    first = next((r for r in jsonl_rows(shard) if isinstance(r, dict)), {})
    return _detect(shard, set(first), {})


def read_documents(
    path: str | Path | Shard, *, format: str | None = None, on_error: OnError = "raise"
) -> Documents:
    """Reads one Parquet or JSON Lines file of interleaved documents into the canonical table.

    Args:
        path: The file.
        format: Its layout (see :data:`FORMATS`); detected from the schema or keys when None.
        on_error: A row that cannot be read: ``"raise"`` an :class:`~mmdedup.InputError`
            naming file, row and problem, or ``"record"`` it in ``errors`` and leave it out
            (see :data:`~mmdedup.errors.OnError`).

    Returns:
        The documents, with the rows in error and the repairs made.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "d.jsonl"
    >>> _ = p.write_text('{"url": "u", "text_list": ["A cat."], '
    ...     '"image_info": [{"raw_url": "c.png", "matched_text_index": 0}]}\\n')
    >>> docs = read_documents(p)
    >>> docs.format, [s["kind"] for s in docs.table["segments"][0].as_py()]
    ('mmc4', ['image', 'text'])
    """
    on_error = on_error_mode(on_error)
    shard = _shard(path)
    layout = FORMATS[_check_format(format)] if format else FORMATS[detect_format(shard)]
    where = str(shard.path)
    if shard.format == "parquet":
        table = read_columns(shard, _schema(shard).names)
        _check_fields(layout, table.column_names, shard, "columns")
        present = [c for c in layout.core if c in table.column_names]
        rows: list[dict[str, Any] | str] = list(table.select(present).to_pylist())
        carried = table.drop_columns(present)
        schema = table.schema
    else:
        rows = jsonl_rows(shard)
        keys = {k: None for r in rows if isinstance(r, dict) for k in r}
        if keys:
            _check_fields(layout, list(keys), shard, "keys")
        extra = [
            json.dumps({k: v for k, v in r.items() if k not in layout.core}, ensure_ascii=False)
            if isinstance(r, dict)
            else None
            for r in rows
        ]
        carried = pa.table({"extra": pa.array(extra, pa.string())})
        schema = None
    good = [r for r in rows if isinstance(r, dict)]
    results = iter(layout.read_rows(good))
    docs = Documents(pa.table({}), layout.name)
    keep: list[int] = []
    segments = []
    for i, row in enumerate(rows):
        res: RowResult | RowError | str = next(results) if isinstance(row, dict) else row
        if isinstance(res, RowResult):
            keep.append(i)
            segments.append(res.segments)
            docs.repairs += [Problem(where, i, m) for m in res.repairs]
            continue
        problem = Problem(where, i, str(res))
        if on_error == "raise":
            raise InputError(problem.message, path=where, row=i)
        docs.errors.append(problem)
    ids = [f"{shard.name}:{i}" for i in keep]
    try:
        out = make_table(ids, segments, carried.take(pa.array(keep, pa.int64())))
    except (pa.ArrowException, ValueError, TypeError):
        # A row whose segments Arrow cannot hold, which the layout let through: find it.
        keep, segments = _representable(keep, segments, docs, where, on_error)
        ids = [f"{shard.name}:{i}" for i in keep]
        out = make_table(ids, segments, carried.take(pa.array(keep, pa.int64())))
    meta = {b"mmdedup.format": layout.name.encode()}
    if schema is not None:
        meta[b"mmdedup.schema"] = base64.b64encode(schema.serialize().to_pybytes())
    docs.table = out.replace_schema_metadata(meta)
    return docs


def _check_fields(layout: Layout, names: list[str], shard: Shard, what: str) -> None:
    """A layout given (or detected) must find its fields: reading an (id, text) file as OBELICS
    would give nothing but empty documents."""
    missing = ", ".join(repr(f) for f in layout.required if f not in names)
    if missing:
        raise InputError(
            f"not {layout.name}: no {missing} among the {what} {names}", path=str(shard.path)
        )


def _representable(
    keep: list[int], segments: list[Any], docs: Documents, where: str, on_error: OnError
) -> tuple[list[int], list[Any]]:
    good_rows, good_segments = [], []
    for i, segs in zip(keep, segments, strict=True):
        try:
            pa.array([segs], SEGMENTS)
        except (pa.ArrowException, ValueError, TypeError) as e:
            problem = Problem(where, i, f"segments cannot be stored: {e}")
            if on_error == "raise":
                raise InputError(problem.message, path=where, row=i) from e
            docs.errors.append(problem)
            continue
        good_rows.append(i)
        good_segments.append(segs)
    docs.errors.sort(key=lambda p: p.row)
    return good_rows, good_segments


def _check_format(name: str) -> str:
    if name not in FORMATS:
        raise ParameterError(
            f"format: unknown layout {name!r}; expected one of {', '.join(FORMATS)}"
        )
    return name


def _source_schema(table: pa.Table, layout: Layout) -> pa.Schema | None:
    meta = table.schema.metadata or {}
    if meta.get(b"mmdedup.format") != layout.name.encode() or b"mmdedup.schema" not in meta:
        return None
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(meta[b"mmdedup.schema"])))


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)


def write_documents(
    table: Any,
    path: str | Path,
    *,
    format: str,
    container: Literal["parquet", "jsonl"] | None = None,
) -> int:
    """Writes the canonical table as ``format``, atomically; returns the number of documents.

    ``table`` is a ``pa.Table`` (or anything exporting an Arrow stream, such as a
    ``pl.DataFrame``: without its schema metadata, columns get their natural types).

    Parquet layouts get Parquet, the others JSON Lines (compressed when ``path`` ends in ``.gz``
    or ``.zst``), unless ``container`` says which (a shard read as a layout given for it keeps
    its own).
    Carried columns are kept: a JSON Lines source's keys become columns in Parquet (or one
    ``extra`` JSON column when they do not fit one type), Parquet columns become keys.

    >>> import tempfile
    >>> from mmdedup.formats import image, make_table, text
    >>> t = make_table(["a:0"], [[text("A cat."), image(url="c.png")]], pa.table({}))
    >>> p = Path(tempfile.mkdtemp()) / "out.parquet"
    >>> write_documents(t, p, format="obelics")
    1
    >>> pq.read_table(p).to_pylist()[0]["images"]
    [None, 'c.png']
    """
    layout = FORMATS[_check_format(format)]
    if not isinstance(table, pa.Table):  # a pl.DataFrame or another Arrow stream
        table = pa.table(table)
    path = Path(path)
    core = [layout.write_row(s or []) for s in table.column("segments").to_pylist()]
    carried = table.drop_columns(["doc_id", "segments"])
    if (container or layout.container) == "jsonl":
        _write_jsonl(layout, core, carried, path)
    else:
        _write_parquet(layout, core, carried, _source_schema(table, layout), path)
    return int(table.num_rows)


def _core_column(values: list[Any], kind: pa.DataType | None) -> pa.Array:
    """A layout's column: of the source's type, else of the values' own (the source's did not
    fit what was read, say a column of nulls typed as strings), else, when Parquet cannot store
    the values as they are (objects without keys, or keys holding several types), each value
    as its JSON text."""
    for attempt in (kind, None) if kind is not None else (None,):
        try:
            column = pa.array(values, attempt)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            continue
        if _storable(column.type):
            return column
    text = [None if v is None else json.dumps(v, default=_json_default) for v in values]
    return pa.array(text, pa.string())


def _storable(kind: pa.DataType) -> bool:
    """Whether Parquet can store a type: not a struct without fields, nor one inside another."""
    if pa.types.is_struct(kind):
        return kind.num_fields > 0 and all(
            _storable(kind.field(i).type) for i in range(kind.num_fields)
        )
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _storable(kind.value_type)
    return True


def _write_jsonl(layout: Layout, core: list[dict[str, Any]], carried: pa.Table, path: Path) -> None:
    extras = carried.column("extra").to_pylist() if "extra" in carried.column_names else None
    natives = carried.drop_columns(["extra"]) if extras is not None else carried
    lines = []
    for i, (fields, native) in enumerate(
        zip(core, natives.to_pylist() or [{}] * len(core), strict=True)
    ):
        rest = {**native, **(json.loads(extras[i]) if extras and extras[i] else {})}
        obj = {
            k: fields[k] if k in fields else rest[k]
            for k in layout.order
            if k in fields or k in rest
        }
        obj.update({k: v for k, v in {**rest, **fields}.items() if k not in obj})
        lines.append(json.dumps(obj, ensure_ascii=False, default=_json_default))
    data = "".join(line + "\n" for line in lines).encode()
    kind = compression_of(path.name)
    with atomic_write(path) as f:
        if kind is None:
            f.write(data)
        else:
            pack = Compressor(f, kind)
            pack.write(data)
            pack.finish()


def _write_parquet(
    layout: Layout,
    core: list[dict[str, Any]],
    carried: pa.Table,
    source: pa.Schema | None,
    path: Path,
) -> None:
    columns: dict[str, pa.Array] = {}
    for name in layout.core:
        if core and name not in core[0]:
            continue
        kind = source.field(name).type if source is not None and name in source.names else None
        columns[name] = _core_column([c[name] for c in core], kind)
    out = pa.table(columns) if columns else pa.table({})
    if "extra" in carried.column_names:
        # A JSON Lines source's keys become columns, when each key holds one type.
        objs = [json.loads(e) if e else {} for e in carried.column("extra").to_pylist()]
        try:
            expanded = pa.Table.from_pylist(
                [{k: v for k, v in o.items() if k not in columns} for o in objs]
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            expanded = None
        if expanded is not None and not all(_storable(f.type) for f in expanded.schema):
            expanded = None  # `"meta": {}` in every row: Parquet has no struct without fields
        if expanded is not None:
            carried = carried.drop_columns(["extra"])
            for name in expanded.column_names:
                carried = carried.append_column(expanded.field(name), expanded.column(name))
    for name in carried.column_names:
        if name not in columns:
            out = out.append_column(carried.field(name), carried.column(name))
    if source is not None and set(source.names) == set(out.column_names):
        out = out.select(source.names).replace_schema_metadata(source.metadata)
    with atomic_write(path) as f:
        pq.write_table(out, f)
