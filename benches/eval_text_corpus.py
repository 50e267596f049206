"""Near-duplicate quality of mmdedup against datasketch's MinHashLSH, against exact Jaccard.

Corpus: the source files of five PyPI sdists over several versions
(``~/.cache/mmdedup-corpora/text/sdists.parquet``: id, package, version, path, text). The same
file in successive versions is a natural near-duplicate; different files are natural
non-duplicates.

Ground truth: exact Jaccard of the word 5-gram shingle *sets* that both tools see: each
document's shingles come from ``mmdedup.shingles(text, ngram=5)``; datasketch is fed exactly
those (``MinHash(num_perm=128, seed).update_batch([s.encode() ...])``) and mmdedup computes the
same ones internally. Documents without shingles are left out. Exact Jaccard is computed for
*every* pair of documents (a sparse document x shingle matrix times its transpose), so the
universe of candidate pairs is all pairs: it contains the pairs of files with the same path
across versions and every unrelated pair.

Contenders, at thresholds 0.8 and 0.9, 128 permutations, same seed:

* ``mmdedup.dedup(df, threshold=t)`` (LSH, candidates verified by signature agreement >= t),
  with ``verify="jaccard"`` (exact Jaccard >= t) and with ``verify="none"`` (every LSH
  candidate joins, as raw datasketch does);
* datasketch ``MinHashLSH(threshold=t, num_perm=128)``: every document inserted, each one
  queried, the results joined by union-find; also with each returned pair kept only when
  ``MinHash.jaccard`` >= t (what a careful datasketch user adds).

Reported, summed over ``--seeds`` seeds: recall of the pairs with exact J >= 0.8 and J >= 0.9
(a pair is found when both documents land in one cluster), and, over all pairs inside each
produced cluster, how many have exact J < 0.5 (false merges, direct or by chaining), and how many
have exact J below the threshold.

Run ``python benches/eval_text_corpus.py`` (``--seeds 1`` for a quicker run).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mmdedup
import numpy as np
import numpy.typing as npt
import polars as pl
import scipy.sparse as sp

NUM_PERM = 128
NGRAM = 5
DEFAULT_CORPUS = Path.home() / ".cache/mmdedup-corpora/text/sdists.parquet"

Labels = npt.NDArray[np.int64]


@dataclass
class Truth:
    """Exact Jaccard of every pair of documents (dense: the corpus has ~1,400 documents)."""

    jaccard: npt.NDArray[np.float64]  # (n, n), diagonal 1
    upper_i: npt.NDArray[np.int64]  # the pairs i < j with J > 0
    upper_j: npt.NDArray[np.int64]
    upper_value: npt.NDArray[np.float64]

    def pairs_at_least(self, t: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        keep = self.upper_value >= t
        return self.upper_i[keep], self.upper_j[keep]

    def pairs_between(
        self, lo: float, hi: float
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        keep = (self.upper_value >= lo) & (self.upper_value < hi)
        return self.upper_i[keep], self.upper_j[keep]


@dataclass
class Score:
    """What one contender produced at one threshold, summed over seeds."""

    clusters: int = 0
    in_cluster_pairs: int = 0
    below_half: int = 0
    below_t: int = 0
    found_08: int = 0
    found_09: int = 0
    found_band: int = 0
    seconds: float = 0.0


def exact_truth(shingle_sets: list[set[str]]) -> Truth:
    vocab: dict[str, int] = {}
    indptr = [0]
    indices: list[int] = []
    for s in shingle_sets:
        indices.extend(vocab.setdefault(x, len(vocab)) for x in s)
        indptr.append(len(indices))
    n = len(shingle_sets)
    x = sp.csr_matrix(
        (np.ones(len(indices), dtype=np.int32), indices, indptr), shape=(n, len(vocab))
    )
    inter = (x @ x.T).tocoo()
    sizes = np.diff(np.asarray(indptr)).astype(np.float64)
    jac = np.zeros((n, n))
    union = sizes[inter.row] + sizes[inter.col] - inter.data
    jac[inter.row, inter.col] = inter.data / union
    iu, ju = np.triu_indices(n, k=1)
    vals = jac[iu, ju]
    nz = vals > 0
    return Truth(jac, iu[nz].astype(np.int64), ju[nz].astype(np.int64), vals[nz])


def union_find_labels(n: int, pairs: list[tuple[int, int]]) -> Labels:
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def score(labels: Labels, truth: Truth, t_run: float, seconds: float) -> Score:
    out = Score(seconds=seconds)
    for t, attr in ((0.8, "found_08"), (0.9, "found_09")):
        i, j = truth.pairs_at_least(t)
        setattr(out, attr, int((labels[i] == labels[j]).sum()))
    i, j = truth.pairs_between(0.8, 0.9)
    out.found_band = int((labels[i] == labels[j]).sum())
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    for c in np.flatnonzero(counts > 1):
        members = np.flatnonzero(inverse == c)
        sub = truth.jaccard[np.ix_(members, members)]
        iu = np.triu_indices(len(members), k=1)
        out.clusters += 1
        out.in_cluster_pairs += len(iu[0])
        out.below_half += int((sub[iu] < 0.5).sum())
        out.below_t += int((sub[iu] < t_run).sum())
    return out


def add(total: Score, s: Score) -> None:
    for name in vars(total):
        setattr(total, name, getattr(total, name) + getattr(s, name))


def mmdedup_labels(df: pl.DataFrame, t: float, seed: int, verify: str) -> Labels:
    out = mmdedup.dedup(df, "text", threshold=t, num_perm=NUM_PERM, seed=seed, verify=verify)
    cluster = out["cluster"].to_numpy()
    own = np.arange(len(df), dtype=np.int64)
    return np.where(out["cluster"].is_null().to_numpy(), own, cluster).astype(np.int64)


def datasketch_minhashes(shingle_sets: list[set[str]], seed: int) -> list[Any]:
    from datasketch import MinHash

    out = []
    for s in shingle_sets:
        m = MinHash(num_perm=NUM_PERM, seed=seed)
        m.update_batch([x.encode() for x in s])
        out.append(m)
    return out


def datasketch_labels(minhashes: list[Any], t: float, check: bool) -> Labels:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=t, num_perm=NUM_PERM)
    for i, m in enumerate(minhashes):
        lsh.insert(i, m)
    pairs: list[tuple[int, int]] = []
    for i, m in enumerate(minhashes):
        for j in lsh.query(m):
            if j != i and (not check or m.jaccard(minhashes[j]) >= t):
                pairs.append((i, j))
    return union_find_labels(len(minhashes), pairs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N, summed (default 3)")
    args = parser.parse_args(argv)

    versions = {p: importlib.metadata.version(p) for p in ("mmdedup", "datasketch")}
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))

    raw = pl.read_parquet(args.corpus)
    shingle_sets_all = [set(mmdedup.shingles(t or "", ngram=NGRAM)) for t in raw["text"]]
    nonempty = np.array([len(s) > 0 for s in shingle_sets_all])
    df = raw.filter(pl.Series(nonempty))
    shingle_sets = [s for s in shingle_sets_all if s]
    n = len(df)
    print(
        f"corpus: {args.corpus.name}, {len(raw)} files, {n} with shingles "
        f"({len(raw) - n} empty left out); word {NGRAM}-grams, {NUM_PERM} permutations"
    )

    t0 = time.perf_counter()
    truth = exact_truth(shingle_sets)
    print(f"exact Jaccard of all {n * (n - 1) // 2:,} pairs in {time.perf_counter() - t0:.1f} s")
    paths = df["path"].to_numpy()
    same_path = paths[truth.upper_i] == paths[truth.upper_j]
    n_same_path = int(
        df.group_by("path").len().select((pl.col("len") * (pl.col("len") - 1) // 2).sum()).item()
    )
    totals: dict[float, int] = {}
    for t in (0.8, 0.9):
        i, _ = truth.pairs_at_least(t)
        keep = truth.upper_value >= t
        totals[t] = len(i)
        print(
            f"  pairs with J >= {t}: {len(i):,} ({int(same_path[keep].sum()):,} same path "
            f"across versions, {int((~same_path[keep]).sum()):,} different paths)"
        )
    band = len(truth.pairs_between(0.8, 0.9)[0])
    print(f"  pairs with 0.8 <= J < 0.9: {band:,}; same-path pairs in all: {n_same_path:,}")
    print(f"  pairs with J < 0.5: {n * (n - 1) // 2 - int((truth.upper_value >= 0.5).sum()):,}")

    seeds = list(range(1, args.seeds + 1))
    thresholds = (0.8, 0.9)
    names = (
        "mmdedup verify=signature",
        "mmdedup verify=jaccard",
        "mmdedup verify=none",
        "datasketch MinHashLSH",
        "datasketch + est. J >= t",
    )
    scores = {(name, t): Score() for t in thresholds for name in names}
    for t in thresholds:
        print(f"threshold {t}: LSH (bands, rows) = {mmdedup.lsh_params(t, NUM_PERM)}")
    for seed in seeds:
        t0 = time.perf_counter()
        mhs = datasketch_minhashes(shingle_sets, seed)
        sig_sec = time.perf_counter() - t0
        for t in thresholds:
            for verify in ("signature", "jaccard", "none"):
                t0 = time.perf_counter()
                labels = mmdedup_labels(df, t, seed, verify)
                sec = time.perf_counter() - t0
                add(scores[(f"mmdedup verify={verify}", t)], score(labels, truth, t, sec))
            for name, check in (
                ("datasketch MinHashLSH", False),
                ("datasketch + est. J >= t", True),
            ):
                t0 = time.perf_counter()
                labels = datasketch_labels(mhs, t, check)
                sec = time.perf_counter() - t0 + sig_sec
                add(scores[(name, t)], score(labels, truth, t, sec))
        print(f"  seed {seed} done")
    rows = [(name, t, scores[(name, t)]) for t in thresholds for name in names]

    k = len(seeds)
    print(
        f"\nresults, summed over seeds {seeds} (recall = found / ({k} x true pairs); "
        "'J<t in cl.', 'J<0.5 in cl.' = pairs inside produced clusters with exact J below t, 0.5)"
    )
    head = (
        f"{'method':<26} {'t':>4} {'clusters':>8} {'cl. pairs':>9} {'R(J>=0.8)':>10} "
        f"{'R(J>=0.9)':>10} {'R(.8-.9)':>9} {'J<t in cl.':>10} {'J<0.5 in cl.':>12} {'s/run':>6}"
    )
    print(head)
    print("-" * len(head))

    def pct(found: int, total: int) -> str:
        return f"{100 * found / (k * total):.2f}%" if total else "n/a"

    for name, t, s in rows:
        print(
            f"{name:<26} {t:>4} {s.clusters / k:>8.1f} {s.in_cluster_pairs / k:>9.1f} "
            f"{pct(s.found_08, totals[0.8]):>10} {pct(s.found_09, totals[0.9]):>10} "
            f"{pct(s.found_band, band):>9} {s.below_t / k:>10.1f} {s.below_half / k:>12.1f} {s.seconds / k:>6.2f}"
        )
    print(
        "clusters, cl. pairs, J<t, J<0.5 and s/run are means per seed; datasketch's s/run "
        "includes building its MinHashes."
    )


if __name__ == "__main__":
    main()
