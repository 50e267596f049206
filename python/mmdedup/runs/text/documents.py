"""Per-document arrays of a text run, written in parts by the stages and read back in ranges."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt

from ...dedup import parse_keep
from ..shingle_sets import wants_sets
from ..workdir import WorkDir
from .plan import Plan, dedup_config


def concat_parts(work: WorkDir, plan: Plan, kind: str) -> npt.NDArray[Any]:
    return slice_parts(work, plan, kind, 0, plan.rows)


def slice_parts(work: WorkDir, plan: Plan, kind: str, a: int, b: int) -> npt.NDArray[Any]:
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
        arr = np.load(work.local(path), mmap_mode="r", allow_pickle=False)
        out[lo - a : hi - a] = arr[lo - start : hi - start]
        del arr
    return out


def load_errors(work: WorkDir, plan: Plan) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(len(plan.shards)):
        p = work.local(f"errors/{i:06d}.json")
        if p.exists():
            out.update({plan.offset(i) + int(k): v for k, v in json.loads(p.read_text()).items()})
    return out


def piece_rows(plan: Plan, i: int) -> int:
    """Rows of shard ``i`` read at a time: a quarter of the budget holds the piece's columns
    (decoded, counted three times for copies), its signatures, band keys and shingle sets; at
    least 1024 rows."""
    cfg = dedup_config(plan)
    s = plan.shards[i]
    text = -(-int(s.get("bytes", 0)) // max(int(s["rows"]), 1))
    sig = {"minhash": 4 * cfg.num_perm, "simhash": 8, "exact": 16}[cfg.method]
    bands = cfg.band_geometry()[0] if cfg.method == "minhash" else 1
    # Shingle sets, when kept: 8 bytes per shingle (about a word), per document and once more
    # as the concatenated column.
    sets = 3 * text if wants_sets(cfg) else 0
    per_row = 3 * text + 2 * sig + 36 * bands + 64 + sets
    return int(max(1024, min(max(int(s["rows"]), 1), plan.memory // 4 // per_row)))


def _part_files(work: WorkDir, plan: Plan, kind: str) -> list[tuple[int, str | None]]:
    """``(first row, file)`` of each part of a per-document array: the index's (``empty``
    only; ``None`` for ``keys``, whose index part is the winning key) and each shard's."""
    parts: list[tuple[int, str | None]] = []
    if plan.index is not None:
        parts.append((0, f"{kind}/index.npy" if kind == "empty" else None))
    parts += [(plan.offset(i), f"{kind}/{i:06d}.npy") for i in range(len(plan.shards))]
    return parts
