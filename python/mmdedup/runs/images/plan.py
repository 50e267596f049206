"""The plan of an images run (``manifest.json``): parameters and the listing of every input."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

BATCH = 2048


# 2: the per-image hashes name their shard `shard` (was `source`); 3: a Parquet file's units
# are batches of each row group (`hash-parquet-<file>-<group>-<batch>`), not of the file.
_VERSION = 3


WORK_DIR_NAME = ".mmdedup-work"


@dataclass
class Plan:
    """What a run hashes and how; saved as ``manifest.json`` and compared on ``--resume``."""

    parameters: dict[str, Any]
    files: list[list[Any]] = field(default_factory=list)  # [path, size]
    parquets: list[list[Any]] = field(default_factory=list)
    tars: list[list[Any]] = field(default_factory=list)
    batch: int = BATCH
    version: int = _VERSION

    @staticmethod
    def listing(files: list[tuple[str, int]]) -> list[list[Any]]:
        """``[path or URL, size]`` of each input file."""
        return [[path, size] for path, size in files]

    def differences(self, old: dict[str, Any]) -> list[str]:
        """What differs from an earlier run's manifest, in words (empty: the same work)."""
        new = asdict(self)
        out = []
        was_params, now_params = old.get("parameters", {}), new["parameters"]
        for k in sorted(set(was_params) | set(now_params)):
            if was_params.get(k) != now_params.get(k):
                out.append(f"{k} was {was_params.get(k)!r}, now {now_params.get(k)!r}")
        for kind, what in (
            ("files", "image files"),
            ("parquets", "Parquet files"),
            ("tars", "tar shards"),
        ):
            was = {p: size for p, size in old.get(kind, [])}
            now = {p: size for p, size in new[kind]}
            if was != now:
                changed = sum(1 for p in now.keys() & was.keys() if now[p] != was[p])
                out.append(
                    f"{what}: {len(now.keys() - was.keys())} new, "
                    f"{len(was.keys() - now.keys())} gone, {changed} of another size"
                )
        for k in ("batch", "version"):
            if old.get(k) != new[k]:
                out.append(f"{k} was {old.get(k)!r}, now {new[k]!r}")
        return out
