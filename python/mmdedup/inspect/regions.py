"""Exact region matching of sampled image pairs, for runs with ``--crops``: a pair whose
whole-image hashes lie beyond the distance was joined by its region hashes, so the precision
estimate recomputes both images' region hashes from their bytes, with the run's parameters, and
checks that at least ``min_regions`` of them match."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .. import _core
from ..image import image_hashes
from .locate import image_bytes, read_positions

__all__ = ["region_matches"]


def region_matches(
    clusters: Path,
    positions: Sequence[tuple[int, int]],
    params: dict[str, Any],
    column: str | None,
    shard_column: str = "shard",
) -> list[bool | None]:
    """For each ``(a, b)`` pair of rows of ``clusters.parquet``: whether the two images share
    ``min_regions`` region hashes within ``max_distance``; None where an image cannot be read."""
    rows = sorted({r for pair in positions for r in pair})
    recs = read_positions(clusters, rows, [shard_column, "row"])
    keys = {r: (str(recs[r][shard_column]), recs[r].get("row")) for r in rows if r in recs}
    blobs = image_bytes(set(keys.values()), column)
    data = [blobs.get(keys[r]) if r in keys else None for r in rows]
    usable = [b if isinstance(b, bytes) else None for b in data]
    if not any(b is not None for b in usable):
        return [None] * len(positions)
    t = image_hashes(
        pa.array(usable, pa.binary()),
        methods=[params["method"]],
        hash_size=int(params.get("hash_size", 8)),
        mode=params.get("mode", "canonical"),
        regions=True,
        region_method=params["region_method"],
        max_regions=params.get("max_regions"),
        min_segment_size=int(params["region_min_segment_size"]),
    )
    regions = t["regions"].to_pylist()
    at = {r: i for i, r in enumerate(rows)}
    k, need = int(params["max_distance"]), int(params["min_regions"])
    out: list[bool | None] = []
    for a, b in positions:
        ra, rb = regions[at[a]], regions[at[b]]
        if usable[at[a]] is None or usable[at[b]] is None or ra is None or rb is None:
            out.append(None)
            continue
        values = np.array(ra + rb, dtype=np.uint64)
        items = np.array([0] * len(ra) + [1] * len(rb), dtype=np.uint32)
        pairs, _ = _core.region_pairs(
            values, items, np.zeros(len(values), np.bool_), k=k, min_matches=need
        )
        out.append(len(pairs) > 0)
    return out
