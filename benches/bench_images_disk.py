"""The clusters stage of ``mmdedup images`` beyond memory: in memory vs over on-disk partitions,
on the same hash files.

``prepare`` writes N synthetic rows as the hash stage writes them (``hashes/<unit>.parquet``,
``--batch`` rows each: source, row, key, phash, width, height, error), the hashes from
``bench_hamming.make_hashes`` (planted near-duplicate clusters and exact copies) with 0.1% of
rows failed (null hash, an error). ``run`` times ``runs.images.clusters.cluster_images``, the function
``mmdedup images`` calls once the images are hashed, under ``--memory`` (the on-disk path when
the in-memory stage's estimate exceeds it) and prints the wall time, peak RSS and what ran;
run each mode in its own process (under ``/usr/bin/time -v`` for its peak RSS).
``compare`` checks that two outputs are byte-identical.

    .venv/bin/python benches/bench_images_disk.py prepare --dir /tmp/imgdisk --n 3000000
    /usr/bin/time -v .venv/bin/python benches/bench_images_disk.py run --dir /tmp/imgdisk \\
        --memory 64MB --out disk.parquet
    /usr/bin/time -v .venv/bin/python benches/bench_images_disk.py run --dir /tmp/imgdisk \\
        --memory 64GB --out memory.parquet
    .venv/bin/python benches/bench_images_disk.py compare --dir /tmp/imgdisk disk.parquet \\
        memory.parquet
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from mmdedup.io import write_table
from mmdedup.runs.images.clusters import cluster_images as _clusters
from mmdedup.runs.images.plan import Plan as _Plan
from mmdedup.runs.text import WorkDir, parse_size

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_hamming import make_hashes


def prepare(root: Path, n: int, batch: int, seed: int) -> list[str]:
    values, _ = make_hashes(n, n // 20, n // 1000, seed)
    rng = np.random.default_rng(seed + 1)
    failed = rng.random(n) < 0.001
    width = rng.integers(1, 17, size=n).astype(np.uint32) * 120
    height = rng.integers(1, 17, size=n).astype(np.uint32) * 90
    width[failed] = height[failed] = 0
    work = WorkDir(root / "work")
    units = []
    for u, a in enumerate(range(0, n, batch)):
        b = min(a + batch, n)
        name = f"hash-files-{u:06d}"
        table = pa.table(
            {
                "shard": pa.array([f"/data/images/{i:09d}.jpg" for i in range(a, b)]),
                "row": pa.array([None] * (b - a), pa.int64()),
                "key": pa.array([f"/data/images/{i:09d}.jpg" for i in range(a, b)]),
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
    (root / "units.json").write_text(json.dumps(units))
    return units


def run(root: Path, memory: int, k: int, keep: str, out: str) -> dict[str, object]:
    work = WorkDir(root / "work")
    units: list[str] = json.loads((root / "units.json").read_text())
    for mark in (work.root / "done").glob("*"):
        mark.unlink()
    shutil.rmtree(work.root / "search", ignore_errors=True)
    plan = _Plan(
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
    t0 = time.perf_counter()
    _clusters(work, plan, units, root / out, memory)
    wall = time.perf_counter() - t0
    counts = json.loads(work.path("counts.json").read_text())
    shutil.rmtree(work.root / "search", ignore_errors=True)
    return {
        "rows": counts["images"],
        "memory": memory,
        "seconds": round(wall, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "counts": counts,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--n", type=int, default=3_000_000)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run")
    r.add_argument("--dir", type=Path, required=True)
    r.add_argument("--memory", default="64MB")
    r.add_argument("--k", type=int, default=8)
    r.add_argument("--keep", choices=["largest", "first"], default="largest")
    r.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--dir", type=Path, required=True)
    c.add_argument("files", nargs=2)
    args = ap.parse_args()
    if args.cmd == "prepare":
        t0 = time.perf_counter()
        units = prepare(args.dir, args.n, args.batch, args.seed)
        print(f"{args.n:,} rows in {len(units):,} hash files, {time.perf_counter() - t0:.1f} s")
    elif args.cmd == "run":
        print(json.dumps(run(args.dir, parse_size(args.memory), args.k, args.keep, args.out)))
    else:
        a, b = ((args.dir / f).read_bytes() for f in args.files)
        print("identical" if a == b else "DIFFERENT", len(a), "bytes")
        sys.exit(0 if a == b else 1)


if __name__ == "__main__":
    main()
