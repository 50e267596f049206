"""``mmdedup images --crops``: images also match when enough of their region hashes do.

The hash stage adds each image's crop-resistant region hashes (:func:`mmdedup.region_hashes`:
the bright and dark regions of the image, each hashed with ``region_method``) to its unit's hash
file, in a ``regions`` column (``list<uint64>``). The clusters stage joins two images when their
whole-image hashes lie within ``max_distance`` (as without ``--crops``) or when at least
``min_regions`` region hashes of each lie within ``max_distance`` of a region hash of the other
(:func:`mmdedup.region_pairs`, exact). The clusters are the connected components of both kinds
of edges.

The region search runs in memory: about ``REGION_BYTES`` per region hash (the hashes, the image
owning each and the multi-index search) besides what the whole-image stage holds, plus about 64
bytes per pair of images that share a region within the distance. When the first two would not
fit ``--memory`` the run stops with an error before the search (the hashes stay in the work
directory: ``--resume`` with a larger ``--memory`` goes on from there), rather than use more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ... import _core
from ...errors import ParameterError

#: Region hashes of each image that must match (within ``-k``) the other image's.
MIN_REGIONS = 2
#: The hash of each region. pHash regions join the fewest unrelated pictures; aHash regions find
#: more crops of smooth pictures, and join busy unrelated ones (``benches/README.md``).
REGION_METHOD = "phash"
REGION_METHODS = ("ahash", "dhash", "dhash_vertical", "phash", "phash_simple", "whash")
#: Regions of at most this many pixels of the 300-pixel-square segmentation plane are left out
#: (ImageHash's 500 leaves out more of the regions a crop keeps; smaller ones match by chance).
MIN_SEGMENT_SIZE = 300
#: Region hashes kept per image, its largest regions: what a busy image can add is bounded.
MAX_REGIONS = 32
#: What the region search holds per region hash, besides the whole-image stage.
REGION_BYTES = 192


def crop_parameters(
    method: str, frames: str, min_regions: int, region_method: str
) -> dict[str, Any]:
    """The parameters ``--crops`` adds to the run's manifest and summary."""
    if method == "pdq":
        raise ParameterError(
            "--crops matches 64-bit region hashes within the one --max-distance; "
            "use an ImageHash-family --method, not PDQ"
        )
    if frames != "first":
        raise ParameterError("--crops hashes the regions of first frames only: use --frames first")
    if min_regions < 1:
        raise ParameterError(f"--min-regions must be at least 1, got {min_regions}")
    if region_method not in REGION_METHODS:
        raise ParameterError(
            f"--region-method must be one of {', '.join(REGION_METHODS)}, got {region_method!r}"
        )
    return {
        "crops": True,
        "min_regions": min_regions,
        "region_method": region_method,
        "region_min_segment_size": MIN_SEGMENT_SIZE,
        "max_regions": MAX_REGIONS,
    }


def region_options(parameters: dict[str, Any]) -> dict[str, Any]:
    """The arguments of :func:`mmdedup.image_hashes` that add the region hashes."""
    if not parameters.get("crops"):
        return {}
    return {
        "regions": True,
        "region_method": parameters["region_method"],
        "max_regions": parameters["max_regions"],
        "min_segment_size": parameters["region_min_segment_size"],
    }


def check_memory(paths: list[Path], whole: int, memory: int) -> int:
    """The number of region hashes in the hash files; an error when the in-memory search would
    exceed ``memory`` with ``whole`` bytes of the whole-image stage."""
    regions = 0
    for p in paths:
        col = pq.read_table(p, columns=["regions"])["regions"]
        regions += int(pc.sum(pc.list_value_length(col)).as_py() or 0)
    need = whole + REGION_BYTES * regions
    if need > memory:
        raise ParameterError(
            f"--crops searches region hashes in memory: {regions:,} region hashes need about "
            f"{_size(need)} (the hashes and per-image data, and {REGION_BYTES} bytes per region "
            f"hash), more than --memory {_size(memory)}. The hashes are kept: run the same "
            f"command with --resume and --memory {_size(need * 5 // 4)} or more"
        )
    return regions


def _size(n: int) -> str:
    """Bytes as ``--memory`` reads them (binary units), rounded up."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{-(-n * 10 // scale) / 10:g}{unit}"
    return f"{n}B"


def crop_clusters(
    table: pa.Table, parameters: dict[str, Any]
) -> tuple[npt.NDArray[np.int64], dict[str, Any], dict[str, Any]]:
    """Clusters of whole-image and region matches: the labels (the smallest row of each
    cluster, -1 for an image matched by none), the extra columns of ``clusters.parquet``
    (``regions``: region hashes per image, null for errors; ``region_count``: images sharing
    ``min_regions`` region hashes with it, itself included, 0 for errors) and the search's
    numbers for the summary."""
    method, k = parameters["method"], int(parameters["max_distance"])
    n = table.num_rows
    col = table[method].combine_chunks()
    skip = np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    hashes = np.asarray(col.fill_null(0).cast(pa.uint64()).to_numpy(), dtype=np.uint64)
    equal, near = _core.hamming_neighbours(hashes, skip, k=k)
    regions = table["regions"].combine_chunks()
    lengths = np.asarray(pc.list_value_length(regions).fill_null(0).to_numpy(), dtype=np.int64)
    flat = pc.list_flatten(regions)
    values = np.ascontiguousarray(flat.cast(pa.uint64()).to_numpy(), dtype=np.uint64)
    items = np.repeat(np.arange(n, dtype=np.uint32), lengths)
    pairs, _ = _core.region_pairs(
        values,
        items,
        np.zeros(len(values), np.bool_),
        k=k,
        min_matches=int(parameters["min_regions"]),
    )
    del values, items
    edges = np.concatenate([equal, near, pairs]).astype(np.uint32)
    labels = _core.components(n, np.ascontiguousarray(edges))
    degree = np.bincount(pairs.reshape(-1).astype(np.int64), minlength=n).astype(np.uint32)
    count = np.where(skip, np.uint32(0), degree + np.uint32(1)).astype(np.uint32)
    columns = {
        "regions": pa.array(lengths.astype(np.uint32), pa.uint32(), mask=skip),
        "region_count": pa.array(count, pa.uint32()),
    }
    a, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    apart = np.bitwise_count(hashes[a] ^ hashes[b]) > k
    search = {
        "regions": int(lengths.sum()),
        "region_pairs": len(pairs),
        # pairs whose whole-image hashes are not within the distance: what --crops adds
        "region_only_pairs": int(np.count_nonzero(apart | skip[a] | skip[b])),
    }
    return labels, columns, search
