"""Image keys of interleaved documents (URL, bytes or pHash), and the frequent-image stage."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from ... import _core
from ...errors import InputError
from ...storage import Location
from ..workdir import WorkDir
from .config import MultimodalConfig
from .plan import Manifest, manifest_config, partition_rows

_IMG = np.dtype([("key", "<u8"), ("doc", "<u8")])


@functools.lru_cache(maxsize=1)
def image_source(table: str | None, root: str | None) -> _ImageSource:
    return _ImageSource(table, root)


class _ImageSource:
    """Bytes of an image segment: inline, from an (url, bytes) table, or a file beside the
    shard (or under ``root``)."""

    def __init__(self, table: str | Path | None, root: str | Path | None) -> None:
        self.index: dict[str, int] = {}
        self.blobs: pa.ChunkedArray | None = None
        self.root = Path(root) if root else None
        if table is not None:
            t = pq.read_table(table)
            for need in ("url", "bytes"):
                if need not in t.column_names:
                    raise InputError(
                        f"the images table needs columns url and bytes; it has {t.column_names}",
                        path=str(table),
                    )
            self.index = {u: i for i, u in enumerate(t.column("url").to_pylist()) if u}
            self.blobs = t.column("bytes")

    def get(self, seg: dict[str, Any], base: Path | Location | None) -> bytes | str:
        """The bytes, or why there are none."""
        if seg.get("image_bytes"):
            return bytes(seg["image_bytes"])
        for ref in (seg.get("image_url"), seg.get("image_path")):
            if ref and ref in self.index and self.blobs is not None:
                blob = self.blobs[self.index[ref]].as_py()
                if blob:
                    return bytes(blob)
        rel = seg.get("image_path")
        if rel and "://" not in rel:
            roots: tuple[Path | Location | None, ...] = (self.root, base)
            for root in roots:
                if root is None:
                    continue
                p = root / rel
                if p.is_file():
                    return bytes(p.read_bytes())
        ref = seg.get("image_url") or rel
        return f"image not found: {ref!r} (no bytes, not in the images table, no such file)"


def image_keys(
    segs: list[tuple[int, int, dict[str, Any]]],
    cfg: MultimodalConfig,
    source: _ImageSource,
    base: Path | Location | None,
) -> tuple[npt.NDArray[np.uint64], list[str | None]]:
    """A 64-bit key per image segment, or an error message."""
    n = len(segs)
    keys = np.zeros(n, dtype=np.uint64)
    errors: list[str | None] = [None] * n
    if cfg.image_key == "url":
        refs = [s.get("image_url") or s.get("image_path") or "" for _, _, s in segs]
        for i, r in enumerate(refs):
            if not r:
                errors[i] = "image without URL or path"
        if n:
            k, _ = _core.exact_hash(pa.array(refs, pa.string()), normalize=False)
            keys[:] = np.ascontiguousarray(k[:, :8]).view("<u8").ravel()
        return keys, errors
    blobs: list[bytes] = []
    for i, (_, _, s) in enumerate(segs):
        got = source.get(s, base)
        if isinstance(got, str):
            errors[i] = got
            blobs.append(b"")
        else:
            blobs.append(got)
    if cfg.image_key == "bytes":
        for i, b in enumerate(blobs):
            if errors[i] is None:
                keys[i] = int.from_bytes(hashlib.blake2b(b, digest_size=8).digest(), "little")
        return keys, errors
    from ...image import image_hash

    t = image_hash(pa.array(blobs, pa.binary()), method="phash")
    hashes, msgs = t.column("hash").to_pylist(), t.column("error").to_pylist()
    for i in range(n):
        if errors[i] is None:
            if msgs[i] is not None:
                errors[i] = msgs[i]
            else:
                keys[i] = hashes[i]
    return keys, errors


def _docs_of(i: int, local: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    return (np.uint64(i) << np.uint64(32)) | local.astype(np.uint64)


def stage_image_parts(work: WorkDir, m: Manifest, i: int) -> None:
    """Image keys of shard ``i`` (one per document and distinct key) into partitions."""
    unit = f"imageparts-{i:06d}"
    if work.done(unit):
        return
    tag = f"{i:06d}"
    z = dict(np.load(work.local(f"images/{tag}.npz")))
    sel = z["ok"] & ~z["repeated"]
    rows = np.empty(int(sel.sum()), dtype=_IMG)
    rows["key"], rows["doc"] = z["key"][sel], _docs_of(i, z["doc"][sel])
    rows = np.unique(rows)
    partition_rows("imageparts", rows["key"], rows, m, work, tag)
    work.mark(unit)


def stage_frequent(work: WorkDir, m: Manifest) -> None:
    """The image keys found in more than ``image_frequency`` documents."""
    if work.done("frequent"):
        return
    cfg = manifest_config(m)
    frequent: list[npt.NDArray[np.uint64]] = []
    per_key: list[npt.NDArray[Any]] = []
    for p in range(m.partitions):
        where = f"imageparts/{p:05d}"
        files = [work.local(f"{where}/{name}") for name in work.list(where, ".npy")]
        rows = np.concatenate([np.load(f) for f in files]) if files else np.empty(0, _IMG)
        keys, counts = np.unique(rows["key"], return_counts=True)
        if cfg.image_distance:
            both = np.empty(len(keys), [("key", "<u8"), ("count", "<i8")])
            both["key"], both["count"] = keys, counts
            per_key.append(both)
        else:
            frequent.append(keys[counts > cfg.image_frequency])
    if cfg.image_distance:
        # Within distance k: each distinct hash weighs as many documents as hold it.
        allk = (
            np.concatenate(per_key) if per_key else np.empty(0, [("key", "<u8"), ("count", "<i8")])
        )
        occurrences = np.repeat(allk["key"], allk["count"]).astype(np.uint64)
        near = _core.hamming_counts(
            occurrences, np.zeros(len(occurrences), np.bool_), k=cfg.image_distance
        )
        frequent = [np.unique(occurrences[near > cfg.image_frequency])]
    out = np.unique(np.concatenate(frequent)) if frequent else np.zeros(0, np.uint64)
    work.save("frequent.npy", out.astype(np.uint64))
    work.mark("frequent")


def surviving_images(
    work: WorkDir, m: Manifest, i: int
) -> tuple[Any, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The shard's image arrays, which are frequent, and which survive rules 1 and 2."""
    cfg = manifest_config(m)
    z = dict(np.load(work.local(f"images/{i:06d}.npz")))
    frequent = np.zeros(len(z["key"]), dtype=np.bool_)
    if cfg.image_frequency:
        frequent = z["ok"] & np.isin(z["key"], work.load("frequent.npy"))
    alive = ~(z["ok"] & (z["repeated"] | frequent))
    return z, frequent, alive
