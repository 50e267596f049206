"""Perceptual image hashes (ImageHash's aHash, dHash, pHash, wHash; Meta's PDQ) and near-duplicate
search in Hamming space."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from . import _core
from ._arrow import to_arrow
from .errors import InputError, ParameterError

__all__ = [
    "HashMethod",
    "ImageMode",
    "hamming_clusters",
    "image_hash",
    "image_hashes",
    "item_clusters",
    "neighbour_counts",
    "to_hex",
]

HashMethod = Literal["ahash", "dhash", "dhash_vertical", "phash", "phash_simple", "whash", "pdq"]
ImageMode = Literal["canonical", "compatible"]


def is_paths(images: Any) -> bool:
    if hasattr(images, "__arrow_c_stream__") or hasattr(images, "__arrow_c_array__"):
        return False
    if isinstance(images, str | bytes | os.PathLike):
        raise InputError("`images` must be a sequence of paths or of encoded images, not one item")
    items = list(images) if not isinstance(images, Sequence) else images
    return bool(items) and all(isinstance(x, str | os.PathLike) for x in items)


def _bits(method: str, hash_size: int) -> int:
    return 256 if method.startswith("pdq") else hash_size * hash_size


def _column(raw: npt.NDArray[np.uint8], bits: int, failed: npt.NDArray[np.bool_]) -> pa.Array:
    """uint64 for hashes of up to 64 bits (the integer of ImageHash's hex string), else
    fixed-size binary (big-endian)."""
    n, width = raw.shape
    mask = failed if failed.any() else None
    if bits <= 64:
        padded = np.zeros((n, 8), dtype=np.uint8)
        padded[:, 8 - width :] = raw
        values = padded.view(">u8").ravel().astype(np.uint64)
        return pa.array(values, type=pa.uint64(), mask=mask)
    arr = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), n, [None, pa.py_buffer(raw.tobytes())]
    )
    if mask is None:
        return arr
    return pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)


def image_hashes(
    images: Any,
    *,
    methods: Sequence[str] = ("phash",),
    hash_size: int = 8,
    mode: ImageMode = "canonical",
    pixel_limit: int | None = None,
    frames: Literal["first", "all"] = "first",
    max_frames: int = 1000,
    memory: int | None = None,
    regions: bool = False,
    region_method: str = "dhash",
    max_regions: int | None = None,
    min_segment_size: int = 500,
) -> pa.Table:
    """Several perceptual hashes of each image from one decode.

    Args:
        images: File paths (``str`` or ``PathLike``, read in parallel), or encoded images as an
            Arrow binary column, a ``pl.Series`` or a list of ``bytes``.
        methods: Any of ``ahash``, ``dhash``, ``dhash_vertical``, ``phash``, ``phash_simple``,
            ``whash``, ``pdq`` and the PDQ dihedral variants ``pdq_rotate90``, ``pdq_rotate180``,
            ``pdq_rotate270``, ``pdq_flipx``, ``pdq_flipy``, ``pdq_flipplus1``,
            ``pdq_flipminus1``.
        hash_size: Side of the ImageHash-family hashes (bits = ``hash_size²``); PDQ is 256 bits.
        mode: ``"canonical"`` (default: EXIF orientation applied, alpha composited onto mid-gray,
            16-bit scaled, area-averaged reduction) or ``"compatible"`` (bit-identical to
            ImageHash 4.3 on Pillow and to the PDQ reference).
        pixel_limit: Images with more pixels are refused (decompression bombs); default
            ``mmdedup._core.DEFAULT_PIXEL_LIMIT`` (twice Pillow's limit). With ``frames="all"``
            it bounds the pixels of all frames together.
        frames: ``"first"`` (default): the first frame of an animation, as ImageHash sees it.
            ``"all"``: every frame of an animated GIF, WebP or PNG (each composited onto the
            logical screen as the format's disposal rules say), one row per frame; a still
            image has one row.
        max_frames: With ``frames="all"``, the frames after this many are left out: such
            images are flagged in ``frames_truncated``, and a warning says how many there are.
        memory: Bytes the images decoded at the same time may hold together (default
            ``mmdedup._core.DEFAULT_DECODE_MEMORY``, 2 GiB), as estimated from each image's
            header: about 9 bytes per pixel for canonical hashes of a PNG. An image waits for
            room rather than fail, and one larger than ``memory`` decodes alone, so peak memory
            does not grow with the thread count. The hashes do not depend on it.
        regions: Also the crop-resistant region hashes of each image (see
            :func:`~mmdedup.region_hashes`, with ImageHash's segmentation defaults), in a
            ``regions`` column (``list<uint64>``) for :func:`~mmdedup.region_pairs` and
            :func:`~mmdedup.region_clusters`; first frames only.
        region_method: The hash of each region (default ``dhash``, as ImageHash's).
        max_regions: With ``regions``, keep only this many regions per image, the largest.
        min_segment_size: With ``regions``, regions of at most this many pixels of the
            segmentation plane are left out (ImageHash's 500).

    Returns:
        A table with one column per method (``uint64`` for hashes of up to 64 bits, the integer
        of ImageHash's hex string; ``fixed_size_binary`` otherwise), ``pdq_quality`` when PDQ is
        asked for, ``width`` and ``height`` as decoded, and ``error`` (null, or why the row has
        no hash). The schema metadata records ``mode`` and ``hash_size``. With
        ``frames="all"`` two ``uint32`` columns come first: ``item`` (the image's position in
        ``images``) and ``frame`` (0 for the first); the first frame's hashes are those of
        ``frames="first"``, and an image that failed has one row, frame 0; a last column,
        ``frames_truncated`` (bool), is true on the rows of images that had more than
        ``max_frames`` frames. With ``regions=True``, a ``regions`` column comes before
        ``width``; the schema metadata then records ``region_method`` too.

    >>> import io, zlib, struct
    >>> def png(w, h):  # a tiny gradient PNG
    ...     raw = b"".join(b"\\x00" + bytes((x * 255 // w) for x in range(w)) for _ in range(h))
    ...     chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ...     ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    ...     return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    >>> t = image_hashes([png(64, 48), b"not an image"], methods=["dhash", "pdq"])
    >>> t.column_names
    ['dhash', 'pdq', 'pdq_quality', 'width', 'height', 'error']
    >>> t["width"].to_pylist(), t["error"][1].as_py()[:21]
    ([64, 0], 'cannot decode image: ')
    """
    if isinstance(methods, str):
        methods = [methods]
    if regions and frames != "first":
        raise ParameterError("`regions` hashes first frames only: use frames='first'")
    if regions and not (
        isinstance(images, Sequence)
        or hasattr(images, "__arrow_c_stream__")
        or hasattr(images, "__arrow_c_array__")
    ):
        images = list(images)  # read twice: whole-image hashes, then regions
    limit = _core.DEFAULT_PIXEL_LIMIT if pixel_limit is None else pixel_limit
    if limit <= 0:
        raise ParameterError(f"`pixel_limit` must be positive, got {limit}")
    if frames not in ("first", "all"):
        raise ParameterError(f"`frames` must be 'first' or 'all', got {frames!r}")
    if max_frames < 1:
        raise ParameterError(f"`max_frames` must be at least 1, got {max_frames}")
    budget = _core.DEFAULT_DECODE_MEMORY if memory is None else memory
    if budget <= 0:
        raise ParameterError(f"`memory` must be positive, got {budget}")
    kw: dict[str, Any] = {
        "methods": list(methods),
        "hash_size": hash_size,
        "mode": mode,
        "pixel_limit": limit,
        "frames": max_frames if frames == "all" else 1,
        "memory": budget,
    }
    if is_paths(images):
        out = _core.image_hashes_files([os.fspath(p) for p in images], **kw)
    else:
        out = _core.image_hashes(to_arrow(images, "images"), **kw)
    n = len(out["width"])
    failed = np.zeros(n, dtype=np.bool_)
    messages = np.full(n, None, dtype=object)
    for row, msg in out["errors"]:
        failed[row] = True
        messages[row] = msg
    cols: dict[str, pa.Array] = {}
    if frames == "all":
        cols["item"] = pa.array(out["item"], pa.uint32())
        cols["frame"] = pa.array(out["frame"], pa.uint32())
    for name, raw in zip(methods, out["hashes"], strict=True):
        cols[name] = _column(raw, _bits(name, hash_size), failed)
    if any(m.startswith("pdq") for m in methods):
        q = out["quality"]
        cols["pdq_quality"] = pa.array(q.astype(np.uint8), pa.uint8(), mask=q < 0)
    meta = {"mmdedup.mode": mode, "mmdedup.hash_size": str(hash_size)}
    if regions:
        from .image_regions import region_hashes

        r = region_hashes(
            images,
            method=region_method,
            hash_size=hash_size,
            mode=mode,
            max_regions=max_regions,
            min_segment_size=min_segment_size,
            pixel_limit=limit,
            memory=budget,
        )
        cols["regions"] = r["regions"].combine_chunks()
        meta["mmdedup.region_method"] = region_method
    cols["width"] = pa.array(out["width"], pa.uint32())
    cols["height"] = pa.array(out["height"], pa.uint32())
    cols["error"] = pa.array(messages, pa.string())
    if frames == "all":
        cut = out["truncated"]
        cols["frames_truncated"] = pa.array(np.isin(out["item"], cut), pa.bool_())
        if len(cut):
            warnings.warn(
                f"{len(cut)} animation(s) have more than max_frames = {max_frames} frames; "
                "the frames after those were not hashed (see `frames_truncated`)",
                stacklevel=2,
            )
    return pa.table(cols).replace_schema_metadata(meta)


def image_hash(
    images: Any,
    *,
    method: str = "phash",
    hash_size: int = 8,
    mode: ImageMode = "canonical",
    pixel_limit: int | None = None,
    frames: Literal["first", "all"] = "first",
    max_frames: int = 1000,
    memory: int | None = None,
) -> pa.Table:
    """One perceptual hash per image (per frame with ``frames="all"``): :func:`image_hashes`
    with a single method, whose column is named ``hash`` (and ``quality`` for PDQ)."""
    t = image_hashes(
        images,
        methods=[method],
        hash_size=hash_size,
        mode=mode,
        pixel_limit=pixel_limit,
        frames=frames,
        max_frames=max_frames,
        memory=memory,
    )
    return t.rename_columns(
        ["hash" if c == method else "quality" if c == "pdq_quality" else c for c in t.column_names]
    )


def to_hex(hashes: pa.Array | pa.ChunkedArray, bits: int = 64) -> list[str | None]:
    """Hex strings as ImageHash prints them (``str(imagehash.phash(img))``) or as PDQ does.

    Signed integers (hashes kept as ``int64`` by tools without unsigned types: Spark, Java,
    many databases) are read as the two's-complement ``uint64`` of the same bits, as
    :func:`hamming_clusters` reads them.

    >>> to_hex(pa.array([0x0026273B2B19550E, None], pa.uint64()))
    ['0026273b2b19550e', None]
    >>> to_hex(pa.array([-1], pa.int64()))
    ['ffffffffffffffff']
    """
    digits = (bits + 3) // 4
    out: list[str | None] = []
    for v in hashes.to_pylist():
        if v is None:
            out.append(None)
        elif isinstance(v, int):
            out.append(format(v % 2**64, f"0{digits}x"))
        else:
            out.append(bytes(v).hex())
    return out


def _u64(hashes: Any) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """64-bit hashes as ``(n,)`` uint64, or 256-bit ones (PDQ's 32-byte values) as ``(n, 4)``
    big-endian words, with a mask of nulls."""
    arr = pa.chunked_array([hashes]) if isinstance(hashes, pa.Array) else hashes
    if isinstance(arr, pa.ChunkedArray) and pa.types.is_fixed_size_binary(arr.type):
        if arr.type.byte_width != 32:
            raise InputError(f"binary hashes must be 32 bytes (PDQ), got {arr.type}")
        skip = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
        filled = arr.fill_null(b"\0" * 32).combine_chunks()
        raw = np.frombuffer(filled.buffers()[1], dtype=np.uint8)[
            filled.offset * 32 : (filled.offset + len(filled)) * 32
        ]
        words = raw.view(">u8").astype(np.uint64).reshape(-1, 4)
        return np.ascontiguousarray(words), skip
    if isinstance(arr, pa.ChunkedArray):
        if not pa.types.is_unsigned_integer(arr.type) and not pa.types.is_integer(arr.type):
            raise InputError(f"hashes must be 64-bit integers, got {arr.type}")
        skip = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
        filled = arr.fill_null(0)
        if pa.types.is_signed_integer(arr.type):
            # The two's-complement bits, as `to_hex` prints them.
            signed = np.asarray(filled.cast(pa.int64()).to_numpy(), dtype=np.int64)
            return signed.view(np.uint64), skip
        values = np.asarray(filled.cast(pa.uint64()).to_numpy(), dtype=np.uint64)
        return values, skip
    values = np.asarray(hashes, dtype=np.uint64)
    return values, np.zeros(len(values), dtype=np.bool_)


def hamming_clusters(hashes: Any, *, max_distance: int = 8) -> npt.NDArray[np.int64]:
    """Clusters of 64-bit hashes (or 256-bit PDQ hashes, a ``fixed_size_binary(32)`` column)
    joined by pairs within ``max_distance`` bits (exact: no pair is missed; multi-index hashing,
    not a scan of all pairs; PDQ's usual threshold is 31). Nulls join nothing.

    Returns:
        The smallest index of each row's cluster, or -1 for a row with no near-duplicate.

    >>> hamming_clusters(np.array([0b1011, 0b1001, 0xFF00, 0b1011], dtype=np.uint64), max_distance=1).tolist()
    [0, 0, -1, 0]
    """
    values, skip = _u64(hashes)
    bits = 256 if values.ndim == 2 else 64
    if not 0 <= max_distance <= bits:
        raise ParameterError(f"`max_distance` must be in 0..{bits}, got {max_distance}")
    if values.ndim == 2:
        equal, near = _core.hamming_neighbours_256(values, skip, k=max_distance)
    else:
        equal, near = _core.hamming_neighbours(values, skip, k=max_distance)
    return _core.components(len(values), np.concatenate([equal, near]))


def neighbour_counts(hashes: Any, *, max_distance: int = 8) -> npt.NDArray[np.uint64]:
    """For each hash, how many hashes in the set (itself included) are within ``max_distance``
    bits: the "occurs more than N times" count of OBELICS and MMC4. 0 for nulls.

    >>> neighbour_counts(np.array([0, 0, 1, 0xFF00], dtype=np.uint64), max_distance=1).tolist()
    [3, 3, 3, 1]
    """
    values, skip = _u64(hashes)
    if values.ndim == 2:
        return _core.hamming_counts_256(values, skip, k=max_distance)
    return _core.hamming_counts(values, skip, k=max_distance)


def item_clusters(
    hashes: Any, items: npt.NDArray[np.integer[Any]], *, max_distance: int = 8
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    """Clusters and counts of items that own several hashes (the frames of an animation): two
    items are near-duplicates when some hash of one lies within ``max_distance`` bits of some
    hash of the other.

    Args:
        hashes: As for :func:`hamming_clusters`, one per row.
        items: The item of each row, ``0..m-1``, every item with at least one row.

    Returns:
        Per item: the smallest item of its cluster (-1 for an item with no near-duplicate), and
        how many items (itself included) own a hash within ``max_distance`` of one of its own
        (0 when all its hashes are null). With one row per item these are
        :func:`hamming_clusters` and :func:`neighbour_counts`.

    >>> h = np.array([0b0000, 0xFF00, 0b0001, 0xF0F0], dtype=np.uint64)
    >>> labels, counts = item_clusters(h, np.array([0, 0, 1, 2]), max_distance=1)
    >>> labels.tolist(), counts.tolist()
    ([0, 0, -1], [2, 2, 1])
    """
    import polars as pl

    values, skip = _u64(hashes)
    raw = np.asarray(items)
    if len(raw) != len(values):
        raise ParameterError("`items` must have one entry per hash")
    if len(raw) and raw.dtype.kind not in "iu":
        raise ParameterError(f"`items` must be integers, got dtype {raw.dtype}")
    # Every item owns a row, so item ids stay below the number of rows (and fit the kernel's
    # 32-bit row indices).
    if len(raw) and (int(raw.min()) < 0 or int(raw.max()) >= len(raw)):
        raise ParameterError(
            f"`items` must lie in 0..{len(raw) - 1} (each item owning at least one row), got "
            f"values from {int(raw.min())} to {int(raw.max())}"
        )
    items = raw.astype(np.int64)
    m = int(items.max()) + 1 if len(items) else 0
    bits = 256 if values.ndim == 2 else 64
    if not 0 <= max_distance <= bits:
        raise ParameterError(f"`max_distance` must be in 0..{bits}, got {max_distance}")
    search = _core.hamming_neighbours_256 if values.ndim == 2 else _core.hamming_neighbours
    equal, near = search(values, skip, k=max_distance)
    edges = items[np.concatenate([equal, near]).astype(np.int64)]
    labels = _core.components(m, np.ascontiguousarray(edges.astype(np.uint32)))
    # Rows of equal hashes form a group named by its first row; `near` joins groups.
    group = np.arange(len(values), dtype=np.int64)
    group[equal[:, 1].astype(np.int64)] = equal[:, 0]
    owned = pl.DataFrame({"g": group[~skip], "i": items[~skip]}).unique()
    reps = owned["g"].unique().to_numpy()
    a, b = near[:, 0].astype(np.int64), near[:, 1].astype(np.int64)
    adjacent = pl.DataFrame({"g": np.concatenate([reps, a, b]), "h": np.concatenate([reps, b, a])})
    pairs = (
        owned.join(adjacent, on="g")
        .join(owned.rename({"g": "h", "i": "j"}), on="h")
        .select("i", "j")
        .unique()
        .group_by("i")
        .len()
    )
    counts = np.zeros(m, dtype=np.uint64)
    counts[pairs["i"].to_numpy()] = pairs["len"].to_numpy()
    return labels, counts
