"""Connected components: union-find on one node against large-star/small-star rounds.

Runs the ``clusters`` stage of ``mmdedup dedup`` alone, both ways, on the edges of a finished
run or on a generated graph, each in its own process under ``/usr/bin/time -v`` (wall time,
maximum resident set size), and checks that both give the same labels, kept members and
statuses:

    python benches/bench_components.py /tmp/scale/m10m --memory 64MB          # a run's edges
    python benches/bench_components.py chain:1000000 --memory 64MB            # one long chain
    python benches/bench_components.py random:2000000:1500000 --memory 64MB   # G(n, m)

A finished run is its OUTDIR (or work directory): its edge files and empty flags are linked
into a scratch work directory, nothing of it is changed. ``local`` is ``--components local``
(concatenate and deduplicate the edges, union-find, kept members, statuses); ``distributed``
is ``--components distributed`` with the partitions that ``--memory`` gives, every unit in
one process one after another (the local engine). Each mode runs ``--repeats`` times in
turns; the table shows medians. Before each timed run the script waits until no ``rustc`` or
``cargo`` runs, and holds ``/tmp/mmdedup-bench.lock``. Records go to ``--results`` (JSON
Lines).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LOCK = "/tmp/mmdedup-bench.lock"


def wait_quiet() -> None:
    while any(
        subprocess.run(["pgrep", "-x", name], capture_output=True, check=False).returncode == 0
        for name in ("rustc", "cargo")
    ):
        time.sleep(20)


def make_graph(spec: str, work: Path) -> None:
    """A scratch work directory for a generated graph: one shard of n documents, one edge
    file."""
    import numpy as np

    kind, *nums = spec.split(":")
    rng = np.random.default_rng(0)
    if kind == "chain":
        n = int(nums[0])
        perm = rng.permutation(n).astype(np.uint32)
        edges = np.stack([perm[:-1], perm[1:]], axis=1)
    elif kind == "random":
        n, m = int(nums[0]), int(nums[1])
        edges = rng.integers(0, n, size=(m, 2), dtype=np.uint32)
        edges = edges[edges[:, 0] != edges[:, 1]]
    else:
        raise SystemExit(f"unknown graph {spec!r}: chain:N or random:N:M")
    edges = np.sort(edges, axis=1)  # pairs come (smaller, larger) out of the candidate stage
    for d in ("edges", "empty", "done"):
        (work / d).mkdir(parents=True, exist_ok=True)
    np.save(work / "edges" / "00000.npy", np.ascontiguousarray(edges))
    (work / "edges" / "00000.json").write_text(json.dumps({"candidates": len(edges)}))
    np.save(work / "empty" / "000000.npy", np.zeros(n, dtype=np.bool_))
    shard = {"path": spec, "name": spec, "format": "parquet", "gzipped": False, "rows": n}
    manifest = {
        "config": {"method": "minhash", "threshold": 0.8, "verify": "signature"},
        "column": "text",
        "id_column": None,
        "keep": "first",
        "on_error": "raise",
        "shards": [{**shard, "offset": 0}],
        "rows": n,
        "partitions": 1,
    }
    (work / "manifest.json").write_text(json.dumps(manifest))


def link_run(run: Path, work: Path) -> None:
    """A scratch work directory with the edges and empty flags of a finished run."""
    src = run / ".mmdedup-work" if (run / ".mmdedup-work").exists() else run
    for d in ("edges", "empty"):
        (work / d).mkdir(parents=True, exist_ok=True)
        for f in sorted((src / d).iterdir()):
            (work / d / f.name).symlink_to(f)
    (work / "done").mkdir(exist_ok=True)
    shutil.copy(src / "manifest.json", work / "manifest.json")


def one(mode: str, work: Path, memory: str) -> dict[str, Any]:
    """The clusters stage in this process; what it did."""
    from mmdedup.dedup import DedupConfig
    from mmdedup.runs import text as pipeline
    from mmdedup.runs.budget import parse_size

    manifest = json.loads((work / "manifest.json").read_text())
    config = {**DedupConfig().to_dict(), **manifest["config"]}
    manifest["config"] = {k: v for k, v in config.items() if k in DedupConfig.__dataclass_fields__}
    plan = pipeline.Plan(**manifest)
    plan.memory, plan.components = parse_size(memory), mode
    for stale in ("components", "done", "labels.npy", "keep.npy", "status.npy", "counts.json"):
        p = work / stale
        if p.is_dir():
            shutil.rmtree(p)
        p.unlink(missing_ok=True)
    wd = pipeline.WorkDir(work)
    t = time.perf_counter()
    kind, parts = pipeline.components_plan(wd, plan)
    if kind == "local":
        pipeline.stage_clusters(wd, plan)
    else:
        pipeline.stage_components(wd, plan, parts, lambda _, fn, n: [fn(u) for u in range(n)])
    seconds = time.perf_counter() - t
    counts = json.loads((work / "counts.json").read_text())
    digest = hashlib.sha1()
    for name in ("labels.npy", "keep.npy", "status.npy"):
        digest.update((work / name).read_bytes())
    return {
        "mode": kind,
        "seconds": round(seconds, 2),
        "components": counts["components"],
        "clusters": counts["clusters"],
        "edges": counts["pairs"]["accepted_pairs"],
        "sha1": digest.hexdigest(),
    }


def timed(mode: str, work: Path, memory: str) -> dict[str, Any]:
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--one", mode, str(work), memory]
    wait_quiet()
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        load = os.getloadavg()[0]
        t = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    rec: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    rec.update(wall=round(wall, 2), rss_mib=int(rss.group(1)) // 1024 if rss else None)
    rec["load_before"] = round(load, 2)
    return rec


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2], Path(sys.argv[3]), sys.argv[4])))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="a finished run's OUTDIR or work dir, chain:N, random:N:M")
    ap.add_argument("--memory", default="64MB", help="budget for the distributed partitions")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/mmdedup-bench-components"))
    ap.add_argument("--results", type=Path, default=Path("/tmp/mmdedup-bench-components.jsonl"))
    args = ap.parse_args()
    work = args.scratch / re.sub(r"[^A-Za-z0-9._-]", "_", args.source.strip("/"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if Path(args.source).exists():
        link_run(Path(args.source), work)
    else:
        make_graph(args.source, work)
    runs: dict[str, list[dict[str, Any]]] = {"local": [], "distributed": []}
    for _ in range(args.repeats):
        for mode in runs:
            rec = timed(mode, work, args.memory)
            rec.update(source=args.source, memory=args.memory, date=time.strftime("%F %T"))
            runs[mode].append(rec)
            with args.results.open("a") as f:
                f.write(json.dumps(rec) + "\n")
            print(json.dumps(rec), flush=True)
    sha = {r["sha1"] for rs in runs.values() for r in rs}
    print(f"\nsource {args.source}, --memory {args.memory}, {args.repeats} runs each, medians")
    print("| mode | partitions | rounds | stage s | process wall s | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for mode, rs in runs.items():
        c = rs[0]["components"]
        print(
            f"| {mode} | {c.get('partitions', 1)} | {c.get('rounds', '-')} "
            f"| {statistics.median(r['seconds'] for r in rs):.1f} "
            f"| {statistics.median(r['wall'] for r in rs):.1f} "
            f"| {statistics.median(r['rss_mib'] for r in rs):.0f} |"
        )
    e = runs["local"][0]
    print(f"\n{e['edges']:,} edges, {e['clusters']:,} clusters; same output: {len(sha) == 1}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
