"""Interleaved dedup of the handbook in its three layouts: are the decisions identical?

The handbook from ``../shared/corpora/fetch.sh`` (``~/.cache/mmdedup-corpora/interleaved``) holds
the same 3,302 chapter pages of a 26-language book as OBELICS Parquet, MMC4 JSON Lines and PIN
JSON Lines with markdown. Each layout is deduplicated with every rule on, using keys that do not
depend on the layout (image bytes; text with markdown stripped), and the per-document decisions
(status, cluster, kept, images and paragraphs removed) and removal reasons are compared.

    .venv/bin/python benches/eval_interleaved.py [--root DIR] [--out DIR]

Prints one line per layout (counts, wall seconds, peak RSS of the run) and whether the
decisions are identical.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

COLUMNS = ["status", "cluster", "keep", "images_removed", "paragraphs_removed"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path.home() / ".cache/mmdedup-corpora/interleaved")
    ap.add_argument("--out", type=Path, default=Path("/tmp/mmdedup-eval-interleaved"))
    ap.add_argument("--image-key", default="bytes", choices=["bytes", "phash"])
    args = ap.parse_args()
    root: Path = args.root
    inputs = {
        "obelics": [str(root / "handbook.obelics.parquet")],
        "mmc4": [str(root / "handbook.mmc4.jsonl")],
        "pin": [str(root / "handbook-pin")],
    }
    common = ["--image-key", args.image_key, "--markdown", "strip", "--overwrite", "-q"]
    tables = {}
    for layout, src in inputs.items():
        out = args.out / layout
        cmd = [sys.executable, "-m", "mmdedup", "dedup", *src, "-o", str(out), *common]
        if layout != "pin":  # PIN's image files lie beside its shard
            cmd += ["--images", str(root / "handbook.images.parquet")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t
        rss = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 2**20
        s = json.loads((out / "summary.json").read_text())
        d, im, p = s["documents"], s["images"], s["paragraphs"]
        print(
            f"{layout:8s} documents {d['in']:,}: kept {d['kept']:,}, near-duplicates "
            f"{d['removed']['near_duplicate']:,}, identical images "
            f"{d['removed']['identical_images']:,}; images {im['in']:,}: frequent "
            f"{im['removed']['frequent_image']:,}, repeated {im['removed']['repeated_image']:,}; "
            f"paragraphs {p['in']:,}: duplicates {p['removed']:,}; {wall:.1f} s, "
            f"peak RSS {rss:.2f} GiB (largest child so far)"
        )
        tables[layout] = (
            pq.read_table(out / "documents.parquet").select(COLUMNS),
            Counter(pq.read_table(out / "removals.parquet").column("reason").to_pylist()),
        )
    ref_docs, ref_reasons = tables["obelics"]
    for layout, (docs, reasons) in tables.items():
        same = docs.equals(ref_docs) and reasons == ref_reasons
        print(f"{layout:8s} decisions identical to obelics: {same}")


if __name__ == "__main__":
    main()
