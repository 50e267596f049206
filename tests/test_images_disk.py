"""``mmdedup images`` under a small ``--memory``: the search over on-disk partitions, components
over edge files and counts streamed from them give the in-memory stage's output, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mmdedup.io import write_table
from mmdedup.runs.images import disk as images_disk
from mmdedup.runs.images.clusters import cluster_images as _clusters
from mmdedup.runs.images.disk import in_memory_bytes
from mmdedup.runs.images.plan import Plan as _Plan
from mmdedup.runs.workdir import WorkDir
from mmdedup.storage import Location
from test_hamming_disk import planted


def _units(work: WorkDir, rng: np.random.Generator, rows: int, size: int) -> list[str]:
    """Hash files as the hash stage writes them, of planted hashes (near and exact copies),
    some rows failed (null hash, an error), widths and heights with ties."""
    values = planted(rng, rows)
    failed = rng.random(len(values)) < 0.03
    width = rng.integers(1, 4, size=len(values)) * 100
    height = rng.integers(1, 3, size=len(values)) * 100
    width[failed] = height[failed] = 0
    units = []
    for u, a in enumerate(range(0, len(values), size)):
        b = min(a + size, len(values))
        name = f"hash-files-{u:06d}"
        table = pa.table(
            {
                "shard": pa.array([f"s{i}" for i in range(a, b)], pa.string()),
                "row": pa.array([None] * (b - a), pa.int64()),
                "key": pa.array([f"k{i}.jpg" for i in range(a, b)], pa.string()),
                "phash": pa.array(values[a:b], pa.uint64(), mask=failed[a:b]),
                "width": pa.array(width[a:b], pa.uint32()),
                "height": pa.array(height[a:b], pa.uint32()),
                "error": pa.array(
                    ["cannot decode image" if f else None for f in failed[a:b]], pa.string()
                ),
            }
        )
        write_table(table, work.path(f"hashes/{name}.parquet"))
        units.append(name)
    return units


def _plan(keep: str, k: int) -> _Plan:
    return _Plan(
        parameters={
            "method": "phash",
            "hash_size": 8,
            "mode": "canonical",
            "max_distance": k,
            "keep": keep,
            "column": None,
            "pixel_limit": 1,
        }
    )


@pytest.mark.parametrize(("keep", "k"), [("largest", 8), ("first", 8), ("largest", 3)])
def test_on_disk_clusters_equal_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: str, k: int
) -> None:
    # Several output row groups, each written by the on-disk stage on its own.
    monkeypatch.setattr(images_disk, "ROW_GROUP", 700)
    rng = np.random.default_rng(k)
    work = WorkDir(tmp_path / "work")
    units = _units(work, rng, 2000, 333)
    plan = _plan(keep, k)
    _clusters(work, plan, units, Location(tmp_path / "memory.parquet"), 2**30)
    want = json.loads(work.path("counts.json").read_text())
    paths = [work.root / "hashes" / f"{u}.parquet" for u in units]
    assert in_memory_bytes(paths) < 2**30
    for budget, components in (
        (12_000, "distributed"),
        (50_000, "distributed"),
        (300_000, "local"),
    ):
        work.path("done/clusters").unlink()
        target = tmp_path / f"disk-{budget}.parquet"
        _clusters(work, plan, units, Location(target), budget)
        got = json.loads(work.path("counts.json").read_text())
        assert got.pop("search")["components"] == components
        assert got == want
        assert target.read_bytes() == (tmp_path / "memory.parquet").read_bytes()
        # The next budget searches again.
        work.path("done/search").unlink()
    assert pq.ParquetFile(tmp_path / "memory.parquet").num_row_groups > 1
    out = pq.read_table(tmp_path / "memory.parquet")
    assert want["removed"] > 100 and want["errors"] > 10
    assert max(out["count"].to_pylist()) > 2


def test_search_files_stay_until_the_clusters_are_written(tmp_path: Path) -> None:
    work = WorkDir(tmp_path / "work")
    units = _units(work, np.random.default_rng(0), 300, 100)
    _clusters(work, _plan("largest", 8), units, Location(tmp_path / "a.parquet"), 10_000)
    assert (work.root / "search" / "plan.json").exists()
    assert work.done("search") and work.done("clusters")
    info = json.loads(work.path("counts.json").read_text())["search"]
    assert info["partitions"] > 1 and info["near_edges"] > 0
