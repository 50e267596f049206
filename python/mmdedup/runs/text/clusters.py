"""Stage 4 of a text run: connected components of the verified pairs, and the kept member of
each cluster."""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import numpy.typing as npt

from ... import _core
from ...dedup import choose_keep, parse_keep
from ...io import (
    atomic_write,
)
from ..components import Graph, MapUnits, local_bytes, partitions_for
from ..workdir import WorkDir, npy_out
from .documents import concat_parts, load_errors, slice_parts
from .plan import STATUSES, Plan, dedup_config


def _edge_files(plan: Plan) -> list[str]:
    """The edge files of the work directory, by name."""
    if dedup_config(plan).method == "simhash":
        return ["edges/simhash.npy"]
    return [f"edges/{p:05d}.npy" for p in range(plan.partitions)]


def components_plan(work: WorkDir, plan: Plan) -> tuple[str, int]:
    """``("local", 1)`` or ``("distributed", partitions)``: union-find on one node unless
    ``--components distributed`` or its estimate for the documents and edges exceeds the memory
    budget."""
    if plan.components == "local":
        return "local", 1
    edges = sum(int(work.load(f, mmap=True).shape[0]) for f in _edge_files(plan))
    fits = local_bytes(plan.rows, edges) <= plan.memory
    if plan.components == "auto" and fits:
        return "local", 1
    return "distributed", partitions_for(plan.rows, edges, plan.memory)


def _candidate_count(work: WorkDir, plan: Plan) -> int:
    return sum(
        json.loads(work.local(f.removesuffix(".npy") + ".json").read_text())["candidates"]
        for f in _edge_files(plan)
    )


def unique_edges(edges: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """The distinct rows of ``edges`` in ascending order, as ``np.unique(edges, axis=0)`` gives
    them: sorted as one 64-bit key per edge, which is several times faster; edges of one
    partition come sorted and distinct already, and are not sorted again."""
    if len(edges) == 0:
        return edges
    keys = (edges[:, 0].astype(np.uint64) << np.uint64(32)) | edges[:, 1]
    if not (keys[1:] > keys[:-1]).all():
        keys = np.unique(keys)
    out = np.empty((len(keys), 2), dtype=np.uint32)
    out[:, 0] = keys >> np.uint64(32)
    out[:, 1] = keys & np.uint64(0xFFFFFFFF)
    return out


def stage_clusters(work: WorkDir, plan: Plan) -> None:
    """Connected components of all edges on one node (union-find), and the kept members."""
    if work.done("clusters"):
        return
    cfg = dedup_config(plan)
    n = plan.rows
    empty = concat_parts(work, plan, "empty")
    errors = load_errors(work, plan)
    files = [work.load(f) for f in _edge_files(plan)]
    edges = np.concatenate(files) if files else np.zeros((0, 2), np.uint32)
    del files
    if cfg.method != "simhash":
        # A pair sharing bands whose keys fall in two partitions is found twice.
        edges = unique_edges(edges)
    labels = _core.components(n, np.ascontiguousarray(edges, dtype=np.uint32))
    accepted = len(edges)
    del edges
    if errors:
        labels[list(errors)] = -1
    rule = parse_keep(plan.keep)
    key = None
    if rule[0] != "first":
        key = concat_parts(work, plan, "keys")
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
    """Connected components by large-star/small-star rounds (see :mod:`mmdedup.runs.components`):
    every step's units go through ``each``; then the labels, kept members and statuses are
    written in chunks of documents."""
    if work.done("clusters"):
        return
    rule = parse_keep(plan.keep)
    graph = Graph(work, "components", plan.rows, partitions)
    sources = [functools.partial(_edges_for_components, work, f) for f in _edge_files(plan)]
    info = graph.run(
        sources,
        each,
        key_of=None if rule[0] == "first" else functools.partial(_keys_of, work, plan),
        best_min=rule[0] == "min",
        first_new=plan.index_rows,
    )
    each("clusters", lambda _: _assemble(work, plan, graph, info), 1)


def _edges_for_components(work: WorkDir, name: str) -> npt.NDArray[np.uint32]:
    edges: npt.NDArray[np.uint32] = work.load(name)
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
    errors = np.array(sorted(load_errors(work, plan)), dtype=np.int64)
    chunk = max(1, (1 << 20) // p) * p
    counts = _Counts()
    with (
        npy_out(work.path("labels.npy"), np.dtype(np.int64), n) as out_labels,
        npy_out(work.path("keep.npy"), np.dtype(np.bool_), n) as out_keep,
        npy_out(work.path("status.npy"), np.dtype(np.uint8), n) as out_status,
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
            status[slice_parts(work, plan, "empty", a, b)] = 3
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
