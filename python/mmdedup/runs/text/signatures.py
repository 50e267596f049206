"""Stage 2 of a text run: signatures of every document, and their band keys in the partitions."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ... import _core
from ...dedup import compute_signatures, parse_keep
from ...errors import InputError
from ...io import (
    atomic_write,
    iter_columns,
    write_table,
)
from ...storage import create_npy, sync_file
from ..lsh_partitions import PartitionRows, add_partition_rows
from ..shingle_sets import (
    SetStore,
    copy_sets,
    set_writer,
    signatures_writing_sets,
    wants_sets,
    write_parts,
)
from ..workdir import WorkDir, load_signatures, npy_out, write_signature_parts
from .documents import concat_parts, load_errors, piece_rows
from .plan import Plan, dedup_config, sort_key, text_column


def create_signature_file(work: WorkDir, plan: Plan) -> None:
    """Creates the memory-mapped signature file of all documents, once, before any worker
    writes its rows into it (workers only open it: two creating it at once would race)."""
    cfg = dedup_config(plan)
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    if cfg.method == "minhash":
        shape, dtype = (plan.rows, cfg.num_perm), np.dtype(np.uint32)
    elif cfg.method == "simhash":
        shape, dtype = (plan.rows,), np.dtype(np.uint64)
    else:
        shape, dtype = (plan.rows, 16), np.dtype(np.uint8)
    if work.remote is not None:
        # Each unit writes a file of its own; readers put them together (load_signatures).
        sig_parts = [
            (plan.offset(i), f"{i:06d}", int(s["rows"])) for i, s in enumerate(plan.shards)
        ]
        write_signature_parts(work, dtype, shape, sig_parts)
    elif not (path := work.path("signatures.npy")).exists():
        create_npy(path, dtype, shape)
    if wants_sets(cfg):
        parts = [(0, "index")] if plan.index is not None else []
        parts += [(plan.offset(i), f"{i:06d}") for i in range(len(plan.shards))]
        write_parts(work, parts)


def _signature_file(work: WorkDir) -> np.memmap[Any, Any]:
    return np.lib.format.open_memmap(work.root / "signatures.npy", mode="r+")


def _signature_target(work: WorkDir, plan: Plan, i: int) -> tuple[Path, int]:
    """Where shard ``i``'s signatures go, and the row of its first: the shared file of a local
    work directory, or a file of its own in a remote one."""
    if work.remote is None:
        return work.root / "signatures.npy", plan.offset(i)
    spec = json.loads(work.local("signatures.json").read_text())
    path = work.path(f"signatures/{i:06d}.npy")
    create_npy(path, np.dtype(spec["dtype"]), (int(plan.shards[i]["rows"]), *spec["shape"][1:]))
    return path, 0


def stage_signatures(work: WorkDir, plan: Plan, i: int) -> None:
    """Signatures of shard ``i`` and its rows in each partition, a piece of the shard at a
    time (see :func:`piece_rows`)."""
    unit = f"signatures-{i:06d}"
    if work.done(unit):
        return
    with work.unit(unit):  # marked done once its files are durable
        _signatures(work, plan, i)


def _signatures(work: WorkDir, plan: Plan, i: int) -> None:
    """The files of unit ``signatures`` of shard ``i`` (see :func:`stage_signatures`)."""
    cfg, shard, rule = dedup_config(plan), plan.shard(i), parse_keep(plan.keep)
    columns = [plan.column] + [c for c in (plan.id_column, rule[1]) if c and c != plan.column]
    off, rows, tag = plan.offset(i), int(plan.shards[i]["rows"]), f"{i:06d}"
    changed = InputError(
        "changed since the run was planned; start again without --resume", path=str(shard.path)
    )
    errors: dict[int, str] = {}
    ids: list[Path] = []
    parts = PartitionRows(work, plan.partitions, tag)
    target, base = _signature_target(work, plan, i)
    start = 0
    with ExitStack() as stack:
        out_empty = stack.enter_context(
            npy_out(work.path(f"empty/{tag}.npy"), np.dtype(np.bool_), rows)
        )
        out_sets = None
        if wants_sets(cfg):
            out_sets = stack.enter_context(set_writer(work, tag, rows))
        out_key = None
        if rule[0] != "first":
            out_key = stack.enter_context(
                npy_out(work.path(f"keys/{tag}.npy"), np.dtype(np.float64), rows)
            )
        # JSON Lines rows whose text cannot be read (invalid UTF-8, ...): with --on-error record,
        # each piece's are recorded here, and its text read as null.
        unreadable: dict[int, str] | None = {} if plan.on_error != "raise" else None
        pieces = iter_columns(
            shard, columns, piece_rows(plan, i), text=plan.column, problems=unreadable
        )
        for piece, table in enumerate(pieces):
            n = table.num_rows
            if start + n > rows:
                raise changed
            texts, errs = text_column(table, plan.column, shard, plan.on_error, start)
            if unreadable:
                errs.update({r - start: m for r, m in unreadable.items()})
                unreadable.clear()
            if out_sets is not None:
                sigs = signatures_writing_sets(texts, cfg, out_sets, _set_slice(plan))
            else:
                sigs = compute_signatures(texts, cfg)
            # A fresh mapping per piece: its pages leave the process with it (and are written
            # back by the kernel; the unit's one sync below makes them durable).
            mm = np.lib.format.open_memmap(target, mode="r+")
            mm[base + start : base + start + n] = sigs.data
            del mm
            out_empty(sigs.empty)
            key = sort_key(rule, table, texts, shard)
            if out_key is not None and key is not None:
                out_key(key)
            if plan.id_column:
                ids.append(work.path(f"ids/{tag}-{piece:05d}.parquet"))
                write_table(pa.table({plan.id_column: table[plan.id_column]}), ids[-1])
            del table, texts, key
            skip = sigs.empty.copy()
            skip[list(errs)] = True
            errors.update({start + k: v for k, v in errs.items()})
            add_partition_rows(parts, plan.partitions, cfg, sigs.data, skip, off + start)
            start += n
        if start != rows:
            raise changed
        parts.close()
    sync_file(target)
    if plan.id_column:
        _join_ids(ids, plan.id_column, work.path(f"ids/{tag}.parquet"))
    if errors:
        with atomic_write(work.path(f"errors/{tag}.json")) as f:
            f.write(json.dumps({str(k): v for k, v in errors.items()}).encode())


def _set_slice(plan: Plan) -> int:
    """Bytes of text whose shingle sets are made and written at a time: their sets (8 bytes a
    shingle, twice while concatenated) stay within a sixteenth of the budget."""
    return max(1 << 18, plan.memory // 48)


def _join_ids(pieces: list[Path], column: str, target: Path) -> None:
    """One id file from the pieces' files, one piece in memory at a time. JSON Lines pieces
    each have the types of their own values; the file gets the type all of them fit (as
    reading the whole shard at once infers)."""
    types = [pq.read_schema(p).field(column).type for p in pieces]
    unified = types[0]
    if any(t != unified for t in types):
        frame = pl.concat(
            [cast(pl.DataFrame, pl.from_arrow(pa.table({column: pa.nulls(0, t)}))) for t in types],
            how="vertical_relaxed",
        )
        unified = frame.to_arrow(compat_level=pl.CompatLevel.oldest()).schema.field(column).type
    schema = pa.schema([pa.field(column, unified)])
    with atomic_write(target) as f, pq.ParquetWriter(f, schema) as writer:
        for p in pieces:
            writer.write_table(pq.ParquetFile(p).read().cast(schema))
    for p in pieces:
        p.unlink()


def stage_index(work: WorkDir, plan: Plan) -> None:
    """Brings the index's documents in as rows ``0..index_rows``: signatures, and their keys in
    the partitions. Documents the index marked empty or errored take part in nothing."""
    if plan.index is None or work.done("index"):
        return
    cfg, old = dedup_config(plan), Path(plan.index)
    src = np.load(old / "signatures.npy", mmap_mode="r")
    skip = np.load(old / "status.npy") >= 3  # empty or error
    mm = _signature_file(work)
    chunk = 1 << 17
    parts = PartitionRows(work, plan.partitions, "index")
    for start in range(0, plan.index_rows, chunk):
        data = np.asarray(src[start : start + chunk])
        mm[start : start + len(data)] = data
        add_partition_rows(
            parts, plan.partitions, cfg, data, skip[start : start + len(data)], start
        )
    parts.close()
    mm.flush()
    if wants_sets(cfg) and not copy_sets(old, work, "index", plan.index_rows):
        raise InputError(f"the index at {plan.index} kept no shingle sets", path=str(old))
    work.save("empty/index.npy", skip)
    work.mark("index")


def stage_simhash(work: WorkDir, plan: Plan) -> None:
    """SimHash pairs within the Hamming distance, searched in one piece (8 bytes per document);
    with ``verify="jaccard"``, only those whose exact Jaccard reaches the threshold."""
    if work.done("search"):
        return
    cfg = dedup_config(plan)
    fps = np.asarray(load_signatures(work))
    skip = concat_parts(work, plan, "empty")
    skip[list(load_errors(work, plan))] = True
    equal, near = _core.hamming_neighbours(fps, skip, k=cfg.max_distance)
    del fps, skip
    edges = np.concatenate([equal, near])
    candidates = len(edges)
    if wants_sets(cfg) and len(edges):
        sim = SetStore.of(work).jaccard(edges, plan.memory)
        edges = np.ascontiguousarray(edges[sim >= cfg.threshold])
    with atomic_write(work.path("edges/simhash.json")) as f:
        f.write(json.dumps({"candidates": candidates}).encode())
    work.save("edges/simhash.npy", edges)
    work.mark("search")
