"""Near-duplicate recall and precision of mmdedup's text dedup against exact all-pairs Jaccard.

Corpora (``--corpus``, any of them, default both real ones; see ``../shared/corpora/fetch.sh``):

* ``sdists``: the source files of five PyPI sdists over several versions
  (``~/.cache/mmdedup-corpora/text/sdists.parquet``); the same file in successive versions is
  a natural near-duplicate, different files natural non-duplicates;
* ``handbook``: the 3,302 pages of the Debian Administrator's Handbook in 26 languages
  (``interleaved/handbook.obelics.parquet``, each page's text blocks joined), whose
  untranslated languages repeat the English pages;
* ``planted``: synthetic near-copies: ``--planted`` documents of about 150 words from a Zipf
  vocabulary (``gen_corpus.Generator``), each copied with 1-3 words substituted at random
  places, so the planted pairs have J of about 0.8 to 0.95 (word 5-grams).

Ground truth is the exact Jaccard of the word 5-gram shingle *sets* (``mmdedup.shingles``) of
every pair of documents (a sparse document x shingle matrix times its transpose). Contenders at
``--thresholds`` (default 0.8), 128 permutations, seeds 1..``--seeds``, through
``compute_signatures`` and ``find_clusters`` (what ``mmdedup.dedup`` runs):

* ``default``: ``DedupConfig(threshold=t)``: exact Jaccard verification, bands chosen for recall;
* ``verify=signature``: the earlier default (datasketch's bands, MinHash estimate >= t);
* ``verify=none``: datasketch's bands, every candidate joins;
* ``jaccard, ds bands``: exact verification on datasketch's bands (what the bands add);
* ``simhash k=3`` and ``simhash k=3 +jaccard`` (Hamming <= 3 on 64-bit fingerprints, then the
  exact check);
* with ``--datasketch``: datasketch's ``MinHashLSH`` (union-find over its query results).

Printed per corpus: the S-curve of the geometries, then per contender recall of the pairs
with J >= 0.8, >= 0.9 and = 1.0 (found = both documents in one cluster), false pairs (pairs
inside a produced cluster with J < 0.5, direct or by chaining) and below t, candidate pairs and
seconds; for ``planted``, how many planted pairs with J >= t each contender found.

``--timing N`` then times ``mmdedup dedup`` end to end, the new default against
``--verify signature`` alternately ``--reps`` times, on the sdists file, the handbook (the
interleaved run) and a ``gen_corpus.py`` corpus of N documents; medians and ratios.

    python benches/eval_text_corpus.py                       # both corpora + planted, 3 seeds
    python benches/eval_text_corpus.py --seeds 1 --timing 100000 --reps 5
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mmdedup
import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import scipy.sparse as sp
from mmdedup.dedup import DedupConfig, compute_signatures, find_clusters

sys.path.insert(0, str(Path(__file__).parent))
from gen_corpus import Generator, generate

NUM_PERM = 128
NGRAM = 5
ROOT = Path.home() / ".cache/mmdedup-corpora"
CORPORA = {
    "sdists": ROOT / "text/sdists.parquet",
    "handbook": ROOT / "interleaved/handbook.obelics.parquet",
}
Labels = npt.NDArray[np.int64]


@dataclass
class Truth:
    """Exact Jaccard of every pair of documents with J > 0 (upper triangle)."""

    n: int
    i: npt.NDArray[np.int64]
    j: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    matrix: sp.csr_matrix = field(repr=False)

    def pairs(self, lo: float, hi: float = 2.0) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        keep = (self.value >= lo) & (self.value < hi)
        return self.i[keep], self.j[keep]

    def cluster_pairs(self, members: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Exact J of every pair inside a cluster (0 where no shingle is shared)."""
        sub = self.matrix[members][:, members].toarray()
        iu = np.triu_indices(len(members), k=1)
        return np.asarray(sub[iu], dtype=np.float64)


def exact_truth(sets: list[set[str]]) -> Truth:
    vocab: dict[str, int] = {}
    indptr, indices = [0], []
    for s in sets:
        indices.extend(vocab.setdefault(x, len(vocab)) for x in s)
        indptr.append(len(indices))
    n = len(sets)
    x = sp.csr_matrix((np.ones(len(indices), np.int32), indices, indptr), shape=(n, len(vocab)))
    inter = sp.triu(x @ x.T, k=1).tocoo()
    sizes = np.diff(np.asarray(indptr)).astype(np.float64)
    jac = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    full = sp.csr_matrix((jac, (inter.row, inter.col)), shape=(n, n))
    return Truth(n, inter.row.astype(np.int64), inter.col.astype(np.int64), jac, full + full.T)


def load(name: str, planted: int) -> tuple[list[str], list[tuple[int, int]]]:
    """Texts of a corpus, and its planted pairs (none for the real corpora)."""
    if name == "planted":
        g = Generator(7, doc_words=150)
        texts: list[str] = []
        pairs = []
        for words in (g.words(int(n)).tolist() for n in g.rng.integers(140, 160, planted)):
            copy = list(words)
            for pos in g.rng.choice(len(copy), int(g.rng.integers(1, 4)), replace=False):
                copy[int(pos)] = str(g.words(1)[0])
            pairs.append((len(texts), len(texts) + 1))
            texts += [" ".join(words), " ".join(copy)]
        return texts, pairs
    path = CORPORA.get(name, Path(name))
    df = pl.read_parquet(path)
    if "texts" in df.columns:  # an OBELICS layout: each page's text blocks
        return ["\n\n".join(t for t in (blocks or []) if t) for blocks in df["texts"].to_list()], []
    return [t or "" for t in df["text"].to_list()], []


CONTENDERS: dict[str, dict[str, Any]] = {
    "default": {},
    "verify=signature": {"verify": "signature"},
    "verify=none": {"verify": "none"},
    "jaccard, ds bands": {"verify": "jaccard", "datasketch_bands": True},
    "simhash k=3": {"method": "simhash"},
    "simhash k=3 +jaccard": {"method": "simhash", "verify": "jaccard"},
}


def config(name: str, t: float, seed: int) -> DedupConfig:
    p = dict(CONTENDERS[name])
    if p.pop("datasketch_bands", False):
        p["bands"], p["rows"] = mmdedup.lsh_params(t, NUM_PERM)
    return DedupConfig(threshold=t, num_perm=NUM_PERM, ngram=NGRAM, seed=seed, **p)


def run_mmdedup(texts: pa.Array, cfg: DedupConfig) -> tuple[Labels, int, float]:
    t0 = time.perf_counter()
    sigs = compute_signatures(texts, cfg)
    labels, stats = find_clusters(sigs, cfg, texts if cfg.verify == "jaccard" else None)
    sec = time.perf_counter() - t0
    own = np.arange(len(texts), dtype=np.int64)
    return np.where(labels < 0, own, labels), stats["candidate_pairs"], sec


def run_datasketch(sets: list[set[str]], t: float, seed: int) -> tuple[Labels, int, float]:
    from datasketch import MinHash, MinHashLSH

    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=t, num_perm=NUM_PERM)
    mhs = []
    for i, s in enumerate(sets):
        m = MinHash(num_perm=NUM_PERM, seed=seed)
        m.update_batch([x.encode() for x in s])
        mhs.append(m)
        lsh.insert(i, m)
    parent = list(range(len(sets)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    pairs = 0
    for i, m in enumerate(mhs):
        for j in lsh.query(m):
            if j != i:
                pairs += 1
                ra, rb = find(i), find(j)
                parent[max(ra, rb)] = min(ra, rb)
    labels = np.array([find(i) for i in range(len(sets))], dtype=np.int64)
    return labels, pairs // 2, time.perf_counter() - t0


@dataclass
class Score:
    found: dict[str, int] = field(default_factory=lambda: {"0.8": 0, "0.9": 0, "1.0": 0})
    below_half: int = 0
    below_t: int = 0
    planted: int = 0
    candidates: int = 0
    seconds: float = 0.0


def score(s: Score, labels: Labels, truth: Truth, t: float, planted: list[tuple[int, int]]) -> None:
    for lo, key in ((0.8, "0.8"), (0.9, "0.9"), (1.0, "1.0")):
        i, j = truth.pairs(lo)
        s.found[key] += int((labels[i] == labels[j]).sum())
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    for c in np.flatnonzero(counts > 1):
        vals = truth.cluster_pairs(order[starts[c] : starts[c + 1]])
        s.below_half += int((vals < 0.5).sum())
        s.below_t += int((vals < t).sum())
    s.planted += sum(int(labels[a] == labels[b]) for a, b in planted)


def s_curve(t: float) -> None:
    geoms = {
        "recall": mmdedup.lsh_recall_params(t, NUM_PERM),
        "datasketch": mmdedup.lsh_params(t, NUM_PERM),
    }
    cols = (0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    print(f"S-curve at t = {t}: P(candidate | J)   " + " ".join(f"{c:>8}" for c in cols))
    for name, (b, r) in geoms.items():
        p = [1 - (1 - c**r) ** b for c in cols]
        print(
            f"  {name:<10} {b:>2} x {r:<2} ({b * r:>3} slots)  " + " ".join(f"{x:>8.5f}" for x in p)
        )


def evaluate(name: str, args: argparse.Namespace) -> None:
    texts_all, planted_all = load(name, args.planted)
    sets_all = [set(mmdedup.shingles(t, ngram=NGRAM)) for t in texts_all]
    keep = [i for i, s in enumerate(sets_all) if s]
    remap = {old: new for new, old in enumerate(keep)}
    texts, sets = [texts_all[i] for i in keep], [sets_all[i] for i in keep]
    planted = [(remap[a], remap[b]) for a, b in planted_all if a in remap and b in remap]
    n = len(texts)
    t0 = time.perf_counter()
    truth = exact_truth(sets)
    print(
        f"\n== {name}: {len(texts_all)} documents, {n} with shingles; exact J of all "
        f"{n * (n - 1) // 2:,} pairs in {time.perf_counter() - t0:.1f} s"
    )
    totals = {k: len(truth.pairs(float(k))[0]) for k in ("0.8", "0.9", "1.0")}
    print(
        "  true pairs: "
        + ", ".join(f"J >= {k}: {v:,}" for k, v in totals.items())
        + f"; J in [0.5, 0.8): {len(truth.pairs(0.5, 0.8)[0]):,}"
    )
    seeds = list(range(1, args.seeds + 1))
    names = list(CONTENDERS) + (["datasketch MinHashLSH"] if args.datasketch else [])
    for t in args.thresholds:
        pj = {a: b for a, b in planted if truth.matrix[a, b] >= t}
        good = list(pj.items())
        if planted:
            print(f"  planted pairs: {len(planted)}, with J >= {t}: {len(good)}")
        scores = {c: Score() for c in names}
        column = pa.array(texts, pa.large_string())
        for seed in seeds:
            for c in names:
                if c == "datasketch MinHashLSH":
                    labels, cand, sec = run_datasketch(sets, t, seed)
                else:
                    labels, cand, sec = run_mmdedup(column, config(c, t, seed))
                s = scores[c]
                s.candidates += cand
                s.seconds += sec
                score(s, labels, truth, t, good)
        k = len(seeds)
        print(f"  t = {t}, seeds {seeds} (recall summed over seeds; other columns per seed)")
        head = (
            f"  {'contender':<22} {'bands':>7} {'R(J>=.8)':>9} {'R(J>=.9)':>9} {'R(J=1)':>8} "
            f"{'J<.5':>6} {'J<t':>6} {'cand.':>8} {'s/run':>6}" + ("  planted" if planted else "")
        )
        print(head)
        for c in names:
            s = scores[c]
            geo = "-"
            if c in CONTENDERS and config(c, t, 1).method == "minhash":
                geo = "{}x{}".format(*config(c, t, 1).band_geometry())

            def pct(key: str, s: Score = s, k: int = k) -> str:
                return f"{100 * s.found[key] / (k * totals[key]):.2f}%" if totals[key] else "n/a"

            line = (
                f"  {c:<22} {geo:>7} {pct('0.8'):>9} {pct('0.9'):>9} {pct('1.0'):>8} "
                f"{s.below_half / k:>6.1f} {s.below_t / k:>6.1f} {s.candidates / k:>8.0f} "
                f"{s.seconds / k:>6.2f}"
            )
            if planted:
                line += f"  {s.planted / k:.0f}/{len(good)}"
            print(line)


def timing(args: argparse.Namespace) -> None:
    """``mmdedup dedup`` end to end: the new default against ``--verify signature``."""
    with tempfile.TemporaryDirectory() as tmp:
        synth = Path(tmp) / "synth"
        generate(synth, args.timing, 0.1, max(args.timing // 4, 1), 0, 0.03)
        inputs = {
            "sdists": [str(CORPORA["sdists"])],
            "handbook (interleaved)": [str(CORPORA["handbook"])],
            f"gen_corpus {args.timing:,}": [str(synth)],
        }
        print(f"\n== mmdedup dedup end to end, median of {args.reps} alternating runs")
        print(f"  {'input':<24} {'default':>9} {'--verify signature':>19} {'ratio':>6}")
        for label, paths in inputs.items():
            walls: dict[str, list[float]] = {"default": [], "signature": []}
            for _ in range(args.reps):
                for mode, extra in (("default", []), ("signature", ["--verify", "signature"])):
                    cmd = [
                        sys.executable,
                        "-m",
                        "mmdedup",
                        "dedup",
                        *paths,
                        "-o",
                        f"{tmp}/out",
                        "--overwrite",
                        "--quiet",
                        *extra,
                    ]
                    t0 = time.perf_counter()
                    subprocess.run(cmd, check=True)
                    walls[mode].append(time.perf_counter() - t0)
            a, b = np.median(walls["default"]), np.median(walls["signature"])
            print(f"  {label:<24} {a:>8.2f}s {b:>18.2f}s {a / b:>6.2f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--corpus", nargs="+", default=["sdists", "handbook", "planted"])
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.8])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--planted", type=int, default=2000, help="planted pairs (default 2000)")
    ap.add_argument("--datasketch", action="store_true", help="also datasketch's MinHashLSH")
    ap.add_argument("--timing", type=int, default=0, help="time end to end with N synthetic docs")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"mmdedup {mmdedup.__version__}, {NUM_PERM} permutations, word {NGRAM}-grams")
    for t in args.thresholds:
        s_curve(t)
    for name in args.corpus:
        evaluate(name, args)
    if args.timing:
        timing(args)


if __name__ == "__main__":
    main()
