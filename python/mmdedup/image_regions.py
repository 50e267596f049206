"""Crop-resistant image matching: hashes of an image's bright and dark regions (ImageHash's
``crop_resistant_hash``), and the image pairs that share enough of them."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from . import _core
from ._arrow import to_arrow
from .errors import InputError, ParameterError

__all__ = ["region_clusters", "region_hashes", "region_pairs"]


def region_hashes(
    images: Any,
    *,
    method: str = "dhash",
    hash_size: int = 8,
    mode: str = "canonical",
    segment_threshold: float = 128,
    min_segment_size: int = 500,
    segmentation_size: int = 300,
    max_regions: int | None = None,
    pixel_limit: int | None = None,
    memory: int | None = None,
) -> pa.Table:
    """Crop-resistant region hashes of each image, after ImageHash's ``crop_resistant_hash``.

    The gray image is reduced to ``segmentation_size``² pixels, blurred (Gaussian, σ = 2) and
    median-filtered (3 × 3), and cut into the 4-connected regions brighter than
    ``segment_threshold`` and the others; regions of more than ``min_segment_size`` pixels are
    kept (the whole image when none is), and each one's bounding box, scaled back to the image,
    is hashed with ``method`` like a whole image. A crop of an image keeps most of its regions,
    and so most of their hashes: :func:`region_pairs` matches images by those. Regions whose
    hash plane is flat (one gray level) carry no information and are left out.

    In ``"compatible"`` mode the reduction and the hashes use Pillow's arithmetic, so region
    hashes equal ImageHash's wherever the regions do; the blur is a true Gaussian, not Pillow's
    box approximation, so regions can differ where a pixel sits within a gray level of the
    threshold (on hard-edged shapes they agree). Each image is decoded once for its regions
    (again, when :func:`~mmdedup.image_hashes` also hashes it whole).

    Args:
        images: As for :func:`~mmdedup.image_hashes` (paths, or encoded images).
        method: The hash of each region: ``ahash``, ``dhash`` (default, ImageHash's),
            ``dhash_vertical``, ``phash``, ``phash_simple`` or ``whash``, of at most 64 bits.
        hash_size: As for :func:`~mmdedup.image_hashes`, at most 8.
        mode: ``"canonical"`` (default) or ``"compatible"``.
        segment_threshold: Gray level (0–255) between bright and dark regions.
        min_segment_size: Regions of at most this many segmentation pixels are dropped.
        segmentation_size: Side of the segmentation plane.
        max_regions: Keep only this many regions, the largest (``None``: all).
        pixel_limit, memory: As for :func:`~mmdedup.image_hashes`.

    Returns:
        A table with ``regions`` (``list<uint64>``: the region hashes, in region order; null
        where the image failed) and ``error`` (null, or why the row has no hashes).
    """
    if max_regions is not None and max_regions < 1:
        raise ParameterError(f"`max_regions` must be at least 1, got {max_regions}")
    if not 0 <= segment_threshold <= 255:
        raise ParameterError(f"`segment_threshold` must be in 0..255, got {segment_threshold}")
    limit = _core.DEFAULT_PIXEL_LIMIT if pixel_limit is None else pixel_limit
    if limit <= 0:
        raise ParameterError(f"`pixel_limit` must be positive, got {limit}")
    budget = _core.DEFAULT_DECODE_MEMORY if memory is None else memory
    if budget <= 0:
        raise ParameterError(f"`memory` must be positive, got {budget}")
    kw: dict[str, Any] = {
        "method": method,
        "hash_size": hash_size,
        "mode": mode,
        "pixel_limit": limit,
        "memory": budget,
        "segment_threshold": float(segment_threshold),
        "min_segment_size": min_segment_size,
        "segmentation_size": segmentation_size,
        "max_regions": max_regions or 0,
    }
    from .image import is_paths

    if is_paths(images):
        out = _core.image_regions_files([os.fspath(p) for p in images], **kw)
    else:
        out = _core.image_regions(to_arrow(images, "images"), **kw)
    offsets = np.asarray(out["offsets"], dtype=np.int64)
    n = len(offsets) - 1
    failed = np.zeros(n, dtype=np.bool_)
    messages = np.full(n, None, dtype=object)
    for row, msg in out["errors"]:
        failed[row] = True
        messages[row] = msg
    values = pa.array(out["hashes"], pa.uint64())
    lists = pa.ListArray.from_arrays(
        pa.array(offsets.astype(np.int32)), values, mask=pa.array(failed)
    )
    meta = {
        "mmdedup.mode": mode,
        "mmdedup.hash_size": str(hash_size),
        "mmdedup.region_method": method,
    }
    return pa.table(
        {"regions": lists, "error": pa.array(messages, pa.string())}
    ).replace_schema_metadata(meta)


def _explode(regions: Any) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32], int]:
    """Region hashes, the image owning each, and the number of images, from a
    ``list<uint64>`` column (Arrow, a table with a ``regions`` column, or a list of lists)."""
    if isinstance(regions, pa.Table):
        if "regions" not in regions.column_names:
            raise InputError("the table has no `regions` column")
        regions = regions["regions"]
    if isinstance(regions, pa.ChunkedArray):
        regions = regions.combine_chunks()
    if not isinstance(regions, pa.Array):
        regions = pa.array(list(regions), pa.list_(pa.uint64()))
    if not (pa.types.is_list(regions.type) or pa.types.is_large_list(regions.type)):
        raise InputError(f"region hashes must be a list column, got {regions.type}")
    if not pa.types.is_integer(regions.type.value_type):
        raise InputError(f"region hashes must be integers, got {regions.type.value_type}")
    n = len(regions)
    lengths = np.asarray(pc.list_value_length(regions).fill_null(0).to_numpy(), dtype=np.int64)
    flat = pc.list_flatten(regions)
    if flat.null_count:
        raise InputError("region hashes must not contain nulls")
    if pa.types.is_signed_integer(flat.type):
        values = np.asarray(flat.cast(pa.int64()).to_numpy(), dtype=np.int64).view(np.uint64)
    else:
        values = np.asarray(flat.cast(pa.uint64()).to_numpy(), dtype=np.uint64)
    if n >= 2**32:
        raise InputError("at most 2^32 images")
    items = np.repeat(np.arange(n, dtype=np.uint32), lengths)
    return np.ascontiguousarray(values), items, n


def region_pairs(regions: Any, *, max_distance: int = 8, min_matches: int = 1) -> pa.Table:
    """Pairs of images that share at least ``min_matches`` region hashes within
    ``max_distance`` bits (exact: every region hash is searched against all others with the
    multi-index Hamming search, then matches are counted per image pair; memory grows with the
    pairs found, not with the pairs of regions).

    ``matches`` counts, for each side, its regions within ``max_distance`` of some region of the
    other, and keeps the smaller count. ImageHash's ``ImageMultiHash.matches`` asks
    ``region_cutoff`` (default 1) regions of one side within ``hamming_cutoff`` (default 16 of
    64 bits); 8 is mmdedup's usual distance.

    Args:
        regions: :func:`region_hashes`'s table or its ``regions`` column (``list<uint64>``,
            nulls own no region), or a list of lists of hashes.

    Returns:
        A table of ``a`` and ``b`` (``uint32`` row numbers, ``a < b``, sorted) and ``matches``.

    >>> region_pairs([[0b1011, 0xFF00], [0b1001], [0xFF00, 0xF0F0], []], max_distance=1)
    pyarrow.Table
    a: uint32
    b: uint32
    matches: uint32
    ----
    a: [[0,0]]
    b: [[1,2]]
    matches: [[1,1]]
    """
    if not 0 <= max_distance <= 64:
        raise ParameterError(f"`max_distance` must be in 0..64, got {max_distance}")
    if min_matches < 1:
        raise ParameterError(f"`min_matches` must be at least 1, got {min_matches}")
    values, items, _ = _explode(regions)
    skip = np.zeros(len(values), dtype=np.bool_)
    edges, matches = _core.region_pairs(
        values, items, skip, k=max_distance, min_matches=min_matches
    )
    return pa.table(
        {
            "a": pa.array(edges[:, 0], pa.uint32()),
            "b": pa.array(edges[:, 1], pa.uint32()),
            "matches": pa.array(matches, pa.uint32()),
        }
    )


def region_clusters(
    regions: Any, *, max_distance: int = 8, min_matches: int = 1
) -> npt.NDArray[np.int64]:
    """Clusters of images joined by :func:`region_pairs`: the smallest row of each image's
    cluster, or -1 for an image matched by none (as :func:`~mmdedup.hamming_clusters`).

    >>> region_clusters([[0b1011, 0xFF00], [0b1001], [0xFF00, 0xF0F0], [0x1234]], max_distance=1).tolist()
    [0, 0, 0, -1]
    """
    pairs = region_pairs(regions, max_distance=max_distance, min_matches=min_matches)
    _, _, n = _explode(regions)
    edges = np.stack([pairs["a"].to_numpy(), pairs["b"].to_numpy()], axis=1).astype(np.uint32)
    return _core.components(n, np.ascontiguousarray(edges.reshape(-1, 2)))
