"""All pairs of 64-bit hashes within Hamming distance ``k`` when the hashes do not fit in memory:
an exact search over on-disk partitions, one in memory at a time.

Cut the 64 bits into ``k + 1`` disjoint outer blocks of ``p = 64 // (k + 1)`` bits. Two hashes
within distance ``k`` differ in at most ``k`` bits, so (pigeonhole) they agree exactly on at
least one outer block. Pass ``j`` (one per outer block) streams the hashes once and writes each
one, with its index, to the partition named by (the low bits of) its block-``j`` key; every pair
that agrees on block ``j`` then lies in one partition. Each partition is searched in memory with
the multi-index search (``_core.hamming_neighbours``), and a pair is kept only in the pass of the
first outer block on which it agrees, so it is reported once. Equal hashes agree on every block: their
edges come from pass 0. The union over passes is exactly what the in-memory search returns.

Memory: one partition at a time, about ``BYTES_PER_HASH`` per hash in it. The partition count is
a power of two chosen from the budget; a partition that still exceeds the budget (hashes that
share many bits) is split again by more bits of the same block, down to the whole block. Disk:
one pass writes 16 bytes per hash; ``k + 1`` passes. :func:`partitioned_neighbours` returns the
edges in memory; :func:`stream_neighbours` hands each partition's edges to a callback instead
(``mmdedup images`` writes them to edge files), so nothing of the size of the edge set is held.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ... import _core
from ...errors import ParameterError

__all__ = ["BYTES_PER_HASH", "EdgeSink", "partitioned_neighbours", "stream_neighbours"]

#: What the in-memory search of a partition takes per hash, with its input (value and index).
BYTES_PER_HASH = 96
_ROW = np.dtype([("value", "<u8"), ("index", "<u8")])
# Rows read at a time while splitting: at most 4Mi, at least 64Ki, and about a quarter of the
# budget with the sort's copies (some 4 times the 16-byte rows).
_CHUNK = 1 << 22
_MIN_CHUNK = 1 << 16

Edges = npt.NDArray[np.uint64]
#: Receives the ``(equal, near)`` edges of one searched partition.
EdgeSink = Callable[[Edges, Edges], None]


def partitioned_neighbours(
    hashes: npt.NDArray[np.uint64],
    *,
    max_distance: int,
    memory: int = 4 * 2**30,
    skip: npt.NDArray[np.bool_] | None = None,
    work_dir: str | os.PathLike[str] | None = None,
) -> tuple[Edges, Edges]:
    """The ``(equal, near)`` edges of ``_core.hamming_neighbours(hashes, skip, k)``, found over
    on-disk partitions so that at most about ``memory`` bytes of hashes are searched at once.

    Args:
        hashes: ``(n,)`` uint64, typically a ``np.memmap`` of a file (read in chunks).
        max_distance: ``k``, 0 to 63.
        memory: Budget in bytes for one partition's search.
        skip: Rows that take no part (nulls).
        work_dir: Where the partition files go (a temporary directory by default); removed
            afterwards.

    Returns:
        ``equal``: ``(first, member)`` for each member of a group of equal hashes, ``first`` its
        smallest index; ``near``: pairs of group representatives within ``k``, ``(a, b)`` with
        ``a < b``, sorted. Both ``(m, 2)`` uint64 (global indices, no 2^32 limit).
    """
    equal: list[Edges] = []
    near: list[Edges] = []

    def collect(eq: Edges, nr: Edges) -> None:
        equal.append(eq)
        near.append(nr)

    stream_neighbours(
        hashes, collect, max_distance=max_distance, memory=memory, skip=skip, work_dir=work_dir
    )
    e = np.concatenate(equal) if equal else np.zeros((0, 2), np.uint64)
    r = np.concatenate(near) if near else np.zeros((0, 2), np.uint64)
    if len(r):
        r = r[np.lexsort((r[:, 1], r[:, 0]))]
    return e, r


def stream_neighbours(
    hashes: npt.NDArray[np.uint64],
    sink: EdgeSink,
    *,
    max_distance: int,
    memory: int = 4 * 2**30,
    skip: npt.NDArray[np.bool_] | None = None,
    work_dir: str | os.PathLike[str] | None = None,
) -> None:
    """The search of :func:`partitioned_neighbours`, handing the edges of each partition to
    ``sink(equal, near)`` as it is searched (in no global order; each edge exactly once, over
    all calls). Arguments as for :func:`partitioned_neighbours`."""
    k = int(max_distance)
    if not 0 <= k < 64:
        raise ParameterError(f"`max_distance` must be in 0..63, got {k}")
    n = len(hashes)
    if skip is not None and len(skip) != n:
        raise ParameterError("`skip` must have one entry per hash")
    capacity = max(memory // BYTES_PER_HASH, 1)
    chunk = min(_CHUNK, max(_MIN_CHUNK, memory // (16 * _ROW.itemsize)))
    width = 64 // (k + 1)
    root = Path(tempfile.mkdtemp(prefix="mmdedup-hamming-", dir=work_dir))
    try:
        # Partitions of the first split: enough for the budget if keys were even.
        bits = min(width, max(0, int(np.ceil(np.log2(max(n / capacity, 1))))))
        for j in range(k + 1):
            shift = j * width
            parts = _split(_rows(hashes, skip, chunk), shift, 0, bits, root / f"pass-{j}")
            for part in parts:
                for rows in _fitting(part, shift, bits, width, capacity, chunk):
                    eq, nr = _search(rows, k, j, width)
                    if j > 0:
                        eq = eq[:0]  # equal hashes agree on every block: pass 0 has them
                    if len(eq) or len(nr):
                        sink(eq, nr)
            shutil.rmtree(root / f"pass-{j}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _rows(
    hashes: npt.NDArray[np.uint64], skip: npt.NDArray[np.bool_] | None, chunk: int
) -> Iterator[npt.NDArray[np.void]]:
    """The hashes with their indices, in chunks, skipped rows left out."""
    for start in range(0, len(hashes), chunk):
        values = np.asarray(hashes[start : start + chunk], dtype=np.uint64)
        rows = np.empty(len(values), _ROW)
        rows["value"] = values
        rows["index"] = np.arange(start, start + len(values), dtype=np.uint64)
        if skip is not None:
            rows = rows[~np.asarray(skip[start : start + chunk], dtype=np.bool_)]
        yield rows


def _split(
    chunks: Iterator[npt.NDArray[np.void]], shift: int, lo: int, bits: int, where: Path
) -> list[Path]:
    """Writes each row to the file of key bits ``lo..lo + bits`` of the block at ``shift``;
    rows keep their order. Returns the files, empty ones included."""
    where.mkdir(parents=True, exist_ok=True)
    paths = [where / f"{q:05d}.bin" for q in range(1 << bits)]
    files = [open(p, "wb") for p in paths]  # noqa: SIM115 (closed below, all at once)
    try:
        mask = np.uint64((1 << bits) - 1)
        for rows in chunks:
            q = (rows["value"] >> np.uint64(shift + lo)) & mask
            order = np.argsort(q, kind="stable")
            bounds = np.searchsorted(q[order], np.arange((1 << bits) + 1))
            for part in np.flatnonzero(np.diff(bounds)):
                files[part].write(rows[order[bounds[part] : bounds[part + 1]]].tobytes())
    finally:
        for f in files:
            f.close()
    return paths


def _fitting(
    path: Path, shift: int, used: int, width: int, capacity: int, chunk: int
) -> Iterator[npt.NDArray[np.void]]:
    """The rows of a partition file, split further by the next bits of the block while a part
    exceeds the budget (as long as the block has bits left)."""
    size = path.stat().st_size // _ROW.itemsize
    if size == 0:
        return
    if size <= capacity or used >= width:
        yield np.fromfile(path, dtype=_ROW)
        return
    extra = min(width - used, max(1, int(np.ceil(np.log2(size / capacity)))))
    mm = np.memmap(path, dtype=_ROW, mode="r")
    chunks = (np.asarray(mm[s : s + chunk]) for s in range(0, size, chunk))
    subs = _split(chunks, shift, used, extra, path.with_suffix(""))
    del mm
    path.unlink()
    for sub in subs:
        yield from _fitting(sub, shift, used + extra, width, capacity, chunk)


def _search(rows: npt.NDArray[np.void], k: int, j: int, width: int) -> tuple[Edges, Edges]:
    """In-memory search of one partition of pass ``j``; global edges, near pairs already
    agreeing exactly on an earlier outer block dropped."""
    values = np.ascontiguousarray(rows["value"])
    index = np.ascontiguousarray(rows["index"])
    if len(values) < 2:
        return np.zeros((0, 2), np.uint64), np.zeros((0, 2), np.uint64)
    # Every value here has the same bits in block j: turn them to the top, where the search's
    # narrow blocks (which start at bit 0) leave them out of the bucketing.
    turn = np.uint64((j * width + width) % 64)
    rotated = (values >> turn) | (values << ((np.uint64(64) - turn) % np.uint64(64)))
    eq, nr = _core.hamming_neighbours(
        np.ascontiguousarray(rotated), np.zeros(len(values), np.bool_), k=k
    )
    if len(nr):
        # A partition holds the pairs agreeing on the low bits of block j used to split, not only
        # those agreeing on the whole block: keep a pair where block j is the first it agrees on.
        x = values[nr[:, 0]] ^ values[nr[:, 1]]
        mask = np.uint64((1 << width) - 1)
        agree = [((x >> np.uint64(i * width)) & mask) == 0 for i in range(j + 1)]
        first = agree[j]
        for i in range(j):
            first &= ~agree[i]
        nr = nr[first]
    return index[eq.astype(np.int64)], index[nr.astype(np.int64)]
