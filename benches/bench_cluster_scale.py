"""The clustering half of ``mmdedup dedup`` at a size no single-machine anchor reaches.

Candidates (LSH band buckets) and connected components for N documents under a memory budget,
fed by a generator of band keys with planted near-duplicates, timed stage by stage, with the
peak resident memory of the process that runs them:

    python benches/bench_cluster_scale.py gen /tmp/cs200m --docs 200000000
    python benches/bench_cluster_scale.py run /tmp/cs200m --memory 4GB
    python benches/bench_cluster_scale.py check /tmp/cs200m

``gen`` writes a work directory of the text run as its signatures stage leaves it: the (key,
doc) rows of every shard in the partitions that ``--memory`` gives (``make_plan``'s rule, the
same ``PartitionRows`` files), the empty flags and a manifest. Band keys are what the
signatures stage hashes a document's bands into; here each document's keys are random, except
that a ``--planted`` share of documents are near-copies of an original of the same or the
previous shard, at a Jaccard similarity J drawn uniformly from ``--min-j`` to 1: each band of a
copy equals its original's with probability J^r, independently, which is what MinHash band keys
do. Several copies may share an original, so clusters of more than two form. The planted pairs
and their J go to ``planted.npy``.

``run`` runs, in this process, the ``candidates`` stage over every partition (bucket pairs of
each band key; verification off: it reads signatures or shingle sets, which this generator does
not write) and the ``clusters`` stage (union-find on one node when it fits the budget, else
large-star/small-star rounds), as ``mmdedup dedup --memory M`` does on the local engine. It
prints and saves (``bench.json``) the seconds per stage, the partitions and rounds, and the
peak RSS (``VmHWM``) after each stage.

``check`` compares the result with what was planted: every planted pair must share a cluster
with the probability ``1 - (1 - J^r)^b`` (the found share against that prediction's mean), and
no cluster may join documents of two different planted families (false merges: random 64-bit
keys almost never collide).

Disk: 12 bytes per (key, doc) row, ``b`` rows per document (18 × 5 bands at t = 0.8: 43 GB for
200M documents), plus the edges and the components' files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np


def vm_hwm() -> int:
    """The process's peak resident set size in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def gen(args: argparse.Namespace) -> None:
    from mmdedup.dedup import DedupConfig
    from mmdedup.runs.budget import parse_size
    from mmdedup.runs.budget import partitions as budget_partitions
    from mmdedup.runs.lsh_partitions import PartitionRows, add_key_rows
    from mmdedup.runs.workdir import WorkDir

    # The default's bands (chosen for recall at the threshold), without the verification.
    bands, rows = DedupConfig(threshold=args.threshold).band_geometry()
    cfg = DedupConfig(threshold=args.threshold, verify="none", bands=bands, rows=rows)
    n, per = args.docs, args.shard
    memory = parse_size(args.memory)
    parts = budget_partitions(n * bands * 64, memory, most=n)  # make_plan's rule
    work = args.dir
    if work.exists():
        shutil.rmtree(work)
    (work / "empty").mkdir(parents=True)
    wd = WorkDir(work)
    rng = np.random.default_rng(args.seed)
    shards, planted = [], []
    prev_keys = np.zeros((0, bands), np.uint64)
    prev_orig = np.zeros(0, np.int64)
    t0 = time.perf_counter()
    for i, off in enumerate(range(0, n, per)):
        m = min(per, n - off)
        keys = rng.integers(0, 2**64, size=(m, bands), dtype=np.uint64)
        copy = rng.random(m) < args.planted
        if i == 0:
            copy[0] = False
        orig = np.flatnonzero(~copy)
        # Originals this shard's copies may come from: the previous shard's and this one's.
        pool_keys = np.concatenate([prev_keys, keys[orig]])
        pool_ids = np.concatenate([prev_orig, off + orig])
        c = np.flatnonzero(copy)
        src = rng.integers(0, len(pool_ids), size=len(c))
        j = rng.uniform(args.min_j, 1.0, size=len(c))
        agree = rng.random((len(c), bands)) < (j**rows)[:, None]
        keys[c] = np.where(agree, pool_keys[src], keys[c])
        planted.append(
            np.stack([pool_ids[src], off + c, (j * 1e6).astype(np.int64)], axis=1).astype(np.int64)
        )
        tag = f"{i:06d}"
        out = PartitionRows(wd, parts, tag)
        add_key_rows(out, parts, keys, np.zeros(m, dtype=np.bool_), off)
        out.close()
        np.save(work / "empty" / f"{tag}.npy", np.zeros(m, dtype=np.bool_))
        shards.append(
            {
                "path": f"gen-{tag}",
                "name": tag,
                "format": "parquet",
                "gzipped": False,
                "rows": m,
                "offset": off,
            }
        )
        prev_keys, prev_orig = keys[orig], off + orig
        if i % 10 == 0:
            print(f"shard {i}: {off + m:,} documents, {time.perf_counter() - t0:.0f} s", flush=True)
    np.save(work / "planted.npy", np.concatenate(planted))
    manifest = {
        "config": cfg.to_dict(),
        "column": "text",
        "id_column": None,
        "keep": "first",
        "on_error": "raise",
        "shards": shards,
        "rows": n,
        "partitions": parts,
        "memory": memory,
    }
    (work / "manifest.json").write_text(json.dumps(manifest))
    size = sum(f.stat().st_size for f in (work / "partitions").rglob("*.rows"))
    print(
        f"{n:,} documents, {bands} x {rows} bands, {parts} partitions, "
        f"{size / 2**30:.1f} GiB of rows, {time.perf_counter() - t0:.0f} s"
    )


def run(args: argparse.Namespace) -> None:
    from mmdedup.dedup import DedupConfig
    from mmdedup.runs.budget import parse_size
    from mmdedup.runs.lsh_partitions import stage_candidates
    from mmdedup.runs.text.clusters import components_plan, stage_clusters, stage_components
    from mmdedup.runs.text.plan import Plan
    from mmdedup.runs.workdir import WorkDir

    work = args.dir
    manifest = json.loads((work / "manifest.json").read_text())
    if args.memory:
        manifest["memory"] = parse_size(args.memory)
    manifest["components"] = args.components
    plan = Plan(**manifest)
    cfg = DedupConfig(**plan.config)
    for stale in ("edges", "components", "done", "labels.npy", "keep.npy", "status.npy"):
        p = work / stale
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    wd = WorkDir(work)
    rec: dict[str, Any] = {
        "documents": plan.rows,
        "memory": plan.memory,
        "partitions": plan.partitions,
        "threads": os.cpu_count(),
        "date": time.strftime("%F %T"),
        "load_before": round(os.getloadavg()[0], 2),
    }
    t = time.perf_counter()
    for p in range(plan.partitions):
        stage_candidates(wd, cfg, plan.memory, p)
        if p % 10 == 0:
            print(f"candidates {p}/{plan.partitions}: {time.perf_counter() - t:.0f} s", flush=True)
    rec["candidates_s"] = round(time.perf_counter() - t, 1)
    rec["candidates_rss"] = vm_hwm()
    rec["edges"] = int(
        sum(np.load(f, mmap_mode="r").shape[0] for f in (work / "edges").glob("*.npy"))
    )
    t = time.perf_counter()
    kind, parts = components_plan(wd, plan)
    if kind == "local":
        stage_clusters(wd, plan)
    else:
        stage_components(wd, plan, parts, lambda _, fn, k: [fn(u) for u in range(k)])
    rec["clusters_s"] = round(time.perf_counter() - t, 1)
    rec["peak_rss"] = vm_hwm()
    counts = json.loads((work / "counts.json").read_text())
    rec.update(components=counts["components"], clusters=counts["clusters"], mode=kind)
    (work / "bench.json").write_text(json.dumps(rec, indent=1))
    print(json.dumps(rec))


def check(args: argparse.Namespace) -> None:
    from mmdedup import _core
    from mmdedup.dedup import DedupConfig

    work = args.dir
    manifest = json.loads((work / "manifest.json").read_text())
    bands, rows = DedupConfig(**manifest["config"]).band_geometry()
    planted = np.load(work / "planted.npy")
    labels = np.load(work / "labels.npy", mmap_mode="r")
    j = planted[:, 2] / 1e6
    found = labels[planted[:, 0]] == labels[planted[:, 1]]
    predicted = 1 - (1 - j**rows) ** bands
    # The planted families: components of the planted pairs alone.
    truth = _core.components(
        int(manifest["rows"]), np.ascontiguousarray(planted[:, :2], dtype=np.uint32)
    )
    clustered = np.flatnonzero(np.asarray(labels) >= 0)
    fam = truth[clustered]
    lab = np.asarray(labels)[clustered]
    # A false merge: a found cluster holding members of more than one planted family.
    order = np.lexsort((fam, lab))
    lab, fam = lab[order], fam[order]
    first = np.r_[True, lab[1:] != lab[:-1]]
    starts = np.flatnonzero(first)
    fams_per_cluster = np.add.reduceat(np.r_[True, (fam[1:] != fam[:-1]) & ~first[1:]], starts)
    if args.exact:
        out_exact = _exact_components(work, int(manifest["rows"]))
        lab = np.asarray(labels)
        ref = out_exact
        pairs = np.unique(np.stack([lab, ref], axis=1), axis=0)
        same = len(pairs) == len(np.unique(lab)) == len(np.unique(ref))
        print(f"same clusters as union-find over every shared band key: {same}")
        if not same:
            raise SystemExit("the clusters differ from the reference")
    out = {
        "planted_pairs": len(planted),
        "found": round(float(found.mean()), 5),
        "predicted_direct": round(float(predicted.mean()), 5),
        "clusters": len(starts),
        "false_merge_clusters": int((fams_per_cluster > 1).sum()),
    }
    print(json.dumps(out))
    rec = json.loads((work / "bench.json").read_text())
    rec.update(check=out)
    (work / "bench.json").write_text(json.dumps(rec, indent=1))


def _exact_components(work: Path, n: int) -> np.ndarray[Any, Any]:
    """The reference: every (key, doc) row read at once, documents sharing a key chained,
    union-find over all documents (small runs only: the rows must fit in memory)."""
    from mmdedup import _core

    row = np.dtype([("key", "<u8"), ("doc", "<u4")])
    rows = np.concatenate(
        [np.fromfile(f, dtype=row) for f in (work / "partitions").rglob("*.rows")]
    )
    rows.sort(order=["key", "doc"])
    same = rows["key"][1:] == rows["key"][:-1]
    edges = np.stack([rows["doc"][:-1][same], rows["doc"][1:][same]], axis=1)
    labels: np.ndarray[Any, Any] = _core.components(n, np.ascontiguousarray(edges, np.uint32))
    return labels  # -1 for a document in no pair, as in a run's labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen", help="write the band keys of a generated corpus")
    g.add_argument("dir", type=Path)
    g.add_argument("--docs", type=int, default=200_000_000)
    g.add_argument("--shard", type=int, default=1_000_000, help="documents per shard")
    g.add_argument("--planted", type=float, default=0.1, help="share of near-copies")
    g.add_argument("--min-j", type=float, default=0.75, help="lowest Jaccard of a copy")
    g.add_argument("--threshold", type=float, default=0.8, help="sets the bands, as in dedup")
    g.add_argument("--memory", default="4GB", help="sets the partitions, as in dedup")
    g.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run", help="candidates and clusters stages, timed")
    r.add_argument("dir", type=Path)
    r.add_argument("--memory", default=None, help="the budget (default: gen's)")
    r.add_argument("--components", default="auto", choices=["auto", "local", "distributed"])
    c = sub.add_parser("check", help="the result against what was planted")
    c.add_argument("dir", type=Path)
    c.add_argument(
        "--exact", action="store_true", help="also against union-find over all rows (small N)"
    )
    args = ap.parse_args()
    {"gen": gen, "run": run, "check": check}[args.cmd](args)


if __name__ == "__main__":
    main()
