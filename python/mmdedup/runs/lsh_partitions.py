"""Band keys partitioned on disk, and the candidate pairs of one partition at a time; shared by
the text and interleaved runs."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import _core
from ..dedup import DedupConfig
from ..io import (
    atomic_write,
)
from ..storage import durable_rename
from .shingle_sets import SetStore
from .workdir import WorkDir, load_signatures

_WINDOW = {"none": 1, "signature": 8, "jaccard": 8}


def _partition_keys(cfg: DedupConfig, data: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """(n, m) keys that decide which documents can pair: band keys, or the first 8 bytes of the
    exact hash."""
    if cfg.method == "minhash":
        bands, rows = cfg.band_geometry()
        return _core.band_keys(np.ascontiguousarray(data), bands=bands, rows=rows)
    return np.ascontiguousarray(data[:, :8]).view(">u8").astype(np.uint64)


# Bytes of a (key, doc) row in a partition file: a little-endian u64 key, then a u32 document.
_ROW_BYTES = 12


class PartitionRows:
    """The (key, doc) rows of one shard (or of the index) for each partition, appended a piece at
    a time to temporary files that are renamed into place when all are written: one file per
    shard and partition, however many pieces the shard is read in."""

    def __init__(self, work: WorkDir, partitions: int, tag: str) -> None:
        self.final = [work.path(f"partitions/{p:05d}/{tag}.rows") for p in range(partitions)]
        self.tmp = [f.with_name(f".{f.name}.tmp") for f in self.final]
        for t in self.tmp:  # left by an interrupted attempt
            t.unlink(missing_ok=True)
        self.used = [False] * partitions

    def add(self, p: int, rows: npt.NDArray[np.uint8]) -> None:
        """Appends ``rows`` (the bytes of whole records) to partition ``p``'s file."""
        if len(rows):
            with open(self.tmp[p], "ab") as f:
                f.write(rows.data)
            self.used[p] = True

    def close(self) -> None:
        for tmp, final, used in zip(self.tmp, self.final, self.used, strict=True):
            if used:
                durable_rename(tmp, final)


def write_partitions(
    work: WorkDir,
    partitions: int,
    cfg: DedupConfig,
    data: npt.NDArray[Any],
    skip: npt.NDArray[np.bool_],
    off: int,
    tag: str,
) -> None:
    """The rows of documents ``off ..`` (signatures ``data``) in each partition, as ``tag``'s
    files."""
    out = PartitionRows(work, partitions, tag)
    add_partition_rows(out, partitions, cfg, data, skip, off)
    out.close()


def add_partition_rows(
    out: PartitionRows,
    partitions: int,
    cfg: DedupConfig,
    data: npt.NDArray[Any],
    skip: npt.NDArray[np.bool_],
    off: int,
) -> None:
    """The (key, doc) rows of documents ``off ..`` (signatures ``data``; those in ``skip`` have
    none), each in the partition of its key."""
    if cfg.method == "simhash":
        return  # searched in one piece: 8 bytes per document
    add_key_rows(out, partitions, _partition_keys(cfg, data), skip, off)


def add_key_rows(
    out: PartitionRows,
    partitions: int,
    keys: npt.NDArray[np.uint64],
    skip: npt.NDArray[np.bool_],
    off: int,
) -> None:
    """The (key, doc) rows of documents ``off ..`` with (n, m) keys ``keys`` (those in ``skip``
    have none), each in the partition of its key: grouped by the kernel, in document order."""
    rows, bounds = _core.partition_rows(
        np.ascontiguousarray(keys, dtype=np.uint64),
        np.ascontiguousarray(skip, dtype=np.bool_),
        first=off,
        partitions=partitions,
    )
    for p in range(partitions):
        out.add(p, rows[int(bounds[p]) * _ROW_BYTES : int(bounds[p + 1]) * _ROW_BYTES])


def stage_candidates(work: WorkDir, cfg: DedupConfig, memory: int, p: int) -> None:
    """Verified edges of partition ``p``: by signature agreement, or by the exact Jaccard of the
    shingle sets the signatures stage kept; ``memory`` bounds the verification's chunks."""
    unit = f"candidates-{p:05d}"
    if work.done(unit):
        return
    where = f"partitions/{p:05d}"
    files = [work.local(f"{where}/{name}") for name in work.list(where, ".rows")]
    # Exact dedup buckets by the first 64 bits of the 128-bit hash: the window makes a chain of
    # true duplicates survive even if an unrelated document shares those 64 bits.
    window = _WINDOW[str(cfg.verify)] if cfg.method == "minhash" else 8
    # The kernel reads the partition's row files side by side, straight into its sort.
    edges = _core.partition_pairs(files, window=window)
    with work.unit(unit):
        with atomic_write(work.path(f"edges/{p:05d}.json")) as f:
            f.write(json.dumps({"candidates": len(edges)}).encode())
        work.save(f"edges/{p:05d}.npy", _verify(work, cfg, edges, memory))


def _verify(
    work: WorkDir, cfg: DedupConfig, edges: npt.NDArray[np.uint32], memory: int = 4 * 2**30
) -> npt.NDArray[np.uint32]:
    if len(edges) == 0:
        return edges
    if cfg.method == "minhash" and cfg.verify == "jaccard":
        sim = SetStore.of(work).jaccard(edges, memory)
        return np.ascontiguousarray(edges[sim >= cfg.threshold])
    if cfg.method == "minhash" and cfg.verify == "none":
        return edges  # a shared band is enough
    keep = np.zeros(len(edges), dtype=np.bool_)
    # Per edge: its two signatures, their comparison, and up to two pages of the mapped file.
    row = int(np.prod(load_signatures(work).shape[1:], dtype=np.int64)) * 4
    chunk = max(1024, min(1 << 17, memory // 4 // (3 * row + 2 * 4096)))
    for s in range(0, len(edges), chunk):
        e = edges[s : s + chunk]
        # A fresh mapping per chunk: the pages a chunk touched leave the process (and its RSS)
        # with the mapping, so verification never holds more than one chunk's rows.
        sigs = load_signatures(work)
        a, b = sigs[e[:, 0].astype(np.int64)], sigs[e[:, 1].astype(np.int64)]
        del sigs
        if cfg.method == "exact":
            keep[s : s + len(e)] = (a == b).all(axis=1)
        elif cfg.verify == "signature":
            keep[s : s + len(e)] = (a == b).mean(axis=1) >= cfg.threshold
    return np.ascontiguousarray(edges[keep])
