"""The staged, restartable dedup behind ``mmdedup dedup``.

A run is a sequence of stages over files in a work directory; each unit of work (a shard, a
partition) writes its results under a temporary name, renames them into place and then drops a
marker, so an interrupted run (Ctrl-C, kill -9, a full disk) resumes where it stopped with
``--resume`` and produces byte-identical results:

1. ``plan``: find the shards, count their rows, fix global row ids and the partition count
   from the memory budget (``manifest.json``).
2. ``signatures`` (per shard): signatures into one memory-mapped file; for MinHash, the band
   keys go to ``partitions`` files by key, so a partition holds every document that could
   share a bucket; sort keys and per-row errors are kept beside.
3. ``candidates`` (per partition): pairs from equal keys, verified (signature agreement, or the
   128-bit hash for exact dedup) into edge files.
4. ``clusters``: connected components of all edges, the kept member of each cluster.
5. ``write`` (per shard): the filtered shard and its part of ``clusters.parquet``; then
   ``clusters.parquet`` and ``summary.json``.

Memory is bounded by the largest shard batch and the largest partition, not by the corpus:
the partition count grows with the corpus so that one partition fits the ``memory`` budget.
Union-find holds 4 bytes per document.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import _core
from .dedup import DedupConfig, choose_keep, compute_signatures, parse_keep
from .errors import InputError, ParameterError
from .io import Shard, atomic_write, discover, read_columns, shard_rows, write_filtered, write_table
from .storage import Location

__all__ = ["STATUSES", "Plan", "WorkDir", "parse_size", "run"]

STATUSES = ("unique", "kept", "duplicate", "empty", "error")
_WINDOW = {"none": 1, "signature": 8, "jaccard": 8}
# Version of the work directory's contents. 2: MinHash signatures of the native scheme's
# second definition (32-bit affine permutations); version 1 signatures are not comparable.
_VERSION = 2


def parse_size(text: str) -> int:
    """Bytes from ``4GB``, ``512MiB``, ``1.5G`` or a plain number."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    num = t.rstrip("KMGT")
    try:
        value = float(num) * units[t[len(num) :]]
    except (ValueError, KeyError) as e:
        raise ParameterError(f"cannot read the size {text!r} (try 4GB or 512MB)") from e
    if value <= 0:
        raise ParameterError(f"the memory budget must be positive, got {text!r}")
    return int(value)


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
) -> Plan:
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
    for s in shards:
        n = shard_rows(s)
        listed.append(
            {
                "path": str(s.path),
                "name": s.name,
                "format": s.format,
                "gzipped": s.gzipped,
                "rows": n,
                "offset": offset,
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
    partitions = max(1, -(-offset * bands * per_row // max(memory // 2, 1)))
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
    return plan


# -- stage 2: signatures ---------------------------------------------------------------------


def _text_column(
    table: pa.Table, column: str, shard: Shard, on_error: str
) -> tuple[pa.ChunkedArray, dict[int, str]]:
    texts = table[column]
    t = texts.type
    errors: dict[int, str] = {}
    if pa.types.is_null(t):
        return texts.cast(pa.string()), errors
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
                row=int(bad[0]),
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
        tmp = path.with_suffix(".tmp")
        np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape).flush()
        os.replace(tmp, path)


def _signature_file(work: WorkDir) -> np.memmap[Any, Any]:
    return np.lib.format.open_memmap(work.root / "signatures.npy", mode="r+")


def stage_signatures(work: WorkDir, plan: Plan, i: int) -> None:
    """Signatures of shard ``i`` and its rows in each partition."""
    unit = f"signatures-{i:06d}"
    if work.done(unit):
        return
    cfg, shard, rule = _dedup_config(plan), plan.shard(i), parse_keep(plan.keep)
    columns = [plan.column] + [c for c in (plan.id_column, rule[1]) if c and c != plan.column]
    table = read_columns(shard, columns)
    if table.num_rows != plan.shards[i]["rows"]:
        raise InputError(
            "changed since the run was planned; start again without --resume", path=str(shard.path)
        )
    texts, errors = _text_column(table, plan.column, shard, plan.on_error)
    sigs = compute_signatures(texts, cfg)
    off, n = plan.offset(i), table.num_rows
    mm = _signature_file(work)
    mm[off : off + n] = sigs.data
    mm.flush()
    del mm
    tag = f"{i:06d}"
    work.save(f"empty/{tag}.npy", sigs.empty)
    key = _sort_key(rule, table, texts, shard)
    if key is not None:
        work.save(f"keys/{tag}.npy", key)
    if plan.id_column:
        write_table(
            pa.table({plan.id_column: table[plan.id_column]}), work.path(f"ids/{tag}.parquet")
        )
    if errors:
        with atomic_write(work.path(f"errors/{tag}.json")) as f:
            f.write(json.dumps({str(k): v for k, v in errors.items()}).encode())
    skip = sigs.empty.copy()
    if errors:
        skip[list(errors)] = True
    _write_partitions(work, plan, cfg, sigs.data, skip, off, tag)
    work.mark(unit)


def _partition_keys(cfg: DedupConfig, data: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """(n, m) keys that decide which documents can pair: band keys, or the first 8 bytes of the
    exact hash."""
    if cfg.method == "minhash":
        bands, rows = cfg.band_geometry()
        return _core.band_keys(np.ascontiguousarray(data), bands=bands, rows=rows)
    return np.ascontiguousarray(data[:, :8]).view(">u8").astype(np.uint64)


def _write_partitions(
    work: WorkDir,
    plan: Plan,
    cfg: DedupConfig,
    data: npt.NDArray[Any],
    skip: npt.NDArray[np.bool_],
    off: int,
    tag: str,
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
        rows = np.empty(len(sel), dtype=[("key", "<u8"), ("doc", "<u4")])
        rows["key"], rows["doc"] = keys[sel], docs[sel]
        work.save(f"partitions/{p:05d}/{tag}.npy", rows)


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
    for c, start in enumerate(range(0, plan.index_rows, chunk)):
        data = np.asarray(src[start : start + chunk])
        mm[start : start + len(data)] = data
        _write_partitions(
            work, plan, cfg, data, skip[start : start + len(data)], start, f"index-{c:06d}"
        )
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
    files = sorted((work.root / "partitions" / f"{p:05d}").glob("*.npy"))
    rows = np.empty(0, dtype=[("key", "<u8"), ("doc", "<u4")])
    if files:
        rows = np.concatenate([np.load(f, allow_pickle=False) for f in files])
    # Exact dedup buckets by the first 64 bits of the 128-bit hash: the window makes a chain of
    # true duplicates survive even if an unrelated document shares those 64 bits.
    window = _WINDOW[cfg.verify] if cfg.method == "minhash" else 8
    keys, docs = np.ascontiguousarray(rows["key"]), np.ascontiguousarray(rows["doc"])
    del rows  # only one copy of the partition at a time, beside the kernel's sorted pairs
    edges = _core.bucket_pairs(keys, docs, window=window)
    del keys, docs
    with atomic_write(work.path(f"edges/{p:05d}.json")) as f:
        f.write(json.dumps({"candidates": len(edges)}).encode())
    work.save(f"edges/{p:05d}.npy", _verify(work, cfg, edges))
    work.mark(unit)


def _verify(
    work: WorkDir, cfg: DedupConfig, edges: npt.NDArray[np.uint32]
) -> npt.NDArray[np.uint32]:
    if len(edges) == 0:
        return edges
    keep = np.zeros(len(edges), dtype=np.bool_)
    for s in range(0, len(edges), 1 << 17):
        e = edges[s : s + (1 << 17)]
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


def stage_clusters(work: WorkDir, plan: Plan) -> None:
    if work.done("clusters"):
        return
    cfg = _dedup_config(plan)
    n = plan.rows
    tags = [f"{i:06d}" for i in range(len(plan.shards))]
    empty_parts = [work.load(f"empty/{t}.npy") for t in (["index"] if plan.index else []) + tags]
    empty = np.concatenate(empty_parts) if empty_parts else np.zeros(0, np.bool_)
    errors = _load_errors(work, plan)
    if cfg.method == "simhash":
        fps = np.asarray(work.load("signatures.npy", mmap=True))
        skip = empty.copy()
        skip[list(errors)] = True
        equal, near = _core.hamming_neighbours(fps, skip, k=cfg.max_distance)
        edges = np.concatenate([equal, near])
        candidates = len(edges)
    else:
        candidates = sum(
            json.loads((work.root / "edges" / f"{p:05d}.json").read_text())["candidates"]
            for p in range(plan.partitions)
        )
        files = [work.load(f"edges/{p:05d}.npy") for p in range(plan.partitions)]
        edges = np.concatenate(files) if files else np.zeros((0, 2), np.uint32)
        # A pair sharing bands whose keys fall in two partitions is found twice.
        edges = np.unique(edges, axis=0) if len(edges) else edges
        if cfg.method == "minhash" and cfg.verify == "jaccard":
            edges = _jaccard_filter(plan, cfg, edges)
    labels = _core.components(n, np.ascontiguousarray(edges, dtype=np.uint32))
    if errors:
        labels[list(errors)] = -1
    rule = parse_keep(plan.keep)
    key = None
    if rule[0] != "first":
        # The index's documents were kept before: they stay, whatever the rule.
        best = np.inf if rule[0] != "min" else -np.inf
        keys = [work.load(f"keys/{t}.npy") for t in tags]
        key = np.concatenate([np.full(plan.index_rows, best), *keys])
    keep = choose_keep(labels, rule, key)
    status = np.zeros(n, dtype=np.uint8)  # index into STATUSES
    status[empty] = 3
    status[(labels >= 0) & keep] = 1
    status[(labels >= 0) & ~keep] = 2
    status[list(errors)] = 4
    work.save("labels.npy", labels)
    work.save("keep.npy", keep)
    work.save("status.npy", status)
    with atomic_write(work.path("pairs.json")) as f:
        f.write(
            json.dumps({"candidate_pairs": int(candidates), "accepted_pairs": len(edges)}).encode()
        )
    work.mark("clusters")


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
        if len(local):
            col, _ = _text_column(
                read_columns(plan.shard(i), [plan.column]), plan.column, plan.shard(i), "keep"
            )
            texts.append(col.take(pa.array(local)).combine_chunks().cast(pa.large_string()))
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


def stage_write(work: WorkDir, plan: Plan, i: int, outdir: Location) -> None:
    unit = f"write-{i:06d}"
    if work.done(unit):
        return
    off, n, shard = plan.offset(i), plan.shards[i]["rows"], plan.shard(i)
    keep = work.load("keep.npy", mmap=True)[off : off + n]
    labels = work.load("labels.npy", mmap=True)[off : off + n]
    status = work.load("status.npy", mmap=True)[off : off + n]
    kept = write_filtered(shard, np.asarray(keep), outdir)
    errors = _load_errors(work, plan)
    cols: dict[str, Any] = {
        "shard": pa.array([shard.name] * n, pa.string()).dictionary_encode(),
        "row": pa.array(np.arange(n), pa.int64()),
    }
    if plan.id_column:
        cols[plan.id_column] = pq.read_table(work.root / "ids" / f"{i:06d}.parquet")[plan.id_column]
    cols["cluster"] = pa.array(labels, mask=labels < 0, type=pa.int64())
    cols["keep"] = pa.array(np.asarray(keep))
    cols["status"] = pa.array(np.array(STATUSES, dtype=object)[status], pa.string())
    err = [errors.get(off + r) for r in range(n)] if errors else None
    cols["error"] = pa.array(err, pa.string()) if err else pa.nulls(n, pa.string())
    write_table(pa.table(cols), work.path(f"clusters/{i:06d}.parquet"))
    with atomic_write(work.path(f"kept/{i:06d}.json")) as f:
        f.write(json.dumps({"kept": kept}).encode())
    work.mark(unit)


def _merge_clusters(work: WorkDir, plan: Plan, target: Location) -> None:
    """Concatenates the per-shard parts into ``clusters.parquet``, one part in memory at a time."""
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
            writer.write_table(pq.read_table(p).cast(schema))


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
    progress: Callable[[str, int], Any] | None = None,
    map_units: Callable[[str, Callable[[int], None], int], None] | None = None,
) -> dict[str, Any]:
    """Runs every stage; returns the summary (also written to ``outdir/summary.json``).

    Args:
        index: A finished run (its output or work directory) to dedup against: documents of
            ``inputs`` that duplicate one of its documents are removed; its own are left alone.
            Its signatures are reused, not recomputed. The new work directory holds the index's
            documents and the new ones, so it serves as the index of the next run.
        progress: Called as ``progress(stage, units)`` before each stage (for progress bars);
            returns a callable ticked once per unit, or None.
        map_units: Runs ``fn(unit)`` for ``unit in range(count)`` of a stage; the local engine
            runs them in order, the Ray engine as tasks.
    """
    t0 = time.perf_counter()
    parse_keep(keep_rule)
    inputs = list(inputs)
    out = Location(outdir)
    work = WorkDir(work_dir or _default_work_dir(out))
    manifest = work.root / "manifest.json"
    if (out / "summary.json").exists() and not (overwrite or resume):
        raise InputError(
            f"{outdir} holds the results of an earlier run; pass --overwrite to replace them"
        )
    plan = make_plan(
        inputs,
        config,
        column=column,
        id_column=id_column,
        keep_rule=keep_rule,
        on_error=on_error,
        memory=memory,
        index=index,
    )
    if plan.index is not None and Path(plan.index).resolve() == work.root.resolve():
        raise InputError("the index is this run's own work directory; write to another -o")
    shards = [plan.shard(i) for i in range(len(plan.shards))]
    clash = [s for s in shards if out / s.name == s.path]
    if clash:
        raise InputError(f"output would overwrite input {clash[0].path}; choose another -o")
    if manifest.exists():
        old = Plan(**json.loads(manifest.read_text()))
        if resume and old.version != plan.version:
            raise InputError(
                f"{work.root} was written by another mmdedup version (work directory format "
                f"{old.version}, this version writes {plan.version}); drop --resume"
            )
        if resume and not old.same_work(plan):
            raise InputError(
                f"{work.root} belongs to a run with other inputs or parameters; drop --resume"
            )
        if not resume:
            _clear(work.root)
            work = WorkDir(work.root)
    with atomic_write(work.path("manifest.json")) as f:
        f.write(json.dumps(asdict(plan), indent=1).encode())
    seconds: dict[str, float] = {}
    each = map_units or _map_local

    def stage(name: str, count: int, fn: Callable[[int], None]) -> None:
        t = time.perf_counter()
        tick = progress(name, count) if progress else None

        def unit(u: int) -> None:
            fn(u)
            if tick:
                tick(1)

        each(name, unit, count)
        seconds[name] = round(time.perf_counter() - t, 3)

    create_signature_file(work, plan)
    if plan.index is not None:
        stage("index", 1, lambda _: stage_index(work, plan))
    stage("signatures", len(shards), lambda i: stage_signatures(work, plan, i))
    cfg = _dedup_config(plan)
    if cfg.method != "simhash":
        stage("candidates", plan.partitions, lambda p: stage_candidates(work, plan, p))
    stage("clusters", 1, lambda _: stage_clusters(work, plan))
    if out.is_local:
        out.local().mkdir(parents=True, exist_ok=True)
    stage("write", len(shards), lambda i: stage_write(work, plan, i, out))
    _merge_clusters(work, plan, out / "clusters.parquet")
    summary = _summary(work, plan, inputs, seconds, time.perf_counter() - t0)
    with (out / "summary.json").write() as f:
        f.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary


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


def _clear(root: Path) -> None:
    import shutil

    shutil.rmtree(root)


def _summary(
    work: WorkDir, plan: Plan, inputs: list[str], seconds: dict[str, float], total: float
) -> dict[str, Any]:
    new = slice(plan.index_rows, None)
    keep = work.load("keep.npy")[new]
    labels = work.load("labels.npy", mmap=True)[new]
    status = work.load("status.npy")[new]
    shards = []
    for i, s in enumerate(plan.shards):
        kept = json.loads((work.root / "kept" / f"{i:06d}.json").read_text())["kept"]
        shards.append({"shard": s["name"], "documents": s["rows"], "kept": kept})
    pairs = json.loads((work.root / "pairs.json").read_text())
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
            "kept": int(keep.sum()),
            "removed": int((~keep).sum()),
            "clusters": len(np.unique(labels[labels >= 0])),
            **pairs,
        },
        "status": {name: int((status == k).sum()) for k, name in enumerate(STATUSES)},
        "shards": shards,
        "partitions": plan.partitions,
        "index": {"path": plan.index, "documents": plan.index_rows} if plan.index else None,
        "seconds": seconds,
        "threads": _core.get_num_threads(),
    }
