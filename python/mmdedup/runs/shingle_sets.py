"""Shingle sets of a run's documents on disk, and the exact Jaccard of candidate pairs read back
from them within the memory budget: ``verify="jaccard"`` at any scale.

The signatures stage writes each part's sets (a shard, the index, ...) as it hashes it, from
the same shingling pass as the MinHash: ``sets/TAG.u64`` holds the part's sorted, distinct
xxh3-64 shingle hashes back to back, ``sets/TAG.offsets.npy`` the ``rows + 1`` offsets
delimiting each document's (``_core.shingle_sets``' layout), and ``sets/parts.json`` the
first global row of each part. Verification compares the pairs a chunk at a time, the chunk
sized so that its documents' sets fit a quarter of the budget: where the sets lie, in a mapping
of a file the chunk needs most of, else read from it by plain reads. The Jaccard of two hash
sets is the Jaccard of the shingle sets (a collision of two 64-bit hashes has probability
2^-64), and the same one ``mmdedup.dedup`` computes in memory.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.compute as pc

from .. import _core
from .._arrow import ArrowLike, to_arrow
from ..dedup import DedupConfig, Signatures, compute_signatures
from ..storage import atomic_write
from .workdir import WorkDir, npy_out

__all__ = [
    "SetStore",
    "copy_sets",
    "set_writer",
    "signatures_and_sets",
    "signatures_writing_sets",
    "union_sets",
    "wants_sets",
    "write_parts",
]

SetColumn = tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]


def wants_sets(cfg: DedupConfig) -> bool:
    """Whether a run with ``cfg`` verifies pairs on exact Jaccard (and so keeps sets)."""
    return cfg.verify == "jaccard" and cfg.method in ("minhash", "simhash")


def signatures_and_sets(texts: ArrowLike, cfg: DedupConfig) -> tuple[Signatures, SetColumn]:
    """Signatures of ``texts`` for ``cfg`` and their shingle sets (MinHash: in one pass)."""
    norm = cfg.normalize_options()
    if cfg.method == "minhash":
        sigs, counts, values, offsets = _core.minhash_with_sets(
            to_arrow(texts),
            num_perm=cfg.num_perm,
            ngram=cfg.ngram,
            seed=cfg.seed,
            tokenizer=cfg.tokenizer,
            **norm,
        )
        return Signatures(sigs, counts == 0), (values, offsets)
    sig = compute_signatures(texts, cfg)
    sets = _core.shingle_sets(to_arrow(texts), ngram=cfg.ngram, tokenizer=cfg.tokenizer, **norm)
    return sig, sets


def signatures_writing_sets(
    texts: Any, cfg: DedupConfig, write: Callable[[SetColumn], None], slice_bytes: int
) -> Signatures:
    """Signatures of ``texts`` (an Arrow array), their sets handed to ``write`` a slice of about
    ``slice_bytes`` of text at a time, so that only one slice's sets are held."""
    n = len(texts)
    if n == 0:
        sig, sets = signatures_and_sets(texts, cfg)
        write(sets)
        return sig
    lengths = np.asarray(pc.fill_null(pc.binary_length(texts), 0), dtype=np.int64)
    group = (np.cumsum(lengths) - 1) // max(slice_bytes, 1)
    bounds = [0, *(np.flatnonzero(np.diff(group)) + 1).tolist(), n]
    data, empty = [], []
    for a, b in itertools.pairwise(bounds):
        sig, sets = signatures_and_sets(texts.slice(a, b - a), cfg)
        write(sets)
        del sets
        data.append(sig.data)
        empty.append(sig.empty)
    return Signatures(np.concatenate(data), np.concatenate(empty))


def union_sets(a: SetColumn, b: SetColumn) -> SetColumn:
    """Row-wise union of two set columns with the same rows."""
    n = len(a[1]) - 1
    rows = np.arange(n, dtype=np.int64)
    sizes = [np.diff(c[1].astype(np.int64)).astype(np.int64) for c in (a, b)]
    doc = np.concatenate([np.repeat(rows, sizes[0]), np.repeat(rows, sizes[1])])
    val = np.concatenate([a[0], b[0]])
    order = np.lexsort((val, doc))
    doc, val = doc[order], val[order]
    first = np.ones(len(val), dtype=np.bool_)
    first[1:] = (doc[1:] != doc[:-1]) | (val[1:] != val[:-1])
    doc, val = doc[first], val[first]
    offsets = np.zeros(n + 1, dtype=np.uint64)
    offsets[1:] = np.cumsum(np.bincount(doc, minlength=n))
    return np.ascontiguousarray(val, dtype=np.uint64), offsets


def write_parts(work: WorkDir, parts: list[tuple[int, str]]) -> None:
    """Records the parts of the set files: ``(first global row, tag)``, in row order."""
    with atomic_write(work.path("sets/parts.json")) as f:
        f.write(json.dumps([[int(s), t] for s, t in parts]).encode())


@contextmanager
def set_writer(work: WorkDir, tag: str, rows: int) -> Iterator[Callable[[SetColumn], None]]:
    """Writes part ``tag``'s sets (``rows`` documents) a piece at a time, atomically: yields
    ``write((values, offsets))`` for the next rows."""
    base = 0
    with (
        atomic_write(work.path(f"sets/{tag}.u64")) as f,
        npy_out(work.path(f"sets/{tag}.offsets.npy"), np.dtype(np.uint64), rows + 1) as offs,
    ):
        offs(np.zeros(1, dtype=np.uint64))

        def write(sets: SetColumn) -> None:
            nonlocal base
            values, offsets = sets
            f.write(np.ascontiguousarray(values, dtype="<u8").data)  # no copy
            offs(np.asarray(offsets[1:], dtype=np.uint64) + np.uint64(base))
            base += len(values)

        yield write


def copy_sets(src: Path, work: WorkDir, tag: str, rows: int) -> bool:
    """Copies every part of the finished run at ``src`` (a work directory) into part ``tag`` of
    this one, a part at a time; False when ``src`` kept no sets."""
    if not (src / "sets" / "parts.json").exists():
        return False
    old = SetStore(src)
    with set_writer(work, tag, rows) as write:
        for (start, t), end in zip(old.parts, [*old.starts[1:].tolist(), rows], strict=True):
            offsets = np.load(src / "sets" / f"{t}.offsets.npy", mmap_mode="r")
            for a in range(0, end - start, _COPY_ROWS):
                b = min(a + _COPY_ROWS, end - start)
                offs = np.asarray(offsets[a : b + 1], dtype=np.uint64)
                mm = old.values(t)
                write((np.asarray(mm[int(offs[0]) : int(offs[-1])]), offs - offs[0]))
                del mm
            del offsets
    return True


# Documents copied at a time from an index's sets.
_COPY_ROWS = 1 << 16

# Values a chunk of verification may always hold, however small the budget.
_MIN_CHUNK = 1 << 14


class SetStore:
    """The set files of a work directory, read back by document."""

    def __init__(self, root: Path, fetch: Callable[[str], Path] | None = None) -> None:
        self.root = root / "sets"
        self._fetch = fetch
        self.parts: list[tuple[int, str]] = [
            (int(s), str(t)) for s, t in json.loads(self._file("parts.json").read_text())
        ]
        self.starts = np.array([s for s, _ in self.parts], dtype=np.int64)
        self._headers: dict[str, int] = {}

    @classmethod
    def of(cls, work: WorkDir) -> SetStore:
        """The set files of ``work``, fetched into its local cache when it is remote."""
        return cls(work.root, work.local if work.remote is not None else None)

    def _file(self, name: str) -> Path:
        if self._fetch is not None:
            return self._fetch(f"sets/{name}")
        return self.root / name

    def values(self, tag: str) -> npt.NDArray[np.uint64]:
        path = self._file(f"{tag}.u64")
        if path.stat().st_size == 0:
            return np.zeros(0, dtype=np.uint64)
        return np.memmap(path, dtype="<u8", mode="r")

    def _header(self, tag: str) -> int:
        """Bytes before the data of part ``tag``'s offsets file."""
        if tag not in self._headers:
            with open(self._file(f"{tag}.offsets.npy"), "rb") as f:
                if np.lib.format.read_magic(f) == (1, 0):
                    np.lib.format.read_array_header_1_0(f)
                else:
                    np.lib.format.read_array_header_2_0(f)
                self._headers[tag] = f.tell()
        return self._headers[tag]

    def _ranges(self, docs: npt.NDArray[np.int64]) -> list[tuple[str, Any, Any]]:
        """Per part holding some of ``docs`` (sorted): its tag and the docs' value ranges."""
        part = np.searchsorted(self.starts, docs, side="right") - 1
        out = []
        for p in np.unique(part):
            start, tag = self.parts[int(p)]
            local = (docs[part == p] - start).astype(np.uint64)
            pairs = _core.read_u64_ranges(
                self._file(f"{tag}.offsets.npy"),
                local,
                np.full(len(local), 2, dtype=np.uint64),
                header=self._header(tag),
            ).astype(np.int64)
            out.append((tag, pairs[0::2], pairs[1::2]))
        return out

    def read(
        self, docs: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
        """The sets of ``docs`` (sorted, distinct), read into one array: ``(values, starts,
        lengths)``, a part as :func:`mmdedup._core.set_jaccard_parts` takes it."""
        values, starts, lengths = ([np.zeros(0, np.uint64)] for _ in range(3))
        at = 0
        for tag, lo, hi in self._ranges(docs):
            n = (hi - lo).astype(np.uint64)
            values.append(_core.read_u64_ranges(self._file(f"{tag}.u64"), lo.astype(np.uint64), n))
            first = np.zeros(len(n), dtype=np.uint64)
            first[1:] = np.cumsum(n)[:-1]
            starts.append(first + np.uint64(at))
            lengths.append(n)
            at += int(n.sum())
        return np.concatenate(values), np.concatenate(starts), np.concatenate(lengths)

    def sizes(self, docs: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Set sizes of ``docs`` (sorted, distinct)."""
        parts = self._ranges(docs)
        return np.concatenate([hi - lo for _, lo, hi in parts]) if parts else np.zeros(0, np.int64)

    def jaccard(self, edges: npt.NDArray[np.uint32], memory: int) -> npt.NDArray[np.float64]:
        """Exact Jaccard of each pair, in chunks whose distinct documents' sets fit a quarter of
        ``memory`` (a value read, its copies and the allocator's slack: 32 bytes); a pair of
        sets larger than that is one chunk. A document's set is read once per chunk, however
        many of the chunk's pairs it is in."""
        out = np.zeros(len(edges), dtype=np.float64)
        if len(edges) == 0:
            return out
        edges = np.ascontiguousarray(edges, dtype=np.uint32)
        # Distinct documents and the edges by position in them: sorted by the kernel's threads.
        docs, local = _core.edge_documents(edges)
        sizes = self.sizes(docs.astype(np.int64)).astype(np.uint64)
        cap = max(_MIN_CHUNK, memory // 4 // 32)
        bounds = _core.edge_chunks(local, sizes, cap=cap).tolist()
        del sizes
        for s, e in itertools.pairwise(bounds):
            if (s, e) != (0, len(edges)):  # one chunk of several: its own documents
                docs, local = _core.edge_documents(edges[s:e])
            out[s:e] = self._chunk_jaccard(docs.astype(np.int64), local)
            del docs, local
        return out

    def _chunk_jaccard(
        self, docs: npt.NDArray[np.int64], local: npt.NDArray[np.uint32]
    ) -> npt.NDArray[np.float64]:
        """Exact Jaccard of edges ``local`` (positions in ``docs``, sorted and distinct). A part
        file of which the chunk needs at least half is mapped for the chunk, and its sets are
        compared where they lie in the page cache: copying them into fresh memory cost more
        than the comparisons. Of any other part, only the chunk's sets are read (plain reads):
        a mapping holds whole runs of pages around each set it touches (the page cache keeps a
        file in large blocks), which for scattered sets is far more than the sets. Mappings
        are dropped with the chunk."""
        parts: list[tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]]
        parts = []
        for tag, lo, hi in self._ranges(docs):
            starts, lengths = lo.astype(np.uint64), (hi - lo).astype(np.uint64)
            values = self.values(tag)
            if 2 * int(lengths.sum()) < len(values):
                del values
                values = _core.read_u64_ranges(self._file(f"{tag}.u64"), starts, lengths)
                starts = np.zeros(len(lengths), dtype=np.uint64)
                starts[1:] = np.cumsum(lengths)[:-1]
            parts.append((values, starts, lengths))
        jac = _core.set_jaccard_parts(parts, local)
        del parts
        return jac
