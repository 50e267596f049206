"""End-to-end scaling of the text dedup run from 1 to 2 threads, stage by stage.

Runs ``mmdedup.runs.dedup_files`` (what ``mmdedup dedup`` runs) on the same shards with
``threads=1`` and ``threads=2`` in alternating rounds, so that drifting load on a shared machine
hits both alike, and prints the median seconds of each stage (from ``summary.json``) with the
2-thread / 1-thread speed-up, next to the cost of reading the same shards' text column with
PyArrow alone. Before each round it waits (up to 2 minutes) for the machine to be quiet.

    python benches/bench_text_threads.py                       # the sdists corpus, 4 copies
    python benches/bench_text_threads.py --copies 1 --rounds 3 # quicker
    python benches/bench_text_threads.py --input shards/       # any text shards

The corpus is ``~/.cache/mmdedup-corpora/text/sdists.parquet`` (``../shared/corpora/fetch.sh``)
written as ``--copies`` shards of it, each with its rows shuffled differently, so that the run
has cross-shard duplicates and more than one shard to read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from mmdedup.dedup import DedupConfig
from mmdedup.runs import dedup_files

CORPUS = Path.home() / ".cache" / "mmdedup-corpora" / "text" / "sdists.parquet"


def _quiet(limit: float = 0.15, wait: float = 120.0) -> None:
    """Waits until the 1-minute load is below ``limit`` of the cores (at most ``wait`` s)."""
    end = time.monotonic() + wait
    cores = os.cpu_count() or 1
    while time.monotonic() < end and os.getloadavg()[0] > limit * cores + 1.0:
        time.sleep(5)


def _shards(root: Path, copies: int) -> list[Path]:
    table = pq.read_table(CORPUS, columns=["text"])
    out = []
    rng = np.random.default_rng(1)
    for i in range(copies):
        path = root / f"part-{i:03d}.parquet"
        pq.write_table(table.take(rng.permutation(table.num_rows)), path, row_group_size=1024)
        out.append(path)
    return out


def _read_only(paths: list[str]) -> float:
    t = time.perf_counter()
    for p in paths:
        pq.read_table(p, columns=["text"])
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", nargs="*", help="text shards (default: copies of the corpus)")
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = [str(p) for p in (args.input or _shards(root, args.copies))]
        size = sum(os.path.getsize(p) for p in paths)
        text_bytes = sum(pq.read_table(p, columns=["text"]).column("text").nbytes for p in paths)
        runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
        reads: list[float] = []
        for r in range(args.rounds):
            for threads in (1, 2) if r % 2 == 0 else (2, 1):
                _quiet()
                out = root / f"out-{r}-{threads}"
                t = time.perf_counter()
                s = dedup_files(paths, out, config=DedupConfig(), threads=threads)
                s["seconds"]["wall"] = time.perf_counter() - t
                runs[threads].append(s)
            reads.append(_read_only(paths))
        one, two = runs[1], runs[2]
        stages = [k for k in one[0]["seconds"] if k not in ("total", "wall")]
        print(
            f"{len(paths)} shard(s), {size / 2**20:.1f} MiB on disk, {text_bytes / 2**20:.1f} MiB"
            f" of text, {one[0]['counts']['documents']:,} documents; medians of {args.rounds}"
        )
        print(f"{'stage':<14}{'1 thread s':>12}{'2 threads s':>13}{'speed-up':>10}")
        for k in stages:
            a = statistics.median(x["seconds"][k] for x in one)
            b = statistics.median(x["seconds"][k] for x in two)
            print(f"{k:<14}{a:>12.3f}{b:>13.3f}{(a / b if b else float('nan')):>9.2f}x")
        wall1 = statistics.median(x["seconds"]["wall"] for x in one)
        wall2 = statistics.median(x["seconds"]["wall"] for x in two)
        read = statistics.median(reads)
        print(f"end to end: {wall1 / wall2:.2f}x from 1 to 2 threads")
        mb = text_bytes / 2**20
        print(
            f"MB/s of text per core: {mb / wall1:.1f} (1 thread), {mb / wall2 / 2:.1f} (2 threads);"
            f" PyArrow reading the same column alone: {mb / read:.1f} MB/s"
        )


if __name__ == "__main__":
    main()
