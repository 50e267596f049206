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
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from ..compression import Compressor, compression_of
from ..errors import InputError, OnError, ParameterError, on_error_mode
from ..io import Shard, atomic_write, discover, jsonl_lines, open_lines, read_columns
from .aligned import INFIMM, OBELICS, OMNICORPUS
from .base import Layout, RowError, RowResult
from .markdown_layouts import PIN, WANJUAN
from .mmc4 import MMC4
from .model import SEGMENTS, Documents, Problem, make_table
from .parquet_out import RESERVED, json_default, key_objects, parquet_table, plan_block

__all__ = [
    "FORMATS",
    "check_fields",
    "core_rows",
    "detect_format",
    "documents_of",
    "jsonl_objects",
    "jsonl_rows",
    "jsonl_text",
    "layout_of",
    "parquet_fields",
    "read_documents",
    "source_schema",
    "write_documents",
]

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
    return jsonl_objects(jsonl_lines(shard))


def jsonl_objects(lines: Iterable[bytes]) -> list[dict[str, Any] | str]:
    """Each line as an object, or the reason it is not one."""
    out: list[dict[str, Any] | str] = []
    for line in lines:
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
    with open_lines(shard) as lines:
        objs = (jsonl_objects([line])[0] for line in lines)
        first = next((r for r in objs if isinstance(r, dict)), {})
    return _detect(shard, set(first), {})


def layout_of(shard: Shard, format: str | None) -> Layout:
    """The layout ``format`` names, or the one detected from the shard's columns or keys."""
    return FORMATS[_check_format(format)] if format else FORMATS[detect_format(shard)]


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
    layout = layout_of(shard, format)
    if shard.format == "parquet":
        table = read_columns(shard, parquet_fields(layout, shard))
        return documents_of(layout, shard, table, on_error=on_error)
    rows = jsonl_rows(shard)
    keys = {k: None for r in rows if isinstance(r, dict) for k in r}
    if keys:
        check_fields(layout, list(keys), shard, "keys")
    return documents_of(layout, shard, rows, on_error=on_error)


def parquet_fields(layout: Layout, shard: Shard) -> list[str]:
    """The columns of a Parquet shard, checked to hold the fields ``layout`` needs."""
    names = _schema(shard).names
    check_fields(layout, names, shard, "columns")
    return list(names)


def documents_of(
    layout: Layout,
    shard: Shard,
    source: pa.Table | list[dict[str, Any] | str],
    *,
    on_error: OnError,
    start: int = 0,
) -> Documents:
    """The documents of rows of ``shard`` read as ``layout``, the first being the shard's row
    ``start``: a table of its Parquet columns, or its JSON Lines rows (each an object, or the
    reason it is not one)."""
    where = str(shard.path)
    schema: pa.Schema | None = None
    if isinstance(source, pa.Table):
        if own := [c for c in RESERVED[:2] if c in source.column_names]:
            raise InputError(
                f"the column {own[0]!r} has the name of a column mmdedup gives every document "
                "it reads (doc_id, segments), so it cannot be carried through: rename it in the "
                f"source (to 'source_{own[0]}', say)",
                path=where,
            )
        present = [c for c in layout.core if c in source.column_names]
        rows: list[dict[str, Any] | str] = list(source.select(present).to_pylist())
        carried = source.drop_columns(present)
        schema = source.schema
    else:
        rows = source
        extra = [
            json.dumps({k: v for k, v in r.items() if k not in layout.core}, ensure_ascii=False)
            if isinstance(r, dict)
            else None
            for r in rows
        ]
        carried = pa.table({"extra": pa.array(extra, pa.string())})
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
            docs.repairs += [Problem(where, start + i, m) for m in res.repairs]
            continue
        problem = Problem(where, start + i, str(res))
        if on_error == "raise":
            raise InputError(problem.message, path=where, row=start + i)
        docs.errors.append(problem)
    try:
        out = make_table(
            _ids(shard, keep, start), segments, carried.take(pa.array(keep, pa.int64()))
        )
    except (pa.ArrowException, ValueError, TypeError):
        # A row whose segments Arrow cannot hold, which the layout let through: find it.
        keep, segments = _representable(keep, segments, docs, where, on_error, start)
        ids = _ids(shard, keep, start)
        out = make_table(ids, segments, carried.take(pa.array(keep, pa.int64())))
    meta = {b"mmdedup.format": layout.name.encode()}
    if schema is not None:
        meta[b"mmdedup.schema"] = base64.b64encode(schema.serialize().to_pybytes())
    docs.table = out.replace_schema_metadata(meta)
    return docs


def _ids(shard: Shard, keep: list[int], start: int) -> list[str]:
    return [f"{shard.name}:{start + i}" for i in keep]


def check_fields(layout: Layout, names: list[str], shard: Shard, what: str) -> None:
    """A layout given (or detected) must find its fields: reading an (id, text) file as OBELICS
    would give nothing but empty documents."""
    missing = ", ".join(repr(f) for f in layout.required if f not in names)
    if missing:
        raise InputError(
            f"not {layout.name}: no {missing} among the {what} {names}", path=str(shard.path)
        )


def _representable(
    keep: list[int],
    segments: list[Any],
    docs: Documents,
    where: str,
    on_error: OnError,
    start: int,
) -> tuple[list[int], list[Any]]:
    good_rows, good_segments = [], []
    for i, segs in zip(keep, segments, strict=True):
        try:
            pa.array([segs], SEGMENTS)
        except (pa.ArrowException, ValueError, TypeError) as e:
            problem = Problem(where, start + i, f"segments cannot be stored: {e}")
            if on_error == "raise":
                raise InputError(problem.message, path=where, row=start + i) from e
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


def source_schema(table: pa.Table, layout: Layout) -> pa.Schema | None:
    """The schema of the source the documents of ``table`` were read from, when it was a
    Parquet shard of ``layout``: the file written keeps its column types and order."""
    meta = table.schema.metadata or {}
    if meta.get(b"mmdedup.format") != layout.name.encode() or b"mmdedup.schema" not in meta:
        return None
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(meta[b"mmdedup.schema"])))


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
    Carried columns are kept: a JSON Lines source's keys become columns in Parquet, every key of
    the table, null where a document lacks it (or all stay in the one JSON column ``extra`` when
    a key has no one type or is named like another column, see
    :mod:`~mmdedup.formats.parquet_out`); Parquet columns become keys. A carried column or key
    named like a field that ``format`` writes is an :class:`~mmdedup.InputError`, except a key
    going to Parquet (it stays in ``extra``).

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
    core = core_rows(layout, table)
    carried = table.drop_columns(["doc_id", "segments"])
    ids = table.column("doc_id")
    with atomic_write(path) as f:
        if (container or layout.container) == "jsonl":
            data = jsonl_text(layout, core, carried, ids=ids)
            kind = compression_of(path.name)
            if kind is None:
                f.write(data)
            else:
                pack = Compressor(f, kind)
                pack.write(data)
                pack.finish()
        else:
            source = source_schema(table, layout)
            plan = plan_block(layout, core, carried, source, ids=ids)
            pq.write_table(parquet_table(layout, core, carried, source, plan), f)
    return int(table.num_rows)


def core_rows(layout: Layout, table: pa.Table) -> list[dict[str, Any]]:
    """The layout's fields of each document of the canonical ``table``."""
    return [layout.write_row(s or []) for s in table.column("segments").to_pylist()]


def jsonl_text(
    layout: Layout,
    core: list[dict[str, Any]],
    carried: pa.Table,
    *,
    ids: pa.ChunkedArray | pa.Array | None = None,
) -> bytes:
    """The JSON Lines of documents: ``core`` their layout's fields, ``carried`` the other
    columns of the canonical table (``extra``: the JSON object of a document's other keys),
    ``ids`` their ``doc_id`` (to name one in an error).

    A carried column or key named like a field of the layout, or a key of ``extra`` named like
    a carried column, is an :class:`~mmdedup.InputError`: an object holds one value per key."""
    extras = key_objects(carried.column("extra"), ids) if "extra" in carried.column_names else None
    natives = carried.drop_columns(["extra"]) if extras is not None else carried
    clash = [n for n in natives.column_names if n in layout.core]
    if clash:
        raise InputError(
            f"the column(s) {', '.join(map(repr, clash))} carried from the source are also "
            f"field(s) that {layout.name} writes from the documents: one of the two would be "
            "lost; rename them in the source, or convert to another layout"
        )
    taken = set(layout.core) | set(natives.column_names)
    lines = []
    for i, (fields, native) in enumerate(
        zip(core, natives.to_pylist() or [{}] * len(core), strict=True)
    ):
        keys = extras[i] if extras else {}
        if named := [k for k in keys if k in taken or k in fields]:
            doc = f"document {ids[i].as_py()}: " if ids is not None else ""
            if named[0] in native:
                what = "a column carried from the source"
                todo = "rename one of them in the source"
            else:
                what = f"a field that {layout.name} writes from the documents"
                todo = (
                    "rename the key in the source, or convert to a Parquet layout (which keeps "
                    "such keys in the JSON column 'extra')"
                )
            raise InputError(
                f"{doc}the key {named[0]!r} is also {what}: one of the two would be lost; {todo}"
            )
        rest = {**native, **keys}
        obj = {
            k: fields[k] if k in fields else rest[k]
            for k in layout.order
            if k in fields or k in rest
        }
        obj.update({k: v for k, v in {**rest, **fields}.items() if k not in obj})
        lines.append(json.dumps(obj, ensure_ascii=False, default=json_default))
    return "".join(line + "\n" for line in lines).encode()
