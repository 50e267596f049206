"""The clusters stage of ``mmdedup images`` when the hashes and per-row data do not fit the
memory budget (``--memory``): the same ``clusters.parquet``, byte for byte, from files.

1. ``search`` (one unit, redone from the start if interrupted): the hash files of the hash stage
   are read one at a time into three flat files under ``search/``: the hashes (8 bytes per
   row), which rows are null (1) and each row's area, the key of ``--keep largest`` (8). The
   exact search of :func:`mmdedup.runs.images.hamming_disk.stream_neighbours` runs over on-disk partitions
   of the hashes and its edges go to edge files (``equal-*.npy``: ``(first, member)`` of groups
   of equal hashes; ``near-*.npy``: pairs of group representatives within ``k``), a bounded
   buffer at a time. ``plan.json`` records the files and how the components run.
2. Connected components of the edge files (:mod:`mmdedup.runs.components`): union-find when about
   48 bytes per image and 40 per edge fit the budget (as ``--components auto`` does in
   ``mmdedup dedup``), else large-star/small-star rounds over partitioned files, each a unit
   that resumes, with the kept member of each cluster (largest area, ties to the first)
   chosen within its star.
3. ``count`` (images within ``k``, itself included) streamed from the edge files: the size of
   each group of equal hashes, then for each representative the sizes of its near groups,
   then each member takes its representative's count.
4. ``clusters.parquet``, one row group (``ROW_GROUP`` rows, as the in-memory stage cuts its
   table) at a time, its rows read back from the hash files.

Held in memory per row: the counts (8 bytes) and, while they are summed, the group sizes (4),
plus one row group of the output; the labels, keep flags and areas (17) only when union-find
runs, which it does only when they fit the budget with the edges (``local_bytes``). Everything
else is bounded by the budget: one partition of the search, one buffer of edges, one components
unit. Disk: 17 bytes per row of flat files, the search's partitions (16 bytes per hash, one
pass at a time), 8 bytes per edge, and the components' files.

Every file a unit writes goes through the work directory (:meth:`WorkDir.path
<mmdedup.runs.workdir.WorkDir.path>`) and every file it reads of another unit comes from it
(``local``, ``list``): with a work directory on object storage a unit can run in another
process (the components' units run through the engine, as Ray tasks with ``--engine ray``),
and ``--resume`` needs nothing but the object store. Only the search's partitions are local
scratch files of its one unit.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from ... import _core
from ...errors import ParameterError
from ...io import atomic_write
from ...storage import Location
from ..components import Graph, MapUnits, local_bytes, partitions_for
from ..engine import map_local
from ..workdir import WorkDir, npy_out
from .hamming_disk import Edges, stream_neighbours

__all__ = [
    "IN_MEMORY_BYTES_PER_ROW",
    "ROW_GROUP",
    "clusters_on_disk",
    "in_memory_bytes",
    "remove_search",
]

#: What the in-memory clusters stage holds per row besides the rows' own data: two searches of
#: the hashes (``hamming_neighbours`` and ``hamming_counts``), labels, counts, keep and status.
IN_MEMORY_BYTES_PER_ROW = 256
#: Rows per row group of ``clusters.parquet``, in both stages: about 50 MiB of output per group
#: at typical key lengths, which the on-disk stage holds while writing it.
ROW_GROUP = 1 << 17
_MAX_ROWS = 2**32 - 1
# The search's folder in the work directory.
_SEARCH = "search"

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def in_memory_bytes(paths: list[Path]) -> int:
    """An estimate of what the in-memory clusters stage holds for these hash files: their
    uncompressed data plus ``IN_MEMORY_BYTES_PER_ROW`` per row (read from the files' footers)."""
    rows = data = 0
    for p in paths:
        md = pq.read_metadata(p)
        rows += md.num_rows
        data += sum(md.row_group(g).total_byte_size for g in range(md.num_row_groups))
    return data + IN_MEMORY_BYTES_PER_ROW * rows


class _EdgeFiles:
    """Receives the search's edges and writes them as ``(m, 2)`` uint32 files
    ``search/edges/<kind>-<n>.npy`` of the work directory, ``limit`` edges buffered at most."""

    def __init__(self, work: WorkDir, limit: int) -> None:
        self.work, self.limit = work, max(limit, 1)
        self.buffer: dict[str, list[npt.NDArray[np.uint32]]] = {"equal": [], "near": []}
        self.files: dict[str, list[str]] = {"equal": [], "near": []}
        self.edges = {"equal": 0, "near": 0}
        self.held = 0

    def __call__(self, equal: Edges, near: Edges) -> None:
        for kind, edges in (("equal", equal), ("near", near)):
            if len(edges):
                self.buffer[kind].append(edges.astype(np.uint32))
                self.held += len(edges)
        if self.held >= self.limit:
            self.flush()

    def flush(self) -> None:
        for kind, parts in self.buffer.items():
            if not parts:
                continue
            edges = np.concatenate(parts)
            parts.clear()
            name = f"{kind}-{len(self.files[kind]):05d}.npy"
            self.work.save(f"{_SEARCH}/edges/{name}", edges)
            self.files[kind].append(name)
            self.edges[kind] += len(edges)
        self.held = 0


def _search(
    work: WorkDir, paths: list[Path], method: str, k: int, rows: int, memory: int
) -> dict[str, Any]:
    """Stage 1: the flat files, the edge files and ``plan.json``; marks ``search`` done."""
    remove_search(work)  # an interrupted search starts again
    for mark in work.list("done"):
        if mark.startswith("cc-"):
            work.remove(f"done/{mark}")  # and so do the components of its edges
    with (
        npy_out(work.path(f"{_SEARCH}/hashes.npy"), np.dtype(np.uint64), rows) as out_hash,
        npy_out(work.path(f"{_SEARCH}/skip.npy"), np.dtype(np.bool_), rows) as out_skip,
        npy_out(work.path(f"{_SEARCH}/area.npy"), np.dtype(np.float64), rows) as out_area,
    ):
        for p in paths:
            t = pq.read_table(p, columns=[method, "width", "height"])
            col = t[method]
            out_skip(np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_))
            out_hash(np.asarray(col.fill_null(0).cast(pa.uint64()).to_numpy(), dtype=np.uint64))
            width = t["width"].to_numpy().astype(np.float64)
            out_area(width * t["height"].to_numpy().astype(np.float64))
    hashes = work.load(f"{_SEARCH}/hashes.npy", mmap=True)
    skip = work.load(f"{_SEARCH}/skip.npy", mmap=True)
    # Half the budget for one partition's search, a quarter for buffered edges (8 bytes each).
    sink = _EdgeFiles(work, memory // 4 // 8)
    # The search's partitions are this unit's own scratch files: local, never published.
    stream_neighbours(
        hashes,
        sink,
        max_distance=k,
        memory=max(memory // 2, 1),
        skip=skip,
        work_dir=work.root / _SEARCH,
    )
    sink.flush()
    del hashes, skip
    edges = sink.edges["equal"] + sink.edges["near"]
    local = local_bytes(rows, edges) <= memory
    plan = {
        "rows": rows,
        "equal": sink.files["equal"],
        "near": sink.files["near"],
        "edges": sink.edges,
        "components": "local" if local else "distributed",
        "partitions": 1 if local else partitions_for(rows, edges, memory),
    }
    with atomic_write(work.path(f"{_SEARCH}/plan.json")) as f:
        f.write(json.dumps(plan).encode())
    work.mark("search")
    return plan


def _edges(work: WorkDir, name: str) -> npt.NDArray[np.uint32]:
    return work.load(f"{_SEARCH}/edges/{name}")


def _neighbour_counts(work: WorkDir, plan: dict[str, Any]) -> U64:
    """Stage 3: for each row, the rows within ``k`` (itself included; 0 for nulls), what
    ``hamming_counts`` gives, from the edge files."""
    n = int(plan["rows"])
    size = np.ones(n, dtype=np.uint32)  # of each group of equal hashes, at its representative
    for name in plan["equal"]:
        e = _edges(work, name)
        np.add.at(size, e[:, 0], np.uint32(1))
    count = np.zeros(n, dtype=np.uint64)
    for name in plan["near"]:
        e = _edges(work, name)
        a, b = e[:, 0], e[:, 1]
        np.add.at(count, a, size[b].astype(np.uint64))
        np.add.at(count, b, size[a].astype(np.uint64))
    count += size
    del size
    count[work.load(f"{_SEARCH}/skip.npy")] = 0
    for name in plan["equal"]:
        e = _edges(work, name)
        count[e[:, 1]] = count[e[:, 0]]
    return count


LabelsOf = Callable[[int, int], tuple[I64, Bools]]


def _local(work: WorkDir, plan: dict[str, Any], keep_rule: str) -> LabelsOf:
    """Stage 2 by union-find: all edges and labels in memory (they fit the budget)."""
    from ...dedup import choose_keep

    n = int(plan["rows"])
    files = [_edges(work, name) for name in [*plan["equal"], *plan["near"]]]
    edges = np.concatenate(files) if files else np.zeros((0, 2), np.uint32)
    del files
    labels = _core.components(n, np.ascontiguousarray(edges, dtype=np.uint32))
    del edges
    if keep_rule == "largest":
        area = work.load(f"{_SEARCH}/area.npy")
        keep = choose_keep(labels, ("max", "area"), area)
        del area
    else:
        keep = choose_keep(labels, ("first", None))
    return lambda a, b: (labels[a:b], keep[a:b])


def _area_of(work: WorkDir, ids: I64) -> npt.NDArray[np.float64]:
    """The areas of rows ``ids``, the key of ``--keep largest`` (in the process of the unit)."""
    area = work.load(f"{_SEARCH}/area.npy", mmap=True)
    return np.asarray(area[ids], dtype=np.float64)


def _distributed(work: WorkDir, plan: dict[str, Any], keep_rule: str, each: MapUnits) -> LabelsOf:
    """Stage 2 by large-star/small-star rounds, each unit through the engine (``each``); each
    is marked done and resumes."""
    n, parts = int(plan["rows"]), int(plan["partitions"])
    graph = Graph(work, f"{_SEARCH}/components", n, parts)
    names = [*plan["equal"], *plan["near"]]
    sources = [functools.partial(_edges, work, name) for name in names]
    key_of = functools.partial(_area_of, work) if keep_rule == "largest" else None
    graph.run(sources, each, key_of=key_of)

    def labels_of(a: int, b: int) -> tuple[I64, Bools]:
        start = a - a % parts  # Graph.labels starts at a multiple of the partitions
        labels = graph.labels(start, b)[a - start :]
        if keep_rule == "largest":
            keep = labels < 0
            keep[graph.kept_best(a, b).astype(np.int64) - a] = True
        else:
            keep = (labels < 0) | (labels == np.arange(a, b))
        return labels, keep

    return labels_of


def cluster_columns(
    table: pa.Table,
    method: str,
    counts: npt.NDArray[np.uint64],
    labels: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    frames: npt.NDArray[np.uint32] | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], npt.NDArray[np.bool_]]:
    """The columns of ``clusters.parquet`` for rows of the hash files (one per image), and which
    rows failed to decode; ``extra`` columns (``--crops``) follow ``count``."""
    failed = np.asarray(table["error"].is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    status = np.full(len(failed), "unique", dtype=object)
    status[(labels >= 0) & keep] = "kept"
    status[(labels >= 0) & ~keep] = "duplicate"
    status[failed] = "error"
    out: dict[str, Any] = {name: table[name] for name in ("shard", "row", "key", "width", "height")}
    out["hash"] = table[method]
    if method == "pdq":
        out["quality"] = table["pdq_quality"]
    if frames is not None:
        out["frames"] = pa.array(frames, pa.uint32())
        if "frames_truncated" in table.column_names:
            out["frames_truncated"] = table["frames_truncated"]
    out["count"] = pa.array(counts, pa.uint64())
    out.update(extra or {})
    out.update(
        cluster=pa.array(labels, mask=labels < 0, type=pa.int64()),
        keep=pa.array(keep),
        status=pa.array(status, pa.string()),
        error=table["error"],
    )
    return out, failed


def cluster_metadata(parameters: dict[str, Any]) -> dict[str, str]:
    """The schema metadata of ``clusters.parquet``."""
    meta = {
        "mmdedup.method": parameters["method"],
        "mmdedup.mode": parameters["mode"],
        "mmdedup.hash_size": str(parameters["hash_size"]),
    }
    if parameters.get("crops"):
        meta["mmdedup.region_method"] = parameters["region_method"]
    return meta


def clusters_on_disk(
    work: WorkDir,
    parameters: dict[str, Any],
    paths: list[Path],
    target: Location,
    memory: int,
    each: MapUnits = map_local,
) -> dict[str, Any]:
    """Writes ``clusters.parquet`` from the hash files ``paths`` (in row order, local copies)
    within about ``memory`` bytes; returns the counts for the summary and, under ``search``,
    how it ran. The units of the distributed components go through the engine (``each``)."""
    method, k = parameters["method"], int(parameters["max_distance"])
    if method == "pdq":
        raise ParameterError("the on-disk search takes 64-bit hashes, not PDQ's 256 bits")
    sizes = [pq.read_metadata(p).num_rows for p in paths]
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
    rows = int(offsets[-1])
    if rows > _MAX_ROWS:
        raise ParameterError(f"one run handles up to 2^32 - 1 images, got {rows}")
    if work.done("search"):
        plan: dict[str, Any] = json.loads(work.local(f"{_SEARCH}/plan.json").read_text())
    else:
        plan = _search(work, paths, method, k, rows, memory)
    if plan["components"] == "local":
        labels_of = _local(work, plan, parameters["keep"])
    else:
        labels_of = _distributed(work, plan, parameters["keep"], each)
    count = _neighbour_counts(work, plan)
    meta = cluster_metadata(parameters)
    totals = {"images": rows, "kept": 0, "removed": 0, "clusters": 0, "errors": 0}
    with target.write() as f:
        writer: pq.ParquetWriter | None = None
        for a in range(0, rows, ROW_GROUP):
            b = min(a + ROW_GROUP, rows)
            table = _rows(paths, offsets, a, b)
            labels, keep = labels_of(a, b)
            out, failed = cluster_columns(table, method, count[a:b], labels, keep)
            group = pa.table(out).replace_schema_metadata(meta)
            if writer is None:
                writer = pq.ParquetWriter(f, group.schema)
            writer.write_table(group)
            kept = int(np.count_nonzero(keep))
            totals["kept"] += kept
            totals["removed"] += (b - a) - kept
            totals["clusters"] += int(np.count_nonzero(labels == np.arange(a, b)))
            totals["errors"] += int(np.count_nonzero(failed))
        if writer is None:
            raise ParameterError("the on-disk clusters stage needs at least one image")
        writer.close()
    search = {
        "mode": "partitioned",
        "components": plan["components"],
        "partitions": plan["partitions"],
        "equal_edges": plan["edges"]["equal"],
        "near_edges": plan["edges"]["near"],
    }
    return {**totals, "search": search}


def _rows(paths: list[Path], offsets: I64, a: int, b: int) -> pa.Table:
    """Rows ``a .. b`` of the hash files, each file's piece as it reads."""
    first = int(np.searchsorted(offsets, a, side="right")) - 1
    pieces = []
    for i in range(first, len(paths)):
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        if lo >= b:
            break
        if hi <= a:
            continue
        t = pq.read_table(paths[i])
        pieces.append(t.slice(max(a - lo, 0), min(b, hi) - max(a, lo)))
    return pa.concat_tables(pieces)


def remove_search(work: WorkDir) -> None:
    """Deletes the search's files (once ``clusters.parquet`` is written, or before the search
    starts again)."""
    work.remove(_SEARCH)
