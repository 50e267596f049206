"""All pairs within Hamming distance k over N 64-bit hashes: mmdedup vs FAISS, with an exactness
check.

The set: N random 64-bit hashes in which ``--clusters`` near-duplicate clusters are planted (a
random centre and 1–9 more members, each the centre with 1–8 random bits flipped) plus
``--exact`` exact copies of random rows (so both edge kinds are exercised), shuffled.

* mmdedup: ``mmdedup._core.hamming_neighbours(hashes, skip, k=k)`` (multi-index hashing), median
  of ``--repeats`` runs at ``--threads`` threads (and at 1 with ``--one-thread``).
* Exactness: for ``--sample`` query rows (half planted-cluster members, half uniform), every row
  within distance k by brute force (numpy XOR + ``np.bitwise_count`` over all N) must be
  connected to the query: the same representative (identical hash) or a near edge between the
  two representatives. Every returned edge is also checked to be within k ("false edges").
* FAISS: ``IndexBinaryFlat(64)`` ``range_search`` with radius k + 1 (FAISS keeps distances
  ``< radius``) for ``--faiss-queries`` queries against the whole index, scaled linearly to N
  queries, at the same thread counts as mmdedup; its answers are checked against mmdedup's
  edges too. Ratios compare the two at the same thread count.
* Peak RSS (``getrusage``) after each stage.

    .venv/bin/python benches/bench_hamming.py [--n 10000000] [--k 8] [--threads 2] [--one-thread]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import mmdedup
import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_hashes(n: int, clusters: int, exact: int, seed: int) -> tuple[U64, I64]:
    """N hashes and the positions of the planted cluster members."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    sizes = rng.integers(2, 11, size=clusters)
    total = int(sizes.sum())
    if total + exact > n:
        raise SystemExit(f"{total} planted members and {exact} copies do not fit in N = {n}")
    centres = rng.integers(0, 2**64, size=clusters, dtype=np.uint64)
    members = np.repeat(centres, sizes)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flipped = np.ones(total, dtype=np.bool_)
    flipped[first] = False  # the centre itself is a member
    bits = np.zeros(total, dtype=np.uint64)
    flips = rng.integers(1, 9, size=total)
    for f in range(1, 9):
        rows = np.flatnonzero(flipped & (flips >= f))
        bits[rows] |= np.uint64(1) << rng.integers(0, 64, size=len(rows)).astype(np.uint64)
    members ^= bits  # a repeated position flips fewer bits: still 1 to 8
    values[:total] = members
    values[total : total + exact] = values[rng.integers(0, n, size=exact)]
    perm = rng.permutation(n)
    values = values[perm]
    planted = np.flatnonzero(perm < total).astype(np.int64)
    return values, planted


def representatives(n: int, equal: npt.NDArray[np.uint32]) -> I64:
    rep = np.arange(n, dtype=np.int64)
    rep[equal[:, 1].astype(np.int64)] = equal[:, 0].astype(np.int64)
    return rep


def edge_keys(near: npt.NDArray[np.uint32], n: int) -> I64:
    a = near[:, 0].astype(np.int64)
    b = near[:, 1].astype(np.int64)
    return np.sort(np.minimum(a, b) * n + np.maximum(a, b))


def connected(q: int, others: I64, rep: I64, keys: I64, n: int) -> npt.NDArray[np.bool_]:
    """Whether each of ``others`` is joined to ``q`` by mmdedup's edges."""
    rq, ro = rep[q], rep[others]
    key = np.minimum(rq, ro) * n + np.maximum(rq, ro)
    pos = np.clip(np.searchsorted(keys, key), 0, max(len(keys) - 1, 0))
    found = keys[pos] == key if len(keys) else np.zeros(len(key), dtype=np.bool_)
    out: npt.NDArray[np.bool_] = (ro == rq) | found
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--clusters", type=int, default=0, help="default N / 100")
    ap.add_argument("--exact", type=int, default=0, help="exact copies; default N / 1000")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--one-thread", action="store_true", help="also time mmdedup at 1 thread")
    ap.add_argument("--sample", type=int, default=1000, help="queries checked by brute force")
    ap.add_argument("--faiss-queries", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n, k = args.n, args.k
    clusters = args.clusters or n // 100
    exact = args.exact or n // 1000

    t0 = time.perf_counter()
    values, planted = make_hashes(n, clusters, exact, args.seed)
    skip = np.zeros(n, dtype=np.bool_)
    print(
        f"N = {n:,} hashes ({clusters:,} planted clusters, {len(planted):,} members; "
        f"{exact:,} exact copies), k = {k}, numpy {np.__version__}, {os.cpu_count()} CPUs; "
        f"made in {time.perf_counter() - t0:.1f} s; peak RSS {peak_rss_mib():,.0f} MiB"
    )

    timings: dict[int, float] = {}
    equal = near = np.zeros((0, 2), dtype=np.uint32)
    for threads in sorted({args.threads, 1} if args.one_thread else {args.threads}, reverse=True):
        mmdedup.set_num_threads(threads)
        ts = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            equal, near = mmdedup._core.hamming_neighbours(values, skip, k=k)
            ts.append(time.perf_counter() - t0)
        timings[threads] = statistics.median(ts)
        print(
            f"mmdedup hamming_neighbours, {threads} thread(s): median {timings[threads]:.2f} s "
            f"of {args.repeats} ({', '.join(f'{t:.2f}' for t in ts)})"
        )
    mmdedup.set_num_threads(os.cpu_count() or 1)
    rss_mmdedup = peak_rss_mib()
    print(
        f"edges: {len(equal):,} equal, {len(near):,} near; peak RSS {rss_mmdedup:,.0f} MiB "
        f"(hashes alone: {values.nbytes / 2**20:,.0f} MiB)"
    )

    # Exactness.
    rep = representatives(n, equal)
    keys = edge_keys(near, n)
    d_near = np.bitwise_count(values[near[:, 0]] ^ values[near[:, 1]])
    d_equal = np.bitwise_count(values[equal[:, 0]] ^ values[equal[:, 1]])
    false_edges = int((d_near > k).sum() + (d_near == 0).sum() + (d_equal != 0).sum())
    rng = np.random.default_rng(args.seed + 1)
    half = args.sample // 2
    queries = np.concatenate(
        [rng.choice(planted, size=half, replace=False), rng.choice(n, size=args.sample - half)]
    )
    missed = checked = 0
    t0 = time.perf_counter()
    for q in queries:
        d = np.bitwise_count(values ^ values[q])
        others = np.flatnonzero(d <= k)
        others = others[others != q].astype(np.int64)
        checked += len(others)
        missed += int((~connected(int(q), others, rep, keys, n)).sum())
    print(
        f"exactness: {len(queries):,} queries, {checked:,} neighbour pairs within k by brute "
        f"force ({time.perf_counter() - t0:.0f} s); pairs missed: {missed}; false edges: "
        f"{false_edges}"
    )

    # FAISS.
    try:
        import faiss
    except ImportError:
        print("FAISS not installed")
        return
    index = faiss.IndexBinaryFlat(64)
    index.add(np.ascontiguousarray(values).view(np.uint8).reshape(n, 8))
    fq = rng.choice(n, size=args.faiss_queries, replace=False)
    xq = np.ascontiguousarray(values[fq]).view(np.uint8).reshape(len(fq), 8)
    faiss_scaled: dict[int, float] = {}
    lims = labels = None
    for threads in sorted(timings, reverse=True):
        faiss.omp_set_num_threads(threads)
        t0 = time.perf_counter()
        lims, _dist, labels = index.range_search(xq, k + 1)
        t_faiss = time.perf_counter() - t0
        faiss_scaled[threads] = t_faiss * n / len(fq)
        print(
            f"FAISS {faiss.__version__} IndexBinaryFlat range_search, {threads} thread(s): "
            f"{len(fq):,} queries in {t_faiss:.2f} s → {faiss_scaled[threads]:,.0f} s for all "
            f"{n:,} queries (scaled)"
        )
    rss_faiss = peak_rss_mib()
    assert lims is not None and labels is not None
    faiss_missed = faiss_found = 0
    for i, q in enumerate(fq):
        others = labels[lims[i] : lims[i + 1]].astype(np.int64)
        others = others[others != q]
        faiss_found += len(others)
        faiss_missed += int((~connected(int(q), others, rep, keys, n)).sum())
    print(
        f"FAISS found {faiss_found:,} neighbours of its {len(fq):,} queries; missing from "
        f"mmdedup's edges: {faiss_missed}; peak RSS {rss_faiss:,.0f} MiB"
    )
    print()
    print(
        "| N | k | tool | threads | seconds (all pairs) | vs mmdedup, same threads | peak RSS MiB |"
    )
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for threads, t in sorted(timings.items(), reverse=True):
        print(
            f"| {n:,} | {k} | mmdedup hamming_neighbours | {threads} | {t:.2f} | 1.00× | "
            f"{rss_mmdedup:,.0f} |"
        )
    for threads, t in sorted(faiss_scaled.items(), reverse=True):
        print(
            f"| {n:,} | {k} | FAISS IndexBinaryFlat range_search (scaled from {len(fq):,} "
            f"queries) | {threads} | {t:,.0f} | {t / timings[threads]:,.0f}× | {rss_faiss:,.0f} |"
        )
    print(
        f"pairs missed: {missed} (of {checked:,} checked by brute force); false edges: {false_edges}"
    )


if __name__ == "__main__":
    main()
