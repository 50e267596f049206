"""Stage 5 of a text run: each shard without its duplicates, and ``clusters.parquet``."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ...io import (
    atomic_write,
    write_filtered,
    write_table,
)
from ...storage import Location
from ..workdir import WorkDir
from .documents import load_errors, piece_rows
from .plan import STATUSES, Plan

# Rows per row group of the per-shard parts of ``clusters.parquet``: pyarrow's default, which
# ``clusters.parquet`` has always had.
_PART_ROWS = 1024 * 1024


def stage_write(work: WorkDir, plan: Plan, i: int, outdir: Location) -> None:
    """The filtered shard ``i`` and its part of ``clusters.parquet``, a piece at a time: a row
    group or a block of lines of the shard, then ``_PART_ROWS`` rows of the part."""
    unit = f"write-{i:06d}"
    if work.done(unit):
        return
    with work.unit(unit):  # marked done once its files are durable
        _write(work, plan, i, outdir)


def _write(work: WorkDir, plan: Plan, i: int, outdir: Location) -> None:
    """The files of unit ``write`` of shard ``i`` (see :func:`stage_write`)."""
    off, n, shard = plan.offset(i), plan.shards[i]["rows"], plan.shard(i)
    kept = write_filtered(
        shard, work.load("keep.npy", mmap=True)[off : off + n], outdir, rows=piece_rows(plan, i)
    )
    errors = load_errors(work, plan)
    ids = (
        pq.ParquetFile(work.local(f"ids/{i:06d}.parquet")).iter_batches(_PART_ROWS)
        if plan.id_column
        else None
    )
    with atomic_write(work.path(f"clusters/{i:06d}.parquet")) as f:
        writer = None
        for a in range(0, max(n, 1), _PART_ROWS):
            b = min(a + _PART_ROWS, n)
            keep = np.asarray(work.load("keep.npy", mmap=True)[off + a : off + b])
            labels = np.asarray(work.load("labels.npy", mmap=True)[off + a : off + b])
            status = np.asarray(work.load("status.npy", mmap=True)[off + a : off + b])
            cols: dict[str, Any] = {
                # A plain string (Parquet stores it as a dictionary): joins on it need no cast.
                "shard": pa.repeat(pa.scalar(shard.name, pa.string()), b - a),
                "row": pa.array(np.arange(a, b), pa.int64()),
            }
            if plan.id_column:
                assert ids is not None
                cols[plan.id_column] = next(ids, None) if b > a else None
                if cols[plan.id_column] is None:  # an empty shard
                    schema = pq.read_schema(work.local(f"ids/{i:06d}.parquet"))
                    cols[plan.id_column] = schema.empty_table()[plan.id_column]
                else:
                    cols[plan.id_column] = cols[plan.id_column].column(0)
            cols["cluster"] = pa.array(labels, mask=labels < 0, type=pa.int64())
            cols["keep"] = pa.array(keep)
            cols["status"] = pa.array(STATUSES, pa.string()).take(pa.array(status))
            err = [errors.get(off + r) for r in range(a, b)] if errors else None
            cols["error"] = pa.array(err, pa.string()) if err else pa.nulls(b - a, pa.string())
            table = pa.table(cols)
            if writer is None:
                writer = pq.ParquetWriter(f, table.schema)
            writer.write_table(table)
        assert writer is not None
        writer.close()
    with atomic_write(work.path(f"kept/{i:06d}.json")) as f:
        f.write(json.dumps({"kept": kept}).encode())


def merge_clusters(work: WorkDir, plan: Plan, target: Location) -> None:
    """Concatenates the per-shard parts into ``clusters.parquet``, one row group in memory at a
    time."""
    parts = [work.local(f"clusters/{i:06d}.parquet") for i in range(len(plan.shards))]
    if not parts:
        write_table(
            pa.table({"shard": pa.array([], pa.string()), "row": pa.array([], pa.int64())}), target
        )
        return
    # Id columns may differ in type between shards (string in one, large_string in another).
    schema = pa.unify_schemas([pq.read_schema(p) for p in parts], promote_options="permissive")
    with target.write() as f, pq.ParquetWriter(f, schema) as writer:
        for p in parts:
            part = pq.ParquetFile(p)
            if part.num_row_groups == 0:
                writer.write_table(part.schema_arrow.empty_table().cast(schema))
            for g in range(part.num_row_groups):
                # Batches as ``pq.read_table`` cuts them, so the output stays byte for byte.
                batches = part.iter_batches(batch_size=131_072, row_groups=[g])
                table = pa.Table.from_batches(list(batches), schema=part.schema_arrow)
                writer.write_table(table.cast(schema))
