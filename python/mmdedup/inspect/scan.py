"""One column-wise pass over a run's results table (``clusters.parquet`` or
``documents.parquet``): counts per shard and status, and the rows that belong to a cluster.

Only a few columns are read, a batch at a time; what is kept is about 30 bytes per clustered
row (the documents without duplicate are only counted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["Index", "scan"]

_BATCH = 1 << 16


@dataclass
class Index:
    """The clustered rows of a results table, and the counts of all its rows.

    Attributes:
        path: The table.
        rows: Rows in the table.
        pos: Position in the table of each clustered row.
        label: Its ``cluster``.
        keep: Its ``keep``.
        status: Its status, as an index into ``statuses``.
        shard: Its shard, as an index into ``shards``.
        row: Its ``row`` (-1 when null: an image file).
        hashes: Images only: each clustered row's hash (uint64; Python bytes for PDQ).
        counts: Rows per (shard, status).
    """

    path: Path
    rows: int = 0
    pos: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    label: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    keep: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    status: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    shard: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    row: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    hashes: npt.NDArray[Any] = field(default_factory=lambda: np.zeros(0, np.uint64))
    statuses: list[str] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def kept_of(self) -> LabelMap:
        """Each cluster's kept member, as an index into these arrays."""
        kept = np.flatnonzero(self.keep)
        return LabelMap(self.label[kept], kept.astype(np.int64))

    def sizes(self) -> LabelMap:
        """Members per cluster label."""
        labels, counts = np.unique(self.label, return_counts=True)
        return LabelMap(labels, counts.astype(np.int64))


class LabelMap:
    """A read-only ``label -> value`` map over two arrays (sorted by label on creation): a run's
    clusters may number in the millions, too many for a Python dict."""

    def __init__(self, labels: npt.NDArray[np.int64], values: npt.NDArray[np.int64]) -> None:
        order = np.argsort(labels, kind="stable")
        self.labels = np.asarray(labels, np.int64)[order]
        self.values = np.asarray(values, np.int64)[order]

    def __len__(self) -> int:
        return len(self.labels)

    def _at(self, label: int) -> int:
        i = int(np.searchsorted(self.labels, label))
        return i if i < len(self.labels) and self.labels[i] == label else -1

    def __contains__(self, label: object) -> bool:
        return isinstance(label, int | np.integer) and self._at(int(label)) >= 0

    def __getitem__(self, label: int) -> int:
        i = self._at(int(label))
        if i < 0:
            raise KeyError(label)
        return int(self.values[i])


def _bits(buf: pa.Buffer, offset: int, n: int) -> npt.NDArray[np.bool_]:
    bits = np.unpackbits(np.frombuffer(buf, dtype=np.uint8), bitorder="little")
    return bits[offset : offset + n].astype(np.bool_)


def _filled(col: pa.Array, fill: int) -> npt.NDArray[np.int64]:
    """An integer or boolean column as int64, nulls as ``fill``, read from its buffers
    (``to_numpy`` of a column with nulls, or of booleans, would import pandas)."""
    n, off = len(col), col.offset
    validity, data = col.buffers()[:2]
    if pa.types.is_boolean(col.type):
        values = _bits(data, off, n).astype(np.int64)
    else:
        kind = "i" if pa.types.is_signed_integer(col.type) else "u"
        dtype = np.dtype(f"<{kind}{col.type.bit_width // 8}")
        values = np.frombuffer(data, dtype=dtype)[off : off + n].astype(np.int64)
    if col.null_count:
        values[~_bits(validity, off, n)] = fill
    return values


def _codes(col: pa.Array | pa.ChunkedArray, names: list[str], known: dict[str, int]) -> Any:
    """Global integer codes of a string column's values (dictionary-encoded per batch)."""
    enc = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    mapping = []
    for v in enc.dictionary.to_pylist():
        key = "" if v is None else str(v)
        if key not in known:
            known[key] = len(names)
            names.append(key)
        mapping.append(known[key])
    idx = _filled(enc.indices, 0)
    if not mapping:
        return np.zeros(len(idx), np.int64)
    return np.asarray(mapping, dtype=np.int64)[idx]


def scan(path: Path, *, images: bool = False) -> Index:
    """Reads ``shard``, ``row``, ``cluster``, ``keep`` and ``status`` (and ``hash``
    for images) of ``path`` in batches. An image file's "shard" is its directory."""
    pf = pq.ParquetFile(path)
    # Images runs before the one convention named the column `source`.
    first = "source" if images and "shard" not in pf.schema_arrow.names else "shard"
    cols = [first, "row", "cluster", "keep", "status"]
    if images:
        cols.append("hash")
    out = Index(path, rows=pf.metadata.num_rows)
    known_shards: dict[str, int] = {}
    known_status: dict[str, int] = {}
    parts: dict[str, list[Any]] = {
        k: [] for k in ("pos", "label", "keep", "status", "shard", "row", "hashes")
    }
    at = 0
    for batch in pf.iter_batches(batch_size=_BATCH, columns=cols):
        n = batch.num_rows
        shard_col = batch.column(0)
        row_col = batch.column(1)
        if images:  # image files group by directory; Parquet and tar sources are shards
            parent = pc.replace_substring_regex(shard_col, pattern=r"/[^/]*$", replacement="")
            shard_col = pc.if_else(pc.is_null(row_col), parent, shard_col)
        shard = _codes(shard_col, out.shards, known_shards)
        status = _codes(batch.column(4), out.statuses, known_status)
        keys, counts = np.unique(shard * 64 + status, return_counts=True)
        for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
            out.counts[(out.shards[k // 64], out.statuses[k % 64])] += c
        label = _filled(batch.column(2), -1)
        sel = np.flatnonzero(label >= 0)
        if len(sel):
            parts["pos"].append(sel.astype(np.int64) + at)
            parts["label"].append(label[sel].astype(np.int64))
            parts["keep"].append(_filled(batch.column(3), 1)[sel].astype(np.bool_))
            parts["status"].append(status[sel])
            parts["shard"].append(shard[sel])
            parts["row"].append(_filled(row_col, -1)[sel])
            if images:
                h = batch.column(5).take(pa.array(sel))
                integer = pa.types.is_integer(h.type)
                parts["hashes"].append(
                    h.to_numpy().astype(np.uint64) if integer else np.array(h.to_pylist(), object)
                )
        at += n
    for name, chunks in parts.items():
        if chunks:
            setattr(out, name, np.concatenate(chunks))
    return out
