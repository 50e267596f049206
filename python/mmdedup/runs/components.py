"""Connected components over partitioned edge files: large-star/small-star rounds.

The ``clusters`` stage labels every document with the smallest member of its component. On one
node that is union-find over all edges (:func:`mmdedup._core.components`); when the edges or
the documents do not fit the memory budget, the same labels come from the alternating
large-star/small-star algorithm of Kiveris et al., "Connected Components in MapReduce and
Beyond" (SoCC 2014), run over files in the work directory:

* Nodes are split into ``P`` partitions by ``node % P``. Every step reads, for its partition,
  the pairs ``(u, v)`` keyed by ``u`` in that partition, and writes the pairs of the next step
  into files of its own, sorted by destination partition (offsets to each partition first,
  then the pairs as 64-bit keys), so one unit of the next step reads one slice of each file.
* **Large-star** on ``u`` (all neighbours of ``u``): with ``m`` the smallest of ``u`` and its
  neighbours, links every neighbour ``v > u`` to ``m``.
* **Small-star** on ``u`` (its smaller neighbours only): links each of them, and ``u``, to the
  smallest of them.
* Both keep the components and never add edges; the rounds stop when every node that has a
  smaller neighbour has exactly one neighbour. Then each component is a star whose centre is
  its smallest member, and a node's label is the smallest of itself and its neighbours.
  ``O(log² n)`` rounds in the worst case, a handful in practice.

Each unit writes its files atomically and is then marked done (see
:class:`mmdedup.runs.workdir.WorkDir`), so an interrupted run resumes at the first unfinished unit
and gives byte-identical labels. A unit holds its partition's pairs a few times over (about
25-40 bytes per pair at its peak, measured) and, at the end, the labels of its ``n / P`` nodes.
The pairs of one star live in its centre's partition, so a cluster of ``s`` documents puts
``s`` pairs into one unit in the last rounds.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..io import atomic_write
from .workdir import WorkDir

__all__ = [
    "BYTES_PER_EDGE_LOCAL",
    "BYTES_PER_NODE_LOCAL",
    "Graph",
    "components",
    "local_bytes",
    "partitions_for",
]

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
_SHIFT = np.uint64(32)

# What the one-node stage holds, measured (benches/README.md): the concatenated and deduplicated
# edges and union-find's copy of them; union-find, its labels and the kept/status arrays.
BYTES_PER_EDGE_LOCAL = 40
BYTES_PER_NODE_LOCAL = 48
# A distributed unit holds its partition's pairs (8 bytes each, both directions of an edge) up to
# five times over while sorting and grouping (48 leaves room for the allocator), and 8 bytes of
# labels per node of its partition.
_BYTES_PER_PAIR = 48
_BYTES_PER_NODE = 16
_MAX_PARTITIONS = 65_536


def local_bytes(nodes: int, edges: int) -> int:
    """Bytes the one-node components stage needs for ``nodes`` documents and ``edges`` edges."""
    return BYTES_PER_NODE_LOCAL * nodes + BYTES_PER_EDGE_LOCAL * edges


def partitions_for(nodes: int, edges: int, memory: int) -> int:
    """Node partitions such that one unit's pairs and labels fit half of ``memory``."""
    half = max(memory // 2, 1)
    p = max(-(-2 * edges * _BYTES_PER_PAIR // half), -(-nodes * _BYTES_PER_NODE // half), 1)
    return int(min(p, max(nodes, 1), _MAX_PARTITIONS))


# Runs ``fn(unit)`` for each unit of a stage: (stage name, fn, count[, tick when one is done]).
MapUnits = Callable[..., None]
KeyOf = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]]


def _save(path: Path, arr: npt.NDArray[Any]) -> None:
    with atomic_write(path) as f:
        np.save(f, arr, allow_pickle=False)


class Graph:
    """The files of one distributed components run, under ``prefix`` of a work directory.

    Args:
        work: The work directory (local or remote) that holds the step files, and where units
            are marked done; unit names start with ``cc-``.
        prefix: The step files' folder in ``work`` ("" for its top).
        nodes: Documents; nodes are ``0 .. nodes - 1``.
        partitions: ``P``.
    """

    def __init__(self, work: WorkDir, prefix: str, nodes: int, partitions: int) -> None:
        self.work, self.marks, self.n, self.p = work, work, nodes, partitions
        self.prefix = prefix
        # Node u is stored as (u % P) * M + u // P: sorting the stored pairs groups them by
        # partition, and within a partition orders them by node.
        self.m = max(-(-nodes // partitions), 1)
        if partitions * self.m > 2**32:
            raise ValueError(f"{nodes} nodes do not fit 32 bits in {partitions} partitions")

    # -- files -------------------------------------------------------------------------------

    def _rel(self, step: str, name: str = "") -> str:
        return "/".join(x for x in (self.prefix, step, name) if x)

    def _out(self, step: str, name: str) -> Path:
        """The local path to write file ``name`` of ``step`` to."""
        return self.work.path(self._rel(step, name))

    def _in(self, step: str, name: str) -> Path:
        """The local path to read file ``name`` of ``step`` from."""
        return self.work.local(self._rel(step, name))

    def _route(self, step: str, name: str, hi: U32, lo: U32) -> None:
        """Writes the pairs ``(hi, lo)`` into ``step`` as file ``name``: the offset of each
        partition's pairs (by ``hi``), then the pairs, sorted."""
        key = hi.astype(np.uint64)
        part = key % np.uint64(self.p)
        key //= np.uint64(self.p)
        part *= np.uint64(self.m)
        key += part
        del part
        key <<= _SHIFT
        key |= lo
        key.sort()
        starts = np.arange(self.p, dtype=np.uint64) * np.uint64(self.m) << _SHIFT
        bounds = np.append(np.searchsorted(key, starts), len(key)).astype(np.uint64)
        with atomic_write(self._out(step, f"{name}.npy")) as f:
            header = {"descr": "<u8", "fortran_order": False, "shape": (self.p + 1 + len(key),)}
            np.lib.format.write_array_header_1_0(f, header)
            f.write(bounds.tobytes())
            key.tofile(f)

    def _read(self, step: str, q: int) -> tuple[U32, U32]:
        """Partition ``q`` of ``step``, its slice of every unit's files: the distinct pairs
        ``(u, v)``, sorted."""
        files = [self._in(step, f) for f in self.work.list(self._rel(step), ".npy")]
        spans = []
        for f in files:
            mm = np.load(f, mmap_mode="r", allow_pickle=False)
            spans.append((int(mm[q]), int(mm[q + 1])))
            del mm
        key = np.empty(sum(b - a for a, b in spans), dtype=np.uint64)
        at = 0
        for f, (a, b) in zip(files, spans, strict=True):
            mm = np.load(f, mmap_mode="r", allow_pickle=False)
            key[at : at + b - a] = mm[self.p + 1 + a : self.p + 1 + b]
            at += b - a
            del mm
        key = _sorted_unique(key)
        u = (key >> _SHIFT).astype(np.uint32)
        v = key.astype(np.uint32)  # the low 32 bits
        del key
        u -= np.uint32(q * self.m)
        u *= np.uint32(self.p)
        u += np.uint32(q)
        return u, v

    def _flags(self, step: str, q: int) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self._in(step, f"{q:05d}.json").read_text())
        return out

    def _write_flags(self, step: str, q: int, flags: dict[str, Any]) -> None:
        with atomic_write(self._out(step, f"{q:05d}.json")) as f:
            f.write(json.dumps(flags).encode())

    # -- units -------------------------------------------------------------------------------

    def scatter(self, unit: int, edges: npt.NDArray[np.uint32]) -> None:
        """Round 0's input from an (m, 2) edge array: both directions of every edge."""
        name = f"cc-scatter-{unit:05d}"
        if self.marks.done(name):
            return
        a = np.ascontiguousarray(edges[:, 0], dtype=np.uint32)
        b = np.ascontiguousarray(edges[:, 1], dtype=np.uint32)
        self._route("large-000", f"{unit:05d}-a", a, b)
        self._route("large-000", f"{unit:05d}-b", b, a)
        self.marks.mark(name)

    def large_star(self, r: int, q: int) -> None:
        name = f"cc-large-{r:03d}-{q:05d}"
        if self.marks.done(name):
            return
        u, v = self._read(f"large-{r:03d}", q)
        flags: dict[str, Any] = {}
        if r == 0:
            # Each undirected edge is here once as (larger, smaller), each self-loop once.
            flags["edges"] = int(np.count_nonzero(v <= u))
            loop = u == v
            if loop.any():
                u, v = u[~loop], v[~loop]
            del loop
        starts, deg = _groups(u)
        node, low = u[starts], v[starts]  # pairs are sorted: the first is the smallest neighbour
        flags["star"] = not bool(np.any((low < node) & (deg > 1)))
        m = np.repeat(np.minimum(node, low), deg)
        del starts, deg, node, low
        up = v > u
        del u
        hi, lo = v[up], m[up]
        del v, m, up
        self._route(f"small-{r:03d}", f"{q:05d}", hi, lo)
        self._write_flags(f"large-{r:03d}", q, flags)
        self.marks.mark(name)

    def small_star(self, r: int, q: int) -> None:
        name = f"cc-small-{r:03d}-{q:05d}"
        if self.marks.done(name):
            return
        u, w = self._read(f"small-{r:03d}", q)  # (u, w) with w < u
        starts, deg = _groups(u)
        m = w[starts]
        mm = np.repeat(m, deg)
        moved = w != mm
        hi = np.concatenate([w[moved], u[starts]])
        lo = np.concatenate([mm[moved], m])
        del u, w, mm, moved, starts, deg, m
        self._route(f"large-{r + 1:03d}", f"{q:05d}-a", hi, lo)
        self._route(f"large-{r + 1:03d}", f"{q:05d}-b", lo, hi)
        self.marks.mark(name)

    def finish(self, r: int, q: int, key_of: KeyOf | None, best_min: bool, first_new: int) -> None:
        """Labels of partition ``q``'s nodes from the stars of round ``r``; with ``key_of``, the
        member each centre's cluster keeps (the largest key, or the smallest if ``best_min``;
        ties and NaN to the smallest id); the number of clusters with a member ``>= first_new``.
        """
        name = f"cc-final-{q:05d}"
        if self.marks.done(name):
            return
        u, v = self._read(f"large-{r:03d}", q)
        loop = u == v
        if loop.any():
            u, v = u[~loop], v[~loop]
        del loop
        starts, deg = _groups(u)
        node, low = u[starts], v[starts]
        labels = np.full(len(range(q, self.n, self.p)), -1, dtype=np.int64)
        labels[node // self.p] = np.minimum(node, low)
        del starts, deg, node, low
        # In a star the centre is the smaller end: its pairs, sorted, list its cluster.
        centre = u < v
        owner, members = u[centre], v[centre]
        del u, v, centre
        ends = np.flatnonzero(owner[1:] != owner[:-1]) if len(owner) else owner
        last = np.append(ends, len(owner) - 1) if len(owner) else ends
        # Clusters with a member >= first_new (counted in the summary of an incremental run).
        counts = {"clusters": int(np.count_nonzero(members[last] >= first_new))}
        if key_of is not None:
            centres = owner[last]
            owner = np.concatenate([owner, centres])
            members = np.concatenate([members, centres])
            primary = key_of(members.astype(np.int64))
            if not best_min:
                np.negative(primary, out=primary)
            primary[np.isnan(primary)] = np.inf
            order = np.lexsort((members, primary, owner))
            del primary
            top = np.ones(len(order), dtype=np.bool_)
            top[1:] = owner[order[1:]] != owner[order[:-1]]
            best = np.sort(members[order[top]])
            _save(self._out("final", f"best-{q:05d}.npy"), best)
        _save(self._out("final", f"labels-{q:05d}.npy"), labels)
        with atomic_write(self._out("final", f"{q:05d}.json")) as f:
            f.write(json.dumps(counts).encode())
        self.marks.mark(name)

    # -- driver ------------------------------------------------------------------------------

    def run(
        self,
        edge_sources: Sequence[Callable[[], npt.NDArray[np.uint32]]],
        each: MapUnits,
        key_of: KeyOf | None = None,
        best_min: bool = False,
        first_new: int = 0,
    ) -> dict[str, Any]:
        """Every step, from the edge sources (one scatter unit each) to the final labels, through
        ``each(step name, fn, units)``. Returns the rounds, partitions and edge count."""
        each(
            "components",
            lambda s: self.scatter(s, edge_sources[s]()),
            len(edge_sources),
        )
        r = 0
        while True:
            each(f"components {r}", functools.partial(self.large_star, r), self.p)
            if all(self._flags(f"large-{r:03d}", q)["star"] for q in range(self.p)):
                break
            each(f"components {r}", functools.partial(self.small_star, r), self.p)
            r += 1
        each(
            "components labels",
            lambda q: self.finish(r, q, key_of, best_min, first_new),
            self.p,
        )
        edges = sum(self._flags("large-000", q)["edges"] for q in range(self.p))
        clusters = sum(
            json.loads(self._in("final", f"{q:05d}.json").read_text())["clusters"]
            for q in range(self.p)
        )
        return {"rounds": r + 1, "partitions": self.p, "edges": edges, "clusters": clusters}

    def labels(self, start: int, stop: int) -> I64:
        """Labels of nodes ``start .. stop`` (``start`` a multiple of ``P``), -1 without edges."""
        out = np.empty(stop - start, dtype=np.int64)
        base = start // self.p
        for q in range(min(self.p, stop - start)):
            mm = np.load(self._in("final", f"labels-{q:05d}.npy"), mmap_mode="r")
            dst = out[q :: self.p]
            dst[:] = mm[base : base + len(dst)]
            del mm
        return out

    def kept_best(self, start: int, stop: int) -> npt.NDArray[np.uint32]:
        """The members kept by the keep rule among nodes ``start .. stop``."""
        pieces = []
        for q in range(self.p):
            mm = np.load(self._in("final", f"best-{q:05d}.npy"), mmap_mode="r")
            a, b = np.searchsorted(mm, [start, stop])
            pieces.append(np.array(mm[a:b]))
            del mm
        return np.concatenate(pieces) if pieces else np.zeros(0, np.uint32)


def _sorted_unique(key: U64) -> U64:
    """``np.unique`` by sorting in place (numpy 2's hash-based ``unique`` is several times
    slower on these arrays)."""
    key.sort()
    if len(key) < 2:
        return key
    fresh = np.empty(len(key), dtype=np.bool_)
    fresh[0] = True
    np.not_equal(key[1:], key[:-1], out=fresh[1:])
    return key[fresh]


def _groups(sorted_nodes: npt.NDArray[Any]) -> tuple[I64, I64]:
    """Start and length of each run of equal values."""
    n = len(sorted_nodes)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.flatnonzero(sorted_nodes[1:] != sorted_nodes[:-1]) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    return starts, np.diff(np.append(starts, n))


def components(
    n: int,
    edges: npt.NDArray[np.uint32],
    root: Path,
    *,
    partitions: int,
    each: MapUnits | None = None,
) -> tuple[I64, dict[str, Any]]:
    """Labels of the graph on ``n`` nodes (the smallest member of each component of two or more
    nodes, -1 elsewhere: what :func:`mmdedup._core.components` gives), computed by
    large-star/small-star rounds over files under ``root``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     labels, info = components(
    ...         6, np.array([[4, 2], [2, 5], [0, 1]], np.uint32), Path(d), partitions=2
    ...     )
    >>> labels.tolist(), info["edges"]
    ([0, 0, 2, -1, 2, 2], 3)
    """
    g = Graph(WorkDir(root), "", n, partitions)
    info = g.run([lambda: np.asarray(edges, dtype=np.uint32).reshape(-1, 2)], each or _sequential)
    return g.labels(0, n), info


def _sequential(name: str, fn: Callable[[int], None], count: int) -> None:
    del name
    for u in range(count):
        fn(u)
