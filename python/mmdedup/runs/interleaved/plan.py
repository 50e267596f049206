"""The plan of an interleaved run (``manifest-interleaved.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ...dedup import DedupConfig
from ...errors import InputError
from ...io import Shard, discover
from ...runs.budget import partitions as budget_partitions
from ..workdir import WorkDir
from .config import MultimodalConfig

# 2: MinHash signatures of the native scheme's second definition (see pipeline._VERSION).
# 3: each shard's scan record counts its images and paragraphs (the summary reads no more).
_VERSION = 3


DOC_STATUS = ("unique", "kept", "near_duplicate", "identical_images", "empty", "error")


@dataclass
class Manifest:
    config: dict[str, Any]
    shards: list[dict[str, Any]]
    images: str | None
    image_root: str | None
    partitions: int
    on_error: str = "record"
    version: int = _VERSION
    memory: int = 4 * 2**30


def make_manifest(
    inputs: list[str],
    cfg: MultimodalConfig,
    images: str | None,
    image_root: str | None,
    memory: int,
    on_error: str,
) -> Manifest:
    shards = discover(inputs)
    listed, size = [], 0
    for s in shards:
        listed.append(
            {"path": str(s.path), "name": s.name, "format": s.format, "gzipped": s.gzipped}
        )
        try:
            size += s.path.size()
        except OSError as e:
            raise InputError(f"cannot read: {e}", path=str(s.path)) from e
    # A paragraph or image row is 32 bytes on disk for at least ~8 bytes of input; a partition
    # with its sorted copy should take at most half the budget.
    partitions = budget_partitions(size * 8, memory, most=max(size // 1024, 1))
    return Manifest(
        cfg.to_dict(), listed, images, image_root, int(partitions), on_error, memory=memory
    )


def manifest_config(m: Manifest) -> MultimodalConfig:
    d = dict(m.config)
    text = {k: v for k, v in d.pop("text").items()}
    return MultimodalConfig(text=DedupConfig(**text), **d)


def manifest_shard(m: Manifest, i: int) -> Shard:
    from ...storage import Location

    s = m.shards[i]
    return Shard(Location(s["path"]), s["name"], s["format"], s["gzipped"])


def partition_rows(
    kind: str,
    keys: npt.NDArray[np.uint64],
    rows: npt.NDArray[Any],
    m: Manifest,
    work: WorkDir,
    tag: str,
) -> None:
    part = (keys % np.uint64(m.partitions)).astype(np.int64)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(m.partitions + 1))
    for p in range(m.partitions):
        work.save(f"{kind}/{p:05d}/{tag}.npy", rows[order[bounds[p] : bounds[p + 1]]])


def row_counts(work: WorkDir, m: Manifest) -> list[int]:
    return [
        json.loads(work.local(f"scan/{i:06d}.json").read_text())["rows"]
        for i in range(len(m.shards))
    ]
