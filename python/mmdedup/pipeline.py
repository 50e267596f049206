"""The staged, restartable dedup behind ``mmdedup dedup``.

A run is a sequence of stages over files in a work directory; each unit of work (a shard, a
partition) writes its results under a temporary name, renames them into place and then drops a
marker, so an interrupted run (Ctrl-C, kill -9, a full disk) resumes where it stopped with
``--resume`` and produces byte-identical results:

1. ``plan``: find the shards, count their rows, fix global row ids and the partition count
   from the memory budget (``manifest.json``).
2. ``signatures`` (per shard, a piece at a time): signatures into one memory-mapped file; for
   MinHash, the band keys go to ``partitions`` files by key, so a partition holds every
   document that could share a bucket; sort keys and per-row errors are kept beside.
3. ``candidates`` (per partition): pairs from equal keys, verified (signature agreement, or the
   128-bit hash for exact dedup) into edge files; for SimHash, ``search`` finds the pairs
   within the Hamming distance in one piece.
4. ``clusters``: connected components of all edges and the kept member of each cluster, on
   one node by union-find, or by large-star/small-star rounds over edge files partitioned by
   document (:mod:`mmdedup.components`), each round a set of units; ``auto`` picks the rounds
   when union-find would not fit the budget; the rounds' labels, kept flags and statuses are
   written a chunk of documents at a time.
5. ``write`` (per shard, a row group or block of lines at a time): the filtered shard and its
   part of ``clusters.parquet``; then ``clusters.parquet`` and ``summary.json``.

Memory is bounded by the budget, not by the corpus or its largest shard: the partition count
grows with the corpus so that one partition fits, shards are read in pieces that fit, and
components leave one node when union-find (about 48 bytes per document and 40 per edge) would
not fit. What a unit cannot split is one Parquet row group, one output row group of
``clusters.parquet`` (1Mi rows), and, in the last rounds of distributed components, one
cluster (its members in one partition).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import _core
from .components import Graph, MapUnits, local_bytes, partitions_for
from .dedup import DedupConfig, choose_keep, compute_signatures, parse_keep
from .errors import InputError, ParameterError
from .io import (
    Shard,
    atomic_write,
    discover,
    iter_columns,
    shard_stats,
    write_filtered,
    write_table,
)
from .runs.budget import parse_size
from .runs.budget import partitions as budget_partitions
from .runs.dirs import Run as OutputRun
from .runs.dirs import claim_work_dir, open_run
from .storage import Location, create_npy

__all__ = ["STATUSES", "Plan", "WorkDir", "parse_size", "run"]

STATUSES = ("unique", "kept", "duplicate", "empty", "error")
_WINDOW = {"none": 1, "signature": 8, "jaccard": 8}
# Version of the work directory's contents: 2 added the distributed components' files; 3 holds
# MinHash signatures of the native scheme's second definition (32-bit affine permutations), not
# comparable with earlier ones.
_VERSION = 3
COMPONENTS = ("auto", "local", "distributed")


class WorkDir:
    """Files of one run, with atomic writes and completion markers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "done").mkdir(parents=True, exist_ok=True)

    def path(self, rel: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def done(self, unit: str) -> bool:
        return (self.root / "done" / unit).exists()

    def mark(self, unit: str) -> None:
        with atomic_write(self.root / "done" / unit) as f:
            f.write(b"")
        _crash_point(unit)

    def save(self, rel: str, arr: npt.NDArray[Any]) -> None:
        with atomic_write(self.path(rel)) as f:
            np.save(f, arr, allow_pickle=False)

    def load(self, rel: str, mmap: bool = False) -> npt.NDArray[Any]:
        arr: npt.NDArray[Any] = np.load(
            self.root / rel, mmap_mode="r" if mmap else None, allow_pickle=False
        )
        return arr


def _crash_point(unit: str) -> None:
    """Test hook: ``MMDEDUP_CRASH_AFTER=<unit>`` kills the process (SIGKILL) right after that unit
    is marked done, to prove that ``--resume`` recovers from any point."""
    if os.environ.get("MMDEDUP_CRASH_AFTER") == unit:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Plan:
    """What a run will do; saved as ``manifest.json`` and compared on ``--resume``."""

    config: dict[str, Any]
    column: str
    id_column: str | None
    keep: str
    on_error: str
    shards: list[dict[str, Any]]
    rows: int
    partitions: int
    version: int = _VERSION
    inputs: list[str] = field(default_factory=list)
    index: str | None = None
    index_rows: int = 0
    memory: int = 4 * 2**30
    components: str = "auto"

    def shard(self, i: int) -> Shard:
        s = self.shards[i]
        return Shard(Location(s["path"]), s["name"], s["format"], s["gzipped"])

    def offset(self, i: int) -> int:
        return int(self.shards[i]["offset"])

    def same_work(self, other: Plan) -> bool:
        a, b = asdict(self), asdict(other)
        a.pop("inputs"), b.pop("inputs")
        return a == b


# Parameters that must match for signatures to be comparable with an index's.
_SIGNATURE_PARAMS = (
    "method",
    "num_perm",
    "ngram",
    "seed",
    "tokenizer",
    "normalize",
    "fold_digits",
    "strip_accents",
)


def find_work_dir(path: Path) -> Path:
    """The work directory of a finished run, given it or the run's output directory."""
    for candidate in (path / ".mmdedup-work", path):
        if (candidate / "manifest.json").exists() and (candidate / "done" / "clusters").exists():
            return candidate
    raise InputError(f"{path} is not the output or work directory of a finished mmdedup run")


def _dedup_config(plan: Plan) -> DedupConfig:
    return DedupConfig(**plan.config)


def make_plan(
    inputs: Iterable[str],
    config: DedupConfig,
    *,
    column: str,
    id_column: str | None,
    keep_rule: str,
    on_error: str,
    memory: int,
    index: Path | None = None,
    components: str = "auto",
) -> Plan:
    if components not in COMPONENTS:
        raise ParameterError(
            f"components must be one of {', '.join(COMPONENTS)}, got {components!r}"
        )
    shards = discover(list(inputs))
    index_root, index_rows = None, 0
    if index is not None:
        index_root = find_work_dir(index)
        old = Plan(**json.loads((index_root / "manifest.json").read_text()))
        if old.version != _VERSION:
            raise ParameterError(
                f"the index at {index} was built by another mmdedup version (work directory "
                f"format {old.version}, this version writes {_VERSION}): its signatures are not "
                "comparable with this version's (the native MinHash scheme changed in format 2); "
                "rebuild the index with this version"
            )
        mismatch = [k for k in _SIGNATURE_PARAMS if old.config[k] != getattr(config, k)]
        if mismatch:
            raise ParameterError(
                f"the index at {index} was built with other {', '.join(mismatch)}: "
                + ", ".join(f"{k}={old.config[k]!r}" for k in mismatch)
            )
        index_rows = old.rows
    listed, offset = [], index_rows
    rule = parse_keep(keep_rule)
    columns = [c for c in (column, id_column, rule[1]) if c]
    for s in shards:
        n, size = shard_stats(s, columns)
        listed.append(
            {
                "path": str(s.path),
                "name": s.name,
                "format": s.format,
                "gzipped": s.gzipped,
                "rows": n,
                "offset": offset,
                "bytes": size,
            }
        )
        offset += n
    if offset >= 2**32 - 1:
        raise ParameterError(f"{offset:,} documents exceed one run's limit of 2^32 - 1")
    bands = config.band_geometry()[0] if config.method == "minhash" else 1
    # A partition's (key, doc) rows, sorted with a copy, should use at most half the budget.
    # Per (key, doc) row: the 12-byte row read from disk, its key and doc columns (12 bytes)
    # and the kernel's sorted 16-byte pairs, with room for the edges it emits.
    per_row = 64
    partitions = budget_partitions(offset * bands * per_row, memory, most=offset)
    cfg = asdict(config)
    plan = Plan(
        cfg,
        column,
        id_column,
        keep_rule,
        on_error,
        listed,
        offset,
        int(partitions),
        inputs=list(inputs),
    )
    plan.index = str(index_root) if index_root else None
    plan.index_rows = index_rows
    plan.memory = memory
    plan.components = components
    return plan


# -- stage 2: signatures ---------------------------------------------------------------------


def _text_column(
    table: pa.Table, column: str, shard: Shard, on_error: str, start: int = 0
) -> tuple[pa.ChunkedArray, dict[int, str]]:
    """The text column as strings, and the rows (of ``table``) that are not valid UTF-8; an error
    names the row of the shard (``start`` is the table's first row there)."""
    texts = table[column]
    t = texts.type
    errors: dict[int, str] = {}
    if pa.types.is_null(t):
        return texts.cast(pa.string()), errors
    if pa.types.is_dictionary(t):  # a Polars Categorical saved to Parquet, say
        texts, t = texts.cast(t.value_type), t.value_type
    textual = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
    binary = pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)
    if not (textual or binary):
        raise InputError(
            f"column {column!r} has type {t}; expected string or binary", path=str(shard.path)
        )
    if binary:
        bad = _core.invalid_utf8_rows(texts)
        if len(bad) and on_error == "raise":
            raise InputError(
                f"column {column!r} is not valid UTF-8 (use --on-error keep to keep such rows)",
                path=str(shard.path),
                row=start + int(bad[0]),
            )
        if len(bad):
            mask = np.zeros(len(texts), dtype=np.bool_)
            mask[bad] = True
            texts = pc.if_else(pa.array(mask), pa.scalar(None, t), texts)
            errors = {int(r): f"column {column!r} is not valid UTF-8" for r in bad}
    return texts, errors


def _sort_key(
    rule: tuple[str, str | None], table: pa.Table, texts: pa.ChunkedArray, shard: Shard
) -> npt.NDArray[np.float64] | None:
    if rule[0] == "longest":
        lengths = pc.utf8_length(texts.cast(pa.large_string()))
        return np.asarray(lengths.to_numpy(zero_copy_only=False), dtype=np.float64)
    if rule[0] in ("max", "min") and rule[1] is not None:
        values = table[rule[1]]
        t = values.type
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            values = values.cast(pa.int64())
        elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
            raise InputError(
                f"--keep column {rule[1]!r} has type {t}; expected a number or a date",
                path=str(shard.path),
            )
        return np.asarray(
            values.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
        )
    return None


def create_signature_file(work: WorkDir, plan: Plan) -> None:
    """Creates the memory-mapped signature file of all documents, once, before any worker
    writes its rows into it (workers only open it: two creating it at once would race)."""
    cfg = _dedup_config(plan)
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    if cfg.method == "minhash":
        shape, dtype = (plan.rows, cfg.num_perm), np.dtype(np.uint32)
    elif cfg.method == "simhash":
        shape, dtype = (plan.rows,), np.dtype(np.uint64)
    else:
        shape, dtype = (plan.rows, 16), np.dtype(np.uint8)
    path = work.path("signatures.npy")
    if not path.exists():
        create_npy(path, dtype, shape)


def _signature_file(work: WorkDir) -> np.memmap[Any, Any]:
    return np.lib.format.open_memmap(work.root / "signatures.npy", mode="r+")


def _piece_rows(plan: Plan, i: int) -> int:
    """Rows of shard ``i`` read at a time: a quarter of the budget holds the piece's columns
    (decoded, counted three times for copies), its signatures and its band keys; at least 1024
    rows."""
    cfg = _dedup_config(plan)
    s = plan.shards[i]
    text = -(-int(s.get("bytes", 0)) // max(int(s["rows"]), 1))
    sig = {"minhash": 4 * cfg.num_perm, "simhash": 8, "exact": 16}[cfg.method]
    bands = cfg.band_geometry()[0] if cfg.method == "minhash" else 1
    per_row = 3 * text + 2 * sig + 36 * bands + 64
    return int(max(1024, min(max(int(s["rows"]), 1), plan.memory // 4 // per_row)))


def stage_signatures(work: WorkDir, plan: Plan, i: int) -> None:
    """Signatures of shard ``i`` and its rows in each partition, a piece of the shard at a
    time (see :func:`_piece_rows`)."""
    unit = f"signatures-{i:06d}"
    if work.done(unit):
        return
    cfg, shard, rule = _dedup_config(plan), plan.shard(i), parse_keep(plan.keep)
    columns = [plan.column] + [c for c in (plan.id_column, rule[1]) if c and c != plan.column]
    off, rows, tag = plan.offset(i), int(plan.shards[i]["rows"]), f"{i:06d}"
    changed = InputError(
        "changed since the run was planned; start again without --resume", path=str(shard.path)
    )
    errors: dict[int, str] = {}
    ids: list[Path] = []
    parts = _PartitionRows(work, plan.partitions, tag)
    start = 0
    with ExitStack() as stack:
        out_empty = stack.enter_context(
            _npy_out(work.path(f"empty/{tag}.npy"), np.dtype(np.bool_), rows)
        )
        out_key = None
        if rule[0] != "first":
            out_key = stack.enter_context(
                _npy_out(work.path(f"keys/{tag}.npy"), np.dtype(np.float64), rows)
            )
        # JSON Lines rows whose text cannot be read (invalid UTF-8, ...): with --on-error keep,
        # each piece's are recorded here, and its text read as null.
        unreadable: dict[int, str] | None = {} if plan.on_error == "keep" else None
        pieces = iter_columns(
            shard, columns, _piece_rows(plan, i), text=plan.column, problems=unreadable
        )
        for piece, table in enumerate(pieces):
            n = table.num_rows
            if start + n > rows:
                raise changed
            texts, errs = _text_column(table, plan.column, shard, plan.on_error, start)
            if unreadable:
                errs.update({r - start: m for r, m in unreadable.items()})
                unreadable.clear()
            sigs = compute_signatures(texts, cfg)
            # A fresh mapping per piece: its pages leave the process with it.
            mm = _signature_file(work)
            mm[off + start : off + start + n] = sigs.data
            mm.flush()
            del mm
            out_empty(sigs.empty)
            key = _sort_key(rule, table, texts, shard)
            if out_key is not None and key is not None:
                out_key(key)
            if plan.id_column:
                ids.append(work.path(f"ids/{tag}-{piece:05d}.parquet"))
                write_table(pa.table({plan.id_column: table[plan.id_column]}), ids[-1])
            del table, texts, key
            skip = sigs.empty.copy()
            skip[list(errs)] = True
            errors.update({start + k: v for k, v in errs.items()})
            _add_partition_rows(parts, plan, cfg, sigs.data, skip, off + start)
            start += n
        if start != rows:
            raise changed
        parts.close()
    if plan.id_column:
        _join_ids(ids, plan.id_column, work.path(f"ids/{tag}.parquet"))
    if errors:
        with atomic_write(work.path(f"errors/{tag}.json")) as f:
            f.write(json.dumps({str(k): v for k, v in errors.items()}).encode())
    work.mark(unit)


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


def _partition_keys(cfg: DedupConfig, data: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """(n, m) keys that decide which documents can pair: band keys, or the first 8 bytes of the
    exact hash."""
    if cfg.method == "minhash":
        bands, rows = cfg.band_geometry()
        return _core.band_keys(np.ascontiguousarray(data), bands=bands, rows=rows)
    return np.ascontiguousarray(data[:, :8]).view(">u8").astype(np.uint64)


_ROW = np.dtype([("key", "<u8"), ("doc", "<u4")])


class _PartitionRows:
    """The (key, doc) rows of one shard (or of the index) for each partition, appended a piece at
    a time to temporary files that are renamed into place when all are written: one file per
    shard and partition, however many pieces the shard is read in."""

    def __init__(self, work: WorkDir, partitions: int, tag: str) -> None:
        self.final = [work.path(f"partitions/{p:05d}/{tag}.rows") for p in range(partitions)]
        self.tmp = [f.with_name(f".{f.name}.tmp") for f in self.final]
        for t in self.tmp:  # left by an interrupted attempt
            t.unlink(missing_ok=True)
        self.used = [False] * partitions

    def add(self, p: int, rows: npt.NDArray[Any]) -> None:
        if len(rows):
            with open(self.tmp[p], "ab") as f:
                f.write(rows.tobytes())
            self.used[p] = True

    def close(self) -> None:
        for tmp, final, used in zip(self.tmp, self.final, self.used, strict=True):
            if used:
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, final)


def _write_partitions(
    work: WorkDir,
    plan: Plan,
    cfg: DedupConfig,
    data: npt.NDArray[Any],
    skip: npt.NDArray[np.bool_],
    off: int,
    tag: str,
) -> None:
    """The rows of documents ``off ..`` (signatures ``data``) in each partition, as ``tag``'s
    files."""
    out = _PartitionRows(work, plan.partitions, tag)
    _add_partition_rows(out, plan, cfg, data, skip, off)
    out.close()


def _add_partition_rows(
    out: _PartitionRows,
    plan: Plan,
    cfg: DedupConfig,
    data: npt.NDArray[Any],
    skip: npt.NDArray[np.bool_],
    off: int,
) -> None:
    if cfg.method == "simhash":
        return  # searched in one piece: 8 bytes per document
    keys = _partition_keys(cfg, data)
    docs = np.arange(off, off + len(data), dtype=np.uint32)
    live = ~skip
    keys, docs = keys[live], np.repeat(docs[live], keys.shape[1])
    keys = keys.ravel()
    part = (keys % np.uint64(plan.partitions)).astype(np.int64)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(plan.partitions + 1))
    for p in range(plan.partitions):
        sel = order[bounds[p] : bounds[p + 1]]
        rows = np.empty(len(sel), dtype=_ROW)
        rows["key"], rows["doc"] = keys[sel], docs[sel]
        out.add(p, rows)


def stage_index(work: WorkDir, plan: Plan) -> None:
    """Brings the index's documents in as rows ``0..index_rows``: signatures, and their keys in
    the partitions. Documents the index marked empty or errored take part in nothing."""
    if plan.index is None or work.done("index"):
        return
    cfg, old = _dedup_config(plan), Path(plan.index)
    src = np.load(old / "signatures.npy", mmap_mode="r")
    skip = np.load(old / "status.npy") >= 3  # empty or error
    mm = _signature_file(work)
    chunk = 1 << 17
    parts = _PartitionRows(work, plan.partitions, "index")
    for start in range(0, plan.index_rows, chunk):
        data = np.asarray(src[start : start + chunk])
        mm[start : start + len(data)] = data
        _add_partition_rows(parts, plan, cfg, data, skip[start : start + len(data)], start)
    parts.close()
    mm.flush()
    work.save("empty/index.npy", skip)
    work.mark("index")


# -- stage 3: candidates ---------------------------------------------------------------------


def stage_candidates(work: WorkDir, plan: Plan, p: int) -> None:
    """Verified edges of partition ``p``."""
    unit = f"candidates-{p:05d}"
    if work.done(unit):
        return
    cfg = _dedup_config(plan)
    files = sorted((work.root / "partitions" / f"{p:05d}").glob("*.rows"))
    rows = np.empty(sum(f.stat().st_size for f in files) // _ROW.itemsize, dtype=_ROW)
    at = 0
    for path in files:
        piece = np.fromfile(path, dtype=_ROW)
        rows[at : at + len(piece)] = piece
        at += len(piece)
        del piece
    # Exact dedup buckets by the first 64 bits of the 128-bit hash: the window makes a chain of
    # true duplicates survive even if an unrelated document shares those 64 bits.
    window = _WINDOW[cfg.verify] if cfg.method == "minhash" else 8
    keys, docs = np.ascontiguousarray(rows["key"]), np.ascontiguousarray(rows["doc"])
    del rows  # only one copy of the partition at a time, beside the kernel's sorted pairs
    edges = _core.bucket_pairs(keys, docs, window=window)
    del keys, docs
    with atomic_write(work.path(f"edges/{p:05d}.json")) as f:
        f.write(json.dumps({"candidates": len(edges)}).encode())
    work.save(f"edges/{p:05d}.npy", _verify(work, cfg, edges, plan.memory))
    work.mark(unit)


def _verify(
    work: WorkDir, cfg: DedupConfig, edges: npt.NDArray[np.uint32], memory: int = 4 * 2**30
) -> npt.NDArray[np.uint32]:
    if len(edges) == 0:
        return edges
    keep = np.zeros(len(edges), dtype=np.bool_)
    # Per edge: its two signatures, their comparison, and up to two pages of the mapped file.
    row = int(np.prod(work.load("signatures.npy", mmap=True).shape[1:], dtype=np.int64)) * 4
    chunk = max(1024, min(1 << 17, memory // 4 // (3 * row + 2 * 4096)))
    for s in range(0, len(edges), chunk):
        e = edges[s : s + chunk]
        # A fresh mapping per chunk: the pages a chunk touched leave the process (and its RSS)
        # with the mapping, so verification never holds more than one chunk's rows.
        sigs = work.load("signatures.npy", mmap=True)
        a, b = sigs[e[:, 0].astype(np.int64)], sigs[e[:, 1].astype(np.int64)]
        del sigs
        if cfg.method == "exact":
            keep[s : s + len(e)] = (a == b).all(axis=1)
        elif cfg.verify == "signature":
            keep[s : s + len(e)] = (a == b).mean(axis=1) >= cfg.threshold
        else:
            keep[s : s + len(e)] = True  # "none", and "jaccard" (checked in the clusters stage)
    return np.ascontiguousarray(edges[keep])


# -- stage 4: clusters -----------------------------------------------------------------------


def stage_simhash(work: WorkDir, plan: Plan) -> None:
    """SimHash pairs within the Hamming distance, searched in one piece (8 bytes per document)."""
    if work.done("search"):
        return
    cfg = _dedup_config(plan)
    fps = np.asarray(work.load("signatures.npy", mmap=True))
    skip = _concat_parts(work, plan, "empty")
    skip[list(_load_errors(work, plan))] = True
    equal, near = _core.hamming_neighbours(fps, skip, k=cfg.max_distance)
    del fps, skip
    edges = np.concatenate([equal, near])
    with atomic_write(work.path("edges/simhash.json")) as f:
        f.write(json.dumps({"candidates": len(edges)}).encode())
    work.save("edges/simhash.npy", edges)
    work.mark("search")


def _edge_files(work: WorkDir, plan: Plan) -> list[Path]:
    if _dedup_config(plan).method == "simhash":
        return [work.root / "edges" / "simhash.npy"]
    return [work.root / "edges" / f"{p:05d}.npy" for p in range(plan.partitions)]


def components_plan(work: WorkDir, plan: Plan) -> tuple[str, int]:
    """``("local", 1)`` or ``("distributed", partitions)``: union-find on one node unless
    ``--components distributed`` or its estimate for the documents and edges exceeds the memory
    budget."""
    if plan.components == "local":
        return "local", 1
    edges = sum(int(np.load(f, mmap_mode="r").shape[0]) for f in _edge_files(work, plan))
    fits = local_bytes(plan.rows, edges) <= plan.memory
    if plan.components == "auto" and fits:
        return "local", 1
    return "distributed", partitions_for(plan.rows, edges, plan.memory)


def _candidate_count(work: WorkDir, plan: Plan) -> int:
    return sum(
        json.loads(f.with_suffix(".json").read_text())["candidates"]
        for f in _edge_files(work, plan)
    )


def stage_clusters(work: WorkDir, plan: Plan) -> None:
    """Connected components of all edges on one node (union-find), and the kept members."""
    if work.done("clusters"):
        return
    cfg = _dedup_config(plan)
    n = plan.rows
    empty = _concat_parts(work, plan, "empty")
    errors = _load_errors(work, plan)
    files = [work.load(str(f.relative_to(work.root))) for f in _edge_files(work, plan)]
    edges = np.concatenate(files) if files else np.zeros((0, 2), np.uint32)
    del files
    if cfg.method != "simhash":
        # A pair sharing bands whose keys fall in two partitions is found twice.
        edges = np.unique(edges, axis=0) if len(edges) else edges
        if cfg.method == "minhash" and cfg.verify == "jaccard":
            edges = _jaccard_filter(plan, cfg, edges)
    labels = _core.components(n, np.ascontiguousarray(edges, dtype=np.uint32))
    accepted = len(edges)
    del edges
    if errors:
        labels[list(errors)] = -1
    rule = parse_keep(plan.keep)
    key = None
    if rule[0] != "first":
        key = _concat_parts(work, plan, "keys")
    keep = choose_keep(labels, rule, key)
    del key
    status = np.zeros(n, dtype=np.uint8)  # index into STATUSES
    status[empty] = 3
    status[(labels >= 0) & keep] = 1
    status[(labels >= 0) & ~keep] = 2
    status[list(errors)] = 4
    work.save("labels.npy", labels)
    work.save("keep.npy", keep)
    work.save("status.npy", status)
    new = slice(plan.index_rows, None)
    clusters = len(np.unique(labels[new][labels[new] >= 0]))
    counts = _Counts()
    counts.add(keep[new], status[new])
    _save_counts(work, plan, counts, clusters, accepted, {"mode": "local"})
    work.mark("clusters")


def stage_components(work: WorkDir, plan: Plan, partitions: int, each: MapUnits) -> None:
    """Connected components by large-star/small-star rounds (see :mod:`mmdedup.components`):
    every step's units go through ``each``; then the labels, kept members and statuses are
    written in chunks of documents."""
    if work.done("clusters"):
        return
    rule = parse_keep(plan.keep)
    graph = Graph(work.root / "components", work, plan.rows, partitions)
    sources = [functools.partial(_edges_for_components, plan, f) for f in _edge_files(work, plan)]
    info = graph.run(
        sources,
        each,
        key_of=None if rule[0] == "first" else functools.partial(_keys_of, work, plan),
        best_min=rule[0] == "min",
        first_new=plan.index_rows,
    )
    each("clusters", lambda _: _assemble(work, plan, graph, info), 1)


def _edges_for_components(plan: Plan, path: Path) -> npt.NDArray[np.uint32]:
    edges: npt.NDArray[np.uint32] = np.load(path, allow_pickle=False)
    cfg = _dedup_config(plan)
    if cfg.method == "minhash" and cfg.verify == "jaccard" and len(edges):
        edges = _jaccard_filter(plan, cfg, np.unique(edges, axis=0))
    return edges


def _keys_of(work: WorkDir, plan: Plan, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """The keep rule's key of documents ``ids``; the index's documents win (they stay)."""
    rule = parse_keep(plan.keep)
    out = np.full(len(ids), np.inf if rule[0] != "min" else -np.inf)
    starts = np.array([plan.offset(i) for i in range(len(plan.shards))], dtype=np.int64)
    shard = np.searchsorted(starts, ids, side="right") - 1
    for i in np.unique(shard[ids >= plan.index_rows]):
        sel = shard == i
        keys = work.load(f"keys/{i:06d}.npy", mmap=True)
        out[sel] = keys[ids[sel] - starts[i]]
        del keys
    return out


def _assemble(work: WorkDir, plan: Plan, graph: Graph, info: dict[str, Any]) -> None:
    """Labels, kept members and statuses of all documents from the final stars, written a chunk
    of documents at a time."""
    if work.done("clusters"):
        return
    rule = parse_keep(plan.keep)
    n, p = plan.rows, graph.p
    errors = np.array(sorted(_load_errors(work, plan)), dtype=np.int64)
    chunk = max(1, (1 << 20) // p) * p
    counts = _Counts()
    with (
        _npy_out(work.path("labels.npy"), np.dtype(np.int64), n) as out_labels,
        _npy_out(work.path("keep.npy"), np.dtype(np.bool_), n) as out_keep,
        _npy_out(work.path("status.npy"), np.dtype(np.uint8), n) as out_status,
    ):
        for a in range(0, n, chunk):
            b = min(a + chunk, n)
            labels = graph.labels(a, b)
            err = errors[(errors >= a) & (errors < b)] - a
            labels[err] = -1
            if rule[0] == "first":
                keep = (labels < 0) | (labels == np.arange(a, b))
            else:
                keep = labels < 0
                keep[graph.kept_best(a, b).astype(np.int64) - a] = True
            status = np.zeros(b - a, dtype=np.uint8)
            status[_slice_parts(work, plan, "empty", a, b)] = 3
            status[(labels >= 0) & keep] = 1
            status[(labels >= 0) & ~keep] = 2
            status[err] = 4
            out_labels(labels)
            out_keep(keep)
            out_status(status)
            new = slice(max(plan.index_rows - a, 0), None)
            counts.add(keep[new], status[new])
    mode = {"mode": "distributed", "partitions": graph.p, "rounds": info["rounds"]}
    _save_counts(work, plan, counts, info["clusters"], info["edges"], mode)
    work.mark("clusters")


class _Counts:
    def __init__(self) -> None:
        self.kept = self.removed = 0
        self.status = [0] * len(STATUSES)

    def add(self, keep: npt.NDArray[np.bool_], status: npt.NDArray[np.uint8]) -> None:
        k = int(np.count_nonzero(keep))
        self.kept += k
        self.removed += len(keep) - k
        for i, c in enumerate(np.bincount(status, minlength=len(STATUSES))):
            self.status[i] += int(c)


def _save_counts(
    work: WorkDir,
    plan: Plan,
    counts: _Counts,
    clusters: int,
    accepted: int,
    mode: dict[str, Any],
) -> None:
    pairs = {"candidate_pairs": _candidate_count(work, plan), "accepted_pairs": int(accepted)}
    out = {
        "kept": counts.kept,
        "removed": counts.removed,
        "clusters": int(clusters),
        "pairs": pairs,
        "status": dict(zip(STATUSES, counts.status, strict=True)),
        "components": mode,
    }
    with atomic_write(work.path("counts.json")) as f:
        f.write(json.dumps(out).encode())


def _part_files(work: WorkDir, plan: Plan, kind: str) -> list[tuple[int, Path | None]]:
    """``(first row, file)`` of each part of a per-document array: the index's (``empty``
    only; ``None`` for ``keys``, whose index part is the winning key) and each shard's."""
    parts: list[tuple[int, Path | None]] = []
    if plan.index is not None:
        parts.append((0, work.root / kind / "index.npy" if kind == "empty" else None))
    parts += [(plan.offset(i), work.root / kind / f"{i:06d}.npy") for i in range(len(plan.shards))]
    return parts


def _concat_parts(work: WorkDir, plan: Plan, kind: str) -> npt.NDArray[Any]:
    return _slice_parts(work, plan, kind, 0, plan.rows)


def _slice_parts(work: WorkDir, plan: Plan, kind: str, a: int, b: int) -> npt.NDArray[Any]:
    """Rows ``a .. b`` of the per-document array ``kind`` (``empty`` or ``keys``)."""
    if kind == "empty":
        out: npt.NDArray[Any] = np.zeros(b - a, dtype=np.bool_)
    else:
        best = np.inf if parse_keep(plan.keep)[0] != "min" else -np.inf
        out = np.full(b - a, best, dtype=np.float64)
    parts = _part_files(work, plan, kind)
    ends = [s for s, _ in parts[1:]] + [plan.rows]
    for (start, path), end in zip(parts, ends, strict=True):
        lo, hi = max(start, a), min(end, b)
        if lo >= hi or path is None:
            continue
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        out[lo - a : hi - a] = arr[lo - start : hi - start]
        del arr
    return out


@contextmanager
def _npy_out(path: Path, dtype: np.dtype[Any], length: int) -> Iterator[Callable[[Any], None]]:
    """Writes a 1-D ``.npy`` of known length in pieces, atomically: yields ``write(piece)``."""
    written = 0
    with atomic_write(path) as f:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False}
        np.lib.format.write_array_header_1_0(f, {**header, "shape": (length,)})

        def write(arr: npt.NDArray[Any]) -> None:
            nonlocal written
            f.write(np.ascontiguousarray(arr, dtype=dtype).tobytes())
            written += len(arr)

        yield write
        if written != length:
            raise AssertionError(f"{path}: wrote {written} of {length} rows")


def _load_errors(work: WorkDir, plan: Plan) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(len(plan.shards)):
        p = work.root / "errors" / f"{i:06d}.json"
        if p.exists():
            out.update({plan.offset(i) + int(k): v for k, v in json.loads(p.read_text()).items()})
    return out


def _jaccard_filter(
    plan: Plan, cfg: DedupConfig, edges: npt.NDArray[np.uint32]
) -> npt.NDArray[np.uint32]:
    """Exact Jaccard check of candidate pairs: reads back only the texts of documents in a pair."""
    if len(edges) == 0:
        return edges
    involved = np.unique(edges)
    texts: list[pa.Array] = []
    for i in range(len(plan.shards)):
        off, n = plan.offset(i), plan.shards[i]["rows"]
        local = involved[(involved >= off) & (involved < off + n)] - off
        if len(local) == 0:
            continue
        start = 0
        pieces = iter_columns(
            plan.shard(i), [plan.column], _piece_rows(plan, i), text=plan.column, problems={}
        )
        for table in pieces:
            rows = local[(local >= start) & (local < start + table.num_rows)] - start
            start += table.num_rows
            if len(rows):
                col, _ = _text_column(table, plan.column, plan.shard(i), "keep")
                texts.append(col.take(pa.array(rows)).combine_chunks().cast(pa.large_string()))
    remapped = np.searchsorted(involved, edges).astype(np.uint32)
    sim = _core.jaccard(
        pa.chunked_array(texts, pa.large_string()),
        remapped,
        ngram=cfg.ngram,
        tokenizer=cfg.tokenizer,
        **cfg.normalize_options(),
    )
    return np.ascontiguousarray(edges[sim >= cfg.threshold])


# -- stage 5: write --------------------------------------------------------------------------


# Rows per row group of the per-shard parts of ``clusters.parquet``: pyarrow's default, which
# ``clusters.parquet`` has always had.
_PART_ROWS = 1024 * 1024


def stage_write(work: WorkDir, plan: Plan, i: int, outdir: Location) -> None:
    """The filtered shard ``i`` and its part of ``clusters.parquet``, a piece at a time: a row
    group or a block of lines of the shard, then ``_PART_ROWS`` rows of the part."""
    unit = f"write-{i:06d}"
    if work.done(unit):
        return
    off, n, shard = plan.offset(i), plan.shards[i]["rows"], plan.shard(i)
    kept = write_filtered(
        shard, work.load("keep.npy", mmap=True)[off : off + n], outdir, rows=_piece_rows(plan, i)
    )
    errors = _load_errors(work, plan)
    ids = (
        pq.ParquetFile(work.root / "ids" / f"{i:06d}.parquet").iter_batches(_PART_ROWS)
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
                "shard": pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(b - a, np.int32)), pa.array([shard.name], pa.string())
                ),
                "row": pa.array(np.arange(a, b), pa.int64()),
            }
            if plan.id_column:
                assert ids is not None
                cols[plan.id_column] = next(ids, None) if b > a else None
                if cols[plan.id_column] is None:  # an empty shard
                    schema = pq.read_schema(work.root / "ids" / f"{i:06d}.parquet")
                    cols[plan.id_column] = schema.empty_table()[plan.id_column]
                else:
                    cols[plan.id_column] = cols[plan.id_column].column(0)
            cols["cluster"] = pa.array(labels, mask=labels < 0, type=pa.int64())
            cols["keep"] = pa.array(keep)
            cols["status"] = pa.array(np.array(STATUSES, dtype=object)[status], pa.string())
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
    work.mark(unit)


def _merge_clusters(work: WorkDir, plan: Plan, target: Location) -> None:
    """Concatenates the per-shard parts into ``clusters.parquet``, one row group in memory at a
    time."""
    parts = [work.root / "clusters" / f"{i:06d}.parquet" for i in range(len(plan.shards))]
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


def run(
    inputs: Iterable[str],
    outdir: str | os.PathLike[str],
    *,
    config: DedupConfig,
    column: str = "text",
    id_column: str | None = None,
    keep_rule: str = "first",
    on_error: str = "raise",
    memory: int = 4 * 2**30,
    work_dir: Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    index: Path | None = None,
    components: str = "auto",
    progress: Callable[[str, int], Any] | None = None,
    map_units: Callable[[str, Callable[[int], None], int], None] | None = None,
) -> dict[str, Any]:
    """Runs every stage; returns the summary (also written to ``outdir/summary.json``).

    Args:
        index: A finished run (its output or work directory) to dedup against: documents of
            ``inputs`` that duplicate one of its documents are removed; its own are left alone.
            Its signatures are reused, not recomputed. The new work directory holds the index's
            documents and the new ones, so it serves as the index of the next run.
        components: ``local`` (union-find on one node), ``distributed`` (large-star/small-star
            rounds over partitioned edge files, each round's units through ``map_units``) or
            ``auto``: distributed when union-find would not fit ``memory``. Same results.
        progress: Called as ``progress(stage, units)`` before each stage (for progress bars);
            returns a callable ticked once per unit, or None.
        map_units: Runs ``fn(unit)`` for ``unit in range(count)`` of a stage; the local engine
            runs them in order, the Ray engine as tasks.
    """
    t0 = time.perf_counter()
    parse_keep(keep_rule)
    inputs = list(inputs)
    out = Location(outdir)
    plan = make_plan(
        inputs,
        config,
        column=column,
        id_column=id_column,
        keep_rule=keep_rule,
        on_error=on_error,
        memory=memory,
        index=index,
        components=components,
    )
    shards = [plan.shard(i) for i in range(len(plan.shards))]
    root = Path(work_dir) if work_dir is not None else _default_work_dir(out)
    if plan.index is not None and Path(plan.index).resolve() == root.resolve():
        raise InputError("the index is this run's own work directory; write to another -o")
    with ExitStack() as held:
        outputs = held.enter_context(
            open_run(
                outdir,
                inputs=inputs,
                shards=[str(s.path) for s in shards],
                resume=resume,
                overwrite=overwrite,
                work_dir=root if work_dir is not None else None,
            )
        )
        held.enter_context(
            claim_work_dir(root, resume=resume, manifest="manifest.json", default=work_dir is None)
        )
        return _run(
            WorkDir(root), plan, outputs, inputs, t0, resume, progress, map_units or _map_local
        )


def _run(
    work: WorkDir,
    plan: Plan,
    outputs: OutputRun,
    inputs: list[str],
    t0: float,
    resume: bool,
    progress: Callable[[str, int], Any] | None,
    each: MapUnits,
) -> dict[str, Any]:
    out = outputs.out
    shards = [plan.shard(i) for i in range(len(plan.shards))]
    manifest = work.root / "manifest.json"
    if resume and manifest.exists():
        old = Plan(**json.loads(manifest.read_text()))
        if old.version != plan.version:
            raise InputError(
                f"{work.root} was written by another mmdedup version (work directory format "
                f"{old.version}, this version writes {plan.version}); drop --resume"
            )
        if not old.same_work(plan):
            raise InputError(
                f"{work.root} belongs to a run with other inputs or parameters; drop --resume"
            )
    with atomic_write(work.path("manifest.json")) as f:
        f.write(json.dumps(asdict(plan), indent=1).encode())
    seconds: dict[str, float] = {}

    def stage(name: str, count: int, fn: Callable[[int], None], key: str | None = None) -> None:
        t = time.perf_counter()
        tick = progress(name, count) if progress else None

        def unit(u: int) -> None:
            fn(u)
            if tick:
                tick(1)

        each(name, unit, count)
        key = key or name
        seconds[key] = round(seconds.get(key, 0.0) + time.perf_counter() - t, 3)

    create_signature_file(work, plan)
    if plan.index is not None:
        stage("index", 1, lambda _: stage_index(work, plan))
    stage("signatures", len(shards), lambda i: stage_signatures(work, plan, i))
    cfg = _dedup_config(plan)
    if cfg.method == "simhash":
        stage("search", 1, lambda _: stage_simhash(work, plan))
    else:
        stage("candidates", plan.partitions, lambda p: stage_candidates(work, plan, p))
    mode, parts = components_plan(work, plan)
    if mode == "local":
        stage("clusters", 1, lambda _: stage_clusters(work, plan))
    else:
        stage_components(work, plan, parts, lambda n, fn, c: stage(n, c, fn, key="clusters"))
    outputs.declare([s.name for s in shards] + ["clusters.parquet", "summary.json"])
    stage("write", len(shards), lambda i: stage_write(work, plan, i, out))
    _merge_clusters(work, plan, out / "clusters.parquet")
    summary = _summary(work, plan, inputs, seconds, time.perf_counter() - t0)
    summary["precision"] = _precision(out, summary, work.root)
    with (out / "summary.json").write() as f:
        f.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary


def _precision(out: Location, summary: dict[str, Any], work: Path) -> dict[str, Any] | None:
    """Exact Jaccard of a sample of the removed documents against their kept ones (see
    :func:`mmdedup.inspect.precision_estimate`); None for a remote OUTDIR."""
    if not out.is_local:
        return None
    from .inspect import precision_estimate

    return precision_estimate(out.local(), summary=summary, work_dir=work)


def _default_work_dir(out: Location) -> Path:
    """Beside the results for a local OUTDIR; for a remote one, a local directory named after it
    (so ``--resume`` finds it again)."""
    if out.is_local:
        return out.local() / ".mmdedup-work"
    import hashlib
    import tempfile

    digest = hashlib.sha1(str(out).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mmdedup-work-{digest}"


def _map_local(name: str, fn: Callable[[int], None], count: int) -> None:
    for u in range(count):
        fn(u)


def _summary(
    work: WorkDir, plan: Plan, inputs: list[str], seconds: dict[str, float], total: float
) -> dict[str, Any]:
    counts = json.loads((work.root / "counts.json").read_text())
    shards = []
    for i, s in enumerate(plan.shards):
        kept = json.loads((work.root / "kept" / f"{i:06d}.json").read_text())["kept"]
        shards.append({"shard": s["name"], "documents": s["rows"], "kept": kept})
    seconds["total"] = round(total, 3)
    return {
        "mmdedup_version": _core.__version__,
        "inputs": inputs,
        "column": plan.column,
        "id_column": plan.id_column,
        "keep": plan.keep,
        "on_error": plan.on_error,
        "parameters": _dedup_config(plan).to_dict(),
        "counts": {
            "documents": plan.rows - plan.index_rows,
            "kept": counts["kept"],
            "removed": counts["removed"],
            "clusters": counts["clusters"],
            **counts["pairs"],
        },
        "status": counts["status"],
        "shards": shards,
        "partitions": plan.partitions,
        "components": counts["components"],
        "index": {"path": plan.index, "documents": plan.index_rows} if plan.index else None,
        "seconds": seconds,
        "threads": _core.get_num_threads(),
    }
