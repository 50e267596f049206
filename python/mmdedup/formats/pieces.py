"""A shard of interleaved documents read a piece at a time, and a file of documents written
piece by piece, so that a shard larger than memory is converted within a budget.

A Parquet file written here has a row group of every :data:`ROW_GROUP` documents, each written
from one contiguous table with the column types of the whole file (see
:mod:`~mmdedup.formats.parquet_out`): its bytes depend on the documents only, not on the size of
the pieces they were read in. JSON Lines are written a line at a time, compressed as one stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..compression import Compressor, compression_of
from ..errors import OnError, on_error_mode
from ..io import Shard, iter_columns, open_lines, shard_stats
from .base import Layout
from .files import (
    check_fields,
    core_rows,
    documents_of,
    jsonl_objects,
    jsonl_text,
    layout_of,
    parquet_fields,
    source_schema,
)
from .model import Documents
from .parquet_out import Plan, parquet_table, plan_block

__all__ = ["ROW_GROUP", "ROW_GROUP_BYTES", "blocks", "read_pieces", "row_bytes", "write_pieces"]

ROW_GROUP = 1024
"""Documents per row group of a Parquet file written piece by piece, at most."""

ROW_GROUP_BYTES = 2 * 2**20
"""Bytes of text per row group, at most (a row group of one document may hold more): a row
group is held in memory whole, whatever the budget."""


def read_pieces(
    shard: Shard, *, format: str | None, on_error: OnError, piece_bytes: int
) -> Iterator[Documents]:
    """The documents of ``shard`` (see :func:`~mmdedup.formats.read_documents`) in pieces of
    about ``piece_bytes`` bytes of input each (Parquet: decoded columns, from the file's
    footer; JSON Lines: lines), in order, with the shard's own row numbers and ``doc_id`` s.
    At least one piece, empty for a shard without rows. The keys of a JSON Lines shard are
    checked against the layout when the last piece has been read."""
    mode = on_error_mode(on_error)
    layout = layout_of(shard, format)
    if shard.format == "parquet":
        names = parquet_fields(layout, shard)
        rows, size = shard_stats(shard, names)
        per_row = max(1, -(-size // max(rows, 1)))
        start = 0
        for table in iter_columns(shard, names, max(1, piece_bytes // per_row)):
            yield documents_of(layout, shard, table, on_error=mode, start=start)
            start += table.num_rows
        return
    keys: dict[str, None] = {}
    start = 0
    for lines in _line_pieces(shard, piece_bytes):
        objs = jsonl_objects(lines)
        keys.update((k, None) for r in objs if isinstance(r, dict) for k in r)
        yield documents_of(layout, shard, objs, on_error=mode, start=start)
        start += len(objs)
    if start == 0:
        yield documents_of(layout, shard, [], on_error=mode)
    if keys:
        check_fields(layout, list(keys), shard, "keys")


def _line_pieces(shard: Shard, piece_bytes: int) -> Iterator[list[bytes]]:
    with open_lines(shard) as lines:
        piece: list[bytes] = []
        size = 0
        for line in lines:
            piece.append(line)
            size += len(line)
            if size >= piece_bytes:
                yield piece
                piece, size = [], 0
        if piece:
            yield piece


def row_bytes(table: pa.Table) -> npt.NDArray[np.int64]:
    """The bytes of text (strings and binaries, those of the segments included) of each row."""
    total = np.zeros(table.num_rows, np.int64)
    for column in table.itercolumns():
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        total += _lengths(array)
    return total


def _lengths(array: pa.Array) -> npt.NDArray[np.int64]:
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        return np.asarray(pc.fill_null(pc.binary_length(array), 0), np.int64)
    if pa.types.is_large_binary(kind):
        return np.asarray(pc.fill_null(pc.binary_length(array), 0), np.int64)
    if pa.types.is_struct(kind):
        out = np.zeros(len(array), np.int64)
        for k in range(kind.num_fields):
            out += _lengths(pc.struct_field(array, [k]))
        return out
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        inner = _lengths(array.values)
        offsets = np.asarray(array.offsets, np.int64)
        sums = np.concatenate([[0], np.cumsum(inner)])
        sums_of: npt.NDArray[np.int64] = sums[offsets[1:]] - sums[offsets[:-1]]
        return sums_of
    return np.zeros(len(array), np.int64)


def blocks(tables: Iterator[pa.Table], rows: int, most: int | None = None) -> Iterator[pa.Table]:
    """The rows of ``tables`` (of one schema) in contiguous tables of ``rows`` rows, or fewer
    where their text (:func:`row_bytes`) would pass ``most`` bytes (at least one row each; the
    last table may be shorter; one empty table when there are none), whatever the sizes of
    ``tables``: the cuts depend on the rows only."""
    held: list[pa.Table] = []
    weights: list[npt.NDArray[np.int64]] = []
    count = total = 0
    for table in tables:
        held.append(table)
        weights.append(row_bytes(table) if most is not None else np.zeros(0, np.int64))
        count += table.num_rows
        total += table.num_rows
        while True:
            cut = _cut(count, rows, most, weights)
            if cut is None:
                break
            whole = pa.concat_tables(held)
            yield whole.slice(0, cut).combine_chunks()
            rest = whole.slice(cut)
            held, count = [rest], rest.num_rows
            if most is not None:
                w = np.concatenate(weights)[cut:]
                weights = [w]
    if count or total == 0:
        yield pa.concat_tables(held).combine_chunks() if held else pa.table({})


def _cut(
    count: int, rows: int, most: int | None, weights: list[npt.NDArray[np.int64]]
) -> int | None:
    """Where the next table ends among the ``count`` rows held, once it is known."""
    if most is not None and count:
        sums = np.cumsum(np.concatenate(weights)[:rows])
        over = int(np.searchsorted(sums, most, side="right"))
        if over < min(count, rows):
            return max(over, 1)
    return rows if count >= rows else None


def write_pieces(
    read: Callable[[], Iterator[pa.Table]],
    f: IO[bytes],
    *,
    layout: Layout,
    name: str,
    keep_bytes: int,
) -> tuple[int, str | None]:
    """Writes the canonical tables ``read()`` gives into ``f`` as ``layout`` (JSON Lines
    compressed as ``name`` ends, ``.gz`` or ``.zst``); returns the number of documents, and why
    a JSON Lines source's keys were written as the one JSON column ``extra`` (None when they
    became columns, or there were none).

    JSON Lines are written as they come. A Parquet file needs its column types before its first
    row group: the documents are read once to decide them and again to write, unless they took
    at most ``keep_bytes`` bytes (they are then kept from the first reading)."""
    if layout.container == "jsonl":
        return _write_jsonl(read(), f, layout, name), None
    plan: Plan | None = None
    kept: list[pa.Table] | None = []
    held = 0
    for block in blocks(read(), ROW_GROUP, ROW_GROUP_BYTES):
        source = source_schema(block, layout)
        carried = block.drop_columns(["doc_id", "segments"])
        ids = block.column("doc_id")
        this = plan_block(layout, core_rows(layout, block), carried, source, plan, ids=ids)
        plan = this if plan is None else plan.merge(this)
        held += block.nbytes
        if kept is not None and held <= keep_bytes:
            kept.append(block)
        else:
            kept = None
    assert plan is not None
    writer: pq.ParquetWriter | None = None
    count = 0
    try:
        for block in kept if kept is not None else blocks(read(), ROW_GROUP, ROW_GROUP_BYTES):
            source = source_schema(block, layout)
            carried = block.drop_columns(["doc_id", "segments"])
            out = parquet_table(layout, core_rows(layout, block), carried, source, plan)
            if writer is None:
                writer = pq.ParquetWriter(f, out.schema)
            writer.write_table(out)
            count += out.num_rows
    finally:
        if writer is not None:
            writer.close()
    return count, plan.why_extra()


def _write_jsonl(tables: Iterator[pa.Table], f: IO[bytes], layout: Layout, name: str) -> int:
    kind = compression_of(name)
    pack = Compressor(f, kind) if kind is not None else None
    count = 0
    try:
        for table in tables:
            carried = table.drop_columns(["doc_id", "segments"])
            ids = table.column("doc_id")
            data = jsonl_text(layout, core_rows(layout, table), carried, ids=ids)
            if pack is not None:
                pack.write(data)
            else:
                f.write(data)
            count += table.num_rows
        if pack is not None:
            pack.finish()
    finally:
        if pack is not None:
            pack.close()
    return count
