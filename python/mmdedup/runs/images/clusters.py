"""Stage 2 of an images run: the near-duplicate search over every unit's hashes."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ...image import hamming_clusters, item_clusters, neighbour_counts
from ...io import atomic_write, write_table
from ...storage import Location
from ..components import MapUnits
from ..engine import map_local
from ..workdir import WorkDir
from . import disk as images_disk
from .crops import check_memory, crop_clusters
from .disk import (
    cluster_columns,
    cluster_metadata,
    clusters_on_disk,
    in_memory_bytes,
)
from .hasher import empty_hashes
from .plan import Plan


def cluster_images(
    work: WorkDir,
    plan: Plan,
    units: list[str],
    target: Location,
    memory: int,
    each: MapUnits = map_local,
) -> None:
    """The near-duplicate search over every unit's hashes; writes ``clusters.parquet``
    (``target``, local or an fsspec URL) and the counts for the summary. On disk when an
    earlier run's on-disk search finished, or when the in-memory stage would exceed ``memory``
    (64-bit hashes, ``max_distance`` below 64); its components' units then go through the
    engine (``each``)."""
    p = plan.parameters
    method, max_distance = p["method"], p["max_distance"]
    paths = [work.local(f"hashes/{u}.parquet") for u in units]
    frames_all = p.get("frames", "first") == "all"
    crops = bool(p.get("crops"))
    on_disk = paths and method != "pdq" and max_distance < 64 and not (frames_all or crops)
    if on_disk and (work.done("search") or in_memory_bytes(paths) > memory):
        counts_out = clusters_on_disk(work, p, paths, target, memory, each)
        with atomic_write(work.path("counts.json")) as f:
            f.write(json.dumps(counts_out).encode())
        work.mark("clusters")
        return
    if crops and paths:
        check_memory(paths, in_memory_bytes(paths), memory)
    parts = [pq.read_table(path) for path in paths]
    table = pa.concat_tables(parts) if parts else empty_hashes(method)
    frame_counts = None
    extra: dict[str, Any] | None = None
    search: dict[str, Any] | None = None
    if crops and table.num_rows:
        labels, extra, search = crop_clusters(table, p)
        counts = neighbour_counts(table[method], max_distance=max_distance)
    elif crops:
        extra = {name: pa.array([], pa.uint32()) for name in ("regions", "region_count")}
        labels, counts = np.zeros(0, np.int64), np.zeros(0, np.uint64)
    elif frames_all and table.num_rows:
        # A row per frame, each image's rows together and its first frame first.
        first = np.asarray(table["frame"].to_numpy()) == 0
        image = np.cumsum(first) - 1
        labels, counts = item_clusters(table[method], image, max_distance=max_distance)
        frame_counts = np.bincount(image).astype(np.uint32)
        table = table.filter(pa.array(first))
    n = table.num_rows
    if n == 0 and extra is None:
        labels, counts = np.zeros(0, np.int64), np.zeros(0, np.uint64)
    elif frame_counts is None and extra is None:
        labels = hamming_clusters(table[method], max_distance=max_distance)
        counts = neighbour_counts(table[method], max_distance=max_distance)
    from ...dedup import choose_keep

    if p["keep"] == "largest":
        area = table["width"].to_numpy().astype(np.float64) * table["height"].to_numpy().astype(
            np.float64
        )
        keep = choose_keep(labels, ("max", "area"), area)
    else:
        keep = choose_keep(labels, ("first", None))
    out, failed = cluster_columns(table, method, counts, labels, keep, frame_counts, extra)
    meta = cluster_metadata(p)
    write_table(
        pa.table(out).replace_schema_metadata(meta), target, row_group_size=images_disk.ROW_GROUP
    )
    counts_out = {
        "images": n,
        "kept": int(keep.sum()),
        "removed": int((~keep).sum()),
        "clusters": len(np.unique(labels[labels >= 0])),
        "errors": int(failed.sum()),
    }
    if frame_counts is not None:
        counts_out["frames"] = int(frame_counts.sum())
    if crops:
        empty = {"regions": 0, "region_pairs": 0, "region_only_pairs": 0}
        counts_out["search"] = {"mode": "memory", **(search or empty)}
    with atomic_write(work.path("counts.json")) as f:
        f.write(json.dumps(counts_out).encode())
    work.mark("clusters")
