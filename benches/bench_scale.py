"""Scale benchmark: ``mmdedup dedup --memory 4GB`` on 1M and 10M synthetic documents, recall of
planted near-duplicates against what the LSH curve predicts, false merges, and datatrove's
local MinHash pipeline side by side.

Steps (each appends one JSON record to ``RESULTS``, default ``/tmp/scale/results.jsonl``):

    python benches/bench_scale.py gen /tmp/scale/c1m --docs 1000000
    python benches/bench_scale.py mmdedup /tmp/scale/c1m -o /tmp/scale/m1m
    python benches/bench_scale.py datatrove /tmp/scale/c1m -o /tmp/scale/d1m
    python benches/bench_scale.py predict /tmp/scale/c1m
    python benches/bench_scale.py report

``mmdedup`` and ``datatrove`` are timed under ``/usr/bin/time -v`` (wall time, "Maximum resident
set size" = the largest single process) while a sampler also sums the resident memory of the
whole process tree every 0.2 s (datatrove runs worker processes). Before each timed command the
script waits until no compiler or other benchmark runs and holds ``/tmp/mmdedup-bench.lock``.

datatrove runs in its own virtual environment (``--dt-python``, default
``/tmp/venv-dt/bin/python``: ``python3 -m venv /tmp/venv-dt && /tmp/venv-dt/bin/pip install
"datatrove[processing]"``) with its default ``MinhashConfig``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KINDS = ("exact", "edit", "insert", "shuffle")
LOCK = "/tmp/mmdedup-bench.lock"
SHARD = ("--shard-docs", "100000")
QUIET = (
    "while pgrep -x rustc >/dev/null || pgrep -x cargo >/dev/null || "
    "pgrep -f 'bench_(minhash|images|hamming)|eval_(text|images)' >/dev/null; do sleep 20; done"
)


def record(results: Path, rec: dict[str, Any]) -> None:
    rec["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec, indent=1))


# --------------------------------------------------------------------------- timing


def _tree_rss(root: int) -> tuple[int, int]:
    """Resident bytes of ``root`` and all its descendants: all, and anonymous only (resident
    minus shared, i.e. without file-backed pages such as memory-mapped files)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(d))
    total, anon, todo = 0, 0, [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as f:
                fields = f.read().split()
            total += int(fields[1]) * page
            anon += (int(fields[1]) - int(fields[2])) * page
        except OSError:
            pass
    return total, anon


def timed(cmd: list[str], log: Path) -> dict[str, Any]:
    """Runs ``cmd`` under ``/usr/bin/time -v`` once the machine is quiet, holding the lock."""
    subprocess.run(["bash", "-c", QUIET], check=True)
    load_before = os.getloadavg()[0]
    full = ["flock", LOCK, "/usr/bin/time", "-v", *cmd]
    print("$", " ".join(full), flush=True)
    peak = [0, 0]
    with log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                rss, anon = _tree_rss(proc.pid)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], anon)
                stop.wait(0.2)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        rc = proc.wait()
        wall = time.perf_counter() - t0
        stop.set()
        th.join()
    text = log.read_text(errors="replace")
    fields = {}
    for key, pat in {
        "max_rss_kb": r"Maximum resident set size \(kbytes\): (\d+)",
        "user_s": r"User time \(seconds\): ([\d.]+)",
        "sys_s": r"System time \(seconds\): ([\d.]+)",
        "cpu_percent": r"Percent of CPU this job got: (\d+)%",
        "elapsed": r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)",
    }.items():
        m = re.search(pat, text)
        fields[key] = m.group(1) if m else None
    return {
        "cmd": " ".join(cmd),
        "rc": rc,
        "wall_s": round(wall, 1),
        "peak_rss_gb": round(int(fields["max_rss_kb"] or 0) / 2**20, 3),
        "peak_tree_rss_gb": round(peak[0] / 2**30, 3),
        "peak_tree_anon_gb": round(peak[1] / 2**30, 3),
        "user_s": float(fields["user_s"] or 0),
        "sys_s": float(fields["sys_s"] or 0),
        "cpu_percent": fields["cpu_percent"],
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "log_tail": text[-3000:] if rc else "",
    }


# --------------------------------------------------------------------------- steps


def cmd_gen(a: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, str(HERE / "gen_corpus.py"), str(a.corpus), "--docs", str(a.docs), *SHARD],
        check=True,
    )
    size = sum(p.stat().st_size for p in Path(a.corpus).glob("*.parquet"))
    record(
        a.results,
        {
            "step": "gen",
            "corpus": str(a.corpus),
            "docs": a.docs,
            "seconds": round(time.perf_counter() - t0, 1),
            "bytes": size,
        },
    )


def cmd_mmdedup(a: argparse.Namespace) -> None:
    if a.out.exists():
        shutil.rmtree(a.out)
    cmd = [sys.executable, "-m", "mmdedup", "dedup", str(a.corpus), "-o", str(a.out)]
    cmd += ["--memory", a.memory, "--id-column", "id", "-q"]
    rec: dict[str, Any] = {"step": "mmdedup", "corpus": str(a.corpus), "memory": a.memory}
    rec.update(timed(cmd, a.out.parent / f"{a.out.name}.time.log"))
    summary = a.out / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        rec["counts"] = s.get("counts")
        rec["stage_seconds"] = s.get("seconds")
        rec["partitions"] = s.get("partitions")
        rec.update(quality_mmdedup(a.corpus, a.out / "clusters.parquet"))
    record(a.results, rec)


DT_SCRIPT = """
import sys
from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter,
)
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import ParquetWriter
import pyarrow as pa

corpus, out, tasks, workers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cfg = MinhashConfig()
print("MinhashConfig:", cfg, flush=True)


SCHEMA = pa.schema(
    [(k, pa.string()) for k in ("id", "text", "dup_of", "kind")] + [("cluster", pa.int64())]
)


def row(self, doc):
    c = doc.metadata.get("minhash_cluster_id", -1)
    meta = {k: doc.metadata.get(k) for k in ("dup_of", "kind")}
    return {"id": doc.id, "text": doc.text, **meta, "cluster": None if c == -1 else c}


def writer(path):
    return ParquetWriter(path, adapter=row, schema=SCHEMA)


def reader():
    return ParquetReader(corpus, text_key="text", id_key="id", glob_pattern="*.parquet")


if __name__ == "__main__":
    LocalPipelineExecutor(
        pipeline=[reader(), MinhashDedupSignature(output_folder=f"{out}/sigs", config=cfg)],
        tasks=tasks, workers=workers, logging_dir=f"{out}/logs/sigs",
    ).run()
    LocalPipelineExecutor(
        pipeline=[MinhashDedupBuckets(
            input_folder=f"{out}/sigs", output_folder=f"{out}/buckets", config=cfg)],
        tasks=cfg.num_buckets, workers=workers, logging_dir=f"{out}/logs/buckets",
    ).run()
    LocalPipelineExecutor(
        pipeline=[MinhashDedupCluster(
            input_folder=f"{out}/buckets", output_folder=f"{out}/remove_ids", config=cfg,
            save_cluster_id=True)],
        tasks=1, logging_dir=f"{out}/logs/clusters",
    ).run()
    LocalPipelineExecutor(
        pipeline=[
            reader(),
            MinhashDedupFilter(
                input_folder=f"{out}/remove_ids",
                load_cluster_ids=True,
                exclusion_writer=writer(f"{out}/removed"),
            ),
            writer(f"{out}/deduplicated"),
        ],
        tasks=tasks, workers=workers, logging_dir=f"{out}/logs/filter",
    ).run()
"""


def cmd_datatrove(a: argparse.Namespace) -> None:
    if a.out.exists():
        shutil.rmtree(a.out)
    a.out.mkdir(parents=True)
    script = a.out / "dt_minhash.py"
    script.write_text(textwrap.dedent(DT_SCRIPT))
    cmd = [a.dt_python, str(script), str(a.corpus), str(a.out), str(a.tasks), str(a.workers)]
    rec: dict[str, Any] = {"step": "datatrove", "corpus": str(a.corpus)}
    rec.update(timed(cmd, a.out.parent / f"{a.out.name}.time.log"))
    stage_s = {}
    for stage in ("sigs", "buckets", "clusters", "filter"):
        stats = a.out / "logs" / stage / "stats.json"
        if stats.exists():
            data = json.loads(stats.read_text())
            stage_s[stage] = round(
                sum(s.get("time_stats", {}).get("total", 0) for s in data if isinstance(s, dict)),
                1,
            )
    rec["stage_seconds_cpu"] = stage_s
    removed = sorted((a.out / "removed").glob("*.parquet"))
    if rec["rc"] == 0 and removed:
        rec.update(quality_datatrove(a.corpus, a.out))
    record(a.results, rec)


# --------------------------------------------------------------------------- quality


def _corpus(corpus: Path) -> Any:
    import polars as pl

    return pl.scan_parquet(str(corpus / "*.parquet")).select("id", "dup_of", "kind")


def quality_mmdedup(corpus: Path, clusters: Path) -> dict[str, Any]:
    import polars as pl

    return quality(corpus, pl.scan_parquet(str(clusters)).select("id", "cluster", "status"))


def quality_datatrove(corpus: Path, out: Path) -> dict[str, Any]:
    """datatrove's kept and removed documents, with the cluster ids it saved."""
    import polars as pl

    def part(sub: str, status: str) -> Any:
        files = [str(p) for p in sorted((out / sub).glob("*.parquet"))]
        return pl.scan_parquet(files).select(
            "id", pl.col("cluster").cast(pl.Int64), status=pl.lit(status)
        )

    q = quality(corpus, pl.concat([part("removed", "duplicate"), part("deduplicated", "kept")]))
    q["removed"] = part("removed", "duplicate").select(pl.len()).collect().item()
    return q


def quality(corpus: Path, cl: Any) -> dict[str, Any]:
    """Recall per kind (planted doc in its source's cluster; planted doc removed), originals
    removed, and false merges over every cluster: member pairs whose roots (the source of a
    planted doc, else the doc itself) differ."""
    import polars as pl

    docs = _corpus(corpus)
    src = cl.select(pl.col("id").alias("dup_of"), pl.col("cluster").alias("src_cluster"))
    planted = (
        docs.filter(pl.col("dup_of").is_not_null())
        .join(cl, on="id")
        .join(src, on="dup_of")
        .with_columns(
            found=(pl.col("cluster").is_not_null() & (pl.col("cluster") == pl.col("src_cluster"))),
            removed=pl.col("status") == "duplicate",
        )
        .group_by("kind")
        .agg(pl.len().alias("n"), pl.col("found").mean(), pl.col("removed").mean())
        .sort("kind")
        .collect()
    )
    members = (
        cl.filter(pl.col("cluster").is_not_null())
        .join(docs, on="id")
        .with_columns(root=pl.coalesce("dup_of", "id"))
    )
    per_root = members.group_by("cluster", "root").agg(c=pl.len())
    per_cluster = (
        per_root.group_by("cluster")
        .agg(
            n=pl.col("c").sum(),
            roots=pl.len(),
            true_pairs=(pl.col("c") * (pl.col("c") - 1)).sum() // 2,
        )
        .with_columns(pairs=pl.col("n") * (pl.col("n") - 1) // 2)
        .collect()
    )
    all_pairs = int(per_cluster["pairs"].sum())
    false_pairs = all_pairs - int(per_cluster["true_pairs"].sum())
    orig_removed = (
        cl.join(docs, on="id")
        .filter(pl.col("dup_of").is_null() & (pl.col("status") == "duplicate"))
        .select(pl.len())
        .collect()
        .item()
    )
    return {
        "recall": {
            r["kind"]: {"n": r["n"], "found": r["found"], "removed": r["removed"]}
            for r in planted.iter_rows(named=True)
        },
        "clusters": per_cluster.height,
        "cluster_pairs": all_pairs,
        "false_pairs": false_pairs,
        "clusters_with_false_merge": int((per_cluster["roots"] > 1).sum()),
        "originals_removed": int(orig_removed),
    }


def _binom_tail(n: int, p: float, k: int) -> float:
    """P[Binomial(n, p) >= k]."""
    if p <= 0.0:
        return 0.0 if k > 0 else 1.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    return sum(
        math.exp(
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        )
        for i in range(k, n + 1)
    )


def _joint(jarr: Any, b: int, r: int, num_perm: int, k: int, trials: int = 1000) -> float:
    """Mean P[some band agrees on all r slots AND >= k of num_perm slots agree], slots drawn iid
    Bernoulli(J) (idealised MinHash), by simulation: the band and verification events are not
    independent, so the product of their probabilities understates recall."""
    import numpy as np

    rng = np.random.default_rng(0)
    out = []
    for s in range(0, len(jarr), 50):
        j = jarr[s : s + 50, None, None]
        u = rng.random((len(j), trials, num_perm)) < j
        band = u[..., : b * r].reshape(len(j), trials, b, r).all(-1).any(-1)
        out.append((band & (u.sum(-1) >= k)).mean(1))
    return float(np.concatenate(out).mean())


def cmd_predict(a: argparse.Namespace) -> None:
    """Exact Jaccard of word 5-gram shingle sets for ~``--pairs`` planted pairs per kind (taken
    from the first shards, where a copy and its source both are), and the probability the LSH
    curve gives: ``1 - (1 - J^r)^b``, times P[Binomial(num_perm, J) >= threshold·num_perm] for
    the signature-agreement check."""
    import mmdedup
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    b, r = mmdedup.lsh_params(a.threshold, a.num_perm)
    k = math.ceil(a.threshold * a.num_perm - 1e-9)
    shards = sorted(Path(a.corpus).glob("*.parquet"))[: a.shards]
    t = pa.concat_tables(pq.read_table(s, columns=["id", "text", "dup_of", "kind"]) for s in shards)
    text = dict(zip(t["id"].to_pylist(), t["text"].to_pylist(), strict=True))
    pairs: dict[str, list[tuple[str, str]]] = {kind: [] for kind in KINDS}
    for i, d, kind in zip(
        t["id"].to_pylist(), t["dup_of"].to_pylist(), t["kind"].to_pylist(), strict=True
    ):
        if d is not None and d in text:
            pairs[kind].append((i, d))
    rng = random.Random(0)
    out: dict[str, Any] = {}
    for kind, ps in pairs.items():
        sample = rng.sample(ps, min(a.pairs, len(ps)))
        js = []
        for i, d in sample:
            x, y = set(mmdedup.shingles(text[i], ngram=5)), set(mmdedup.shingles(text[d], ngram=5))
            js.append(len(x & y) / max(len(x | y), 1))
        jarr = np.array(js)
        p_lsh = 1 - (1 - jarr**r) ** b
        p_ver = np.array([_binom_tail(a.num_perm, j, k) for j in js])
        out[kind] = {
            "pairs": len(sample),
            "jaccard_mean": float(jarr.mean()),
            "jaccard_p10_p50_p90": [float(q) for q in np.quantile(jarr, [0.1, 0.5, 0.9])],
            "share_j_ge_threshold": float((jarr >= a.threshold).mean()),
            "pred_lsh": float(p_lsh.mean()),
            "pred_verify": float(p_ver.mean()),
            "pred": float((p_lsh * p_ver).mean()),
            "pred_joint": _joint(jarr, b, r, a.num_perm, k),
            # datatrove's default MinhashConfig: 14 buckets of 8 hashes, no verification
            "pred_datatrove": float((1 - (1 - jarr**8) ** 14).mean()),
        }
    rec = {"step": "predict", "corpus": str(a.corpus), "bands_rows": [b, r], "min_agree": k}
    rec["kinds"] = out
    record(a.results, rec)


# --------------------------------------------------------------------------- report


def _n(docs: int) -> str:
    return f"{docs // 1_000_000}M" if docs % 1_000_000 == 0 else f"{docs:,}"


def cmd_report(a: argparse.Namespace) -> None:
    recs = [json.loads(line) for line in a.results.read_text().splitlines() if line.strip()]
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in recs:
        latest[(rec["step"], rec["corpus"])] = rec
    docs = {c: rec["docs"] for (s, c), rec in latest.items() if s == "gen"}
    runs = sorted(
        (k for k in latest if k[0] in ("mmdedup", "datatrove")),
        key=lambda k: (k[0] != "mmdedup", docs.get(k[1], 0)),
    )
    lines = [
        "| tool | N | wall | peak RSS: largest process | peak RSS: process tree | CPU "
        "| seconds per stage | removed | false-merge pairs (clusters) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key in runs:
        rec = latest[key]
        n = _n(docs.get(key[1], 0))
        if key[0] == "mmdedup":
            st = rec.get("stage_seconds") or {}
            removed = (rec.get("counts") or {}).get("removed")
            note = f" ({rec.get('partitions')} partitions)" if rec.get("partitions") else ""
        else:
            st = rec.get("stage_seconds_cpu") or {}
            removed = rec.get("removed")
            note = " (task CPU-seconds summed)" if st else ""
        stages = ", ".join(f"{k} {v:.0f}" for k, v in st.items()) + note or "–"
        ok = "" if rec["rc"] == 0 else f" **rc {rec['rc']}**"
        fm = (
            f"{rec['false_pairs']:,} ({rec['clusters_with_false_merge']:,})"
            if "false_pairs" in rec
            else "–"
        )
        lines.append(
            f"| {key[0]}{ok} | {n} | {rec['wall_s']:.0f} s | {rec['peak_rss_gb']:.2f} GB "
            f"| {rec['peak_tree_rss_gb']:.2f} GB | {rec['cpu_percent']}% | {stages} "
            f"| {removed if removed is None else f'{removed:,}'} | {fm} |"
        )
    pred = next((rec for (s, _), rec in latest.items() if s == "predict"), {})
    cols = [k for k in runs if "recall" in latest[k]]
    lines += [
        "",
        "| kind | mean J (p10/p50/p90) | J ≥ 0.8 | mmdedup predicted: LSH / × verify / joint "
        + "".join(f"| {t} found {_n(docs.get(c, 0))} " for t, c in cols if t == "mmdedup")
        + "| datatrove predicted "
        + "".join(f"| {t} found {_n(docs.get(c, 0))} " for t, c in cols if t == "datatrove")
        + "|",
        "| --- " * (5 + len(cols)) + "|",
    ]
    for kind in KINDS:
        p = pred.get("kinds", {}).get(kind, {})
        q = p.get("jaccard_p10_p50_p90", [0, 0, 0])
        row = (
            f"| {kind} | {p.get('jaccard_mean', 0):.3f} ({q[0]:.2f}/{q[1]:.2f}/{q[2]:.2f}) "
            f"| {p.get('share_j_ge_threshold', 0):.3f} | {p.get('pred_lsh', 0):.3f} / "
            f"{p.get('pred', 0):.3f} / {p.get('pred_joint', 0):.3f} "
        )
        for tool in ("mmdedup", "datatrove"):
            if tool == "datatrove":
                row += f"| {p.get('pred_datatrove', 0):.3f} "
            for t, c in cols:
                if t == tool:
                    v = latest[(t, c)]["recall"].get(kind, {}).get("found")
                    row += f"| {v:.3f} " if v is not None else "| – "
        lines.append(row + "|")
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--results", type=Path, default=Path("/tmp/scale/results.jsonl"))
    sub = ap.add_subparsers(dest="step", required=True)
    g = sub.add_parser("gen")
    g.add_argument("corpus", type=Path)
    g.add_argument("--docs", type=int, required=True)
    m = sub.add_parser("mmdedup")
    m.add_argument("corpus", type=Path)
    m.add_argument("-o", "--out", type=Path, required=True)
    m.add_argument("--memory", default="4GB")
    d = sub.add_parser("datatrove")
    d.add_argument("corpus", type=Path)
    d.add_argument("-o", "--out", type=Path, required=True)
    d.add_argument("--dt-python", default="/tmp/venv-dt/bin/python")
    d.add_argument("--tasks", type=int, default=2)
    d.add_argument("--workers", type=int, default=2)
    p = sub.add_parser("predict")
    p.add_argument("corpus", type=Path)
    p.add_argument("--pairs", type=int, default=2000)
    p.add_argument("--shards", type=int, default=3)
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--num-perm", type=int, default=128)
    sub.add_parser("report")
    a = ap.parse_args()
    {
        "gen": cmd_gen,
        "mmdedup": cmd_mmdedup,
        "datatrove": cmd_datatrove,
        "predict": cmd_predict,
        "report": cmd_report,
    }[a.step](a)


if __name__ == "__main__":
    main()
