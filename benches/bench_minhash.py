"""MinHash throughput of mmdedup against rensa and datasketch, side by side in one process.

Three measurements on the same documents (real source files of five PyPI sdists, repeated to
the requested size):

(a) End to end, raw text -> 128-slot signatures. mmdedup gets the texts as one ``pa.Array``
    (``mmdedup.minhash(texts, num_perm=128, ngram=5)``: normalization, UAX #29 words, word
    5-grams, hashing, MinHash). rensa and datasketch get a Python ``list[str]`` and the word
    5-gram shingling their users typically write in Python::

        words = text.lower().split()
        shingles = [" ".join(words[i : i + 5]) for i in range(len(words) - 4)]

    then ``RMinHash(num_perm=128, seed=1).update(shingles).digest()`` (also rensa's bulk call
    ``RMinHash.digest_matrix_from_token_sets``) and
    ``datasketch.MinHash(num_perm=128).update_batch([s.encode() for s in shingles])``. The
    shingling is part of their time because it is part of what their users run.

(b) Kernel alone: all three get the very same ready-made shingle strings. A shingle is 5
    consecutive ASCII words (``[a-z0-9]+`` of the lowercased text) joined with ``_``, for
    example ``def_foo_return_x_1``. rensa gets each document's shingles as a ``list[str]``,
    datasketch as a ``list[bytes]`` (encoded beforehand, not timed), mmdedup as an Arrow
    ``list<string>`` column through ``mmdedup.minhash_sets`` (built beforehand, not timed). A
    diagnostic row gives mmdedup one string per document instead, the shingles separated by
    spaces, through ``mmdedup._core.minhash(docs, ngram=1, normalize=False)``: ``_`` joins
    letters and digits into one UAX #29 word (ExtendNumLet), so its 1-grams are exactly those
    shingles (checked at start-up), and it pays for the segmentation.

(c) mmdedup with 1 and 2 threads (``mmdedup.set_num_threads``), on (a) and (b).

"Per core": rensa's rayon pool is pinned to one thread (``RAYON_NUM_THREADS=1``, set before
rensa is imported) and mmdedup runs with ``set_num_threads(1)`` for the comparisons in (a) and
(b); the CPU-seconds column (``time.process_time``) shows how much CPU each run really used.
Every repeat runs every contender once, round robin, so drifting load on a shared machine hits
all of them alike; the table gives medians over the repeats. Before each round the script waits
(up to 2 minutes) until no compile runs and other processes use under 15% of the CPUs.

Run ``python benches/bench_minhash.py`` (about 32 MB) or ``--quick`` (about 3 MB, enough files
for mmdedup to go parallel: it stays on one thread below 256 documents per call).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import mmdedup
import numpy as np
import polars as pl
import pyarrow as pa

NUM_PERM = 128
NGRAM = 5
SEED = 1
DEFAULT_CORPUS = Path.home() / ".cache/mmdedup-corpora/text/sdists.parquet"
_ASCII_WORD = re.compile(r"[a-z0-9]+")
NO_WAIT = False  # --no-wait


@dataclass
class Result:
    """Timings of one contender over the repeats."""

    name: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


@dataclass
class Contender:
    """A function to time; ``repeats`` caps how many rounds it takes part in."""

    name: str
    run: Callable[[], Any]
    repeats: int
    threads: int | None = None  # mmdedup's thread count, set before each run
    result: Result = field(init=False)

    def __post_init__(self) -> None:
        self.result = Result(self.name)


# --------------------------------------------------------------------------------------------
# Data


def load_texts(path: Path, target_mb: float) -> list[str]:
    """The non-empty texts of the corpus, repeated (then cut) to about ``target_mb`` MB."""
    df = pl.read_parquet(path, columns=["text"]).filter(pl.col("text").str.len_bytes() > 0)
    base: list[str] = df["text"].to_list()
    base_bytes = sum(len(t.encode()) for t in base)
    target = int(target_mb * 1e6)
    if target <= base_bytes:
        # A deterministic random sample of whole files.
        rng = np.random.default_rng(0)
        order = rng.permutation(len(base))
        out: list[str] = []
        size = 0
        for i in order:
            if size >= target:
                break
            out.append(base[i])
            size += len(base[i].encode())
        return out
    out = []
    size = 0
    while size < target:
        for t in base:
            out.append(t)
            size += len(t.encode())
            if size >= target:
                break
    return out


def python_shingles(text: str) -> list[str]:
    """The word 5-grams anchor users typically write: whitespace words, lowercased."""
    words = text.lower().split()
    if len(words) < NGRAM:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)]


def kernel_shingles(text: str) -> list[str]:
    """Shingles for (b): 5 consecutive ASCII words joined by ``_`` (one UAX #29 token)."""
    words = _ASCII_WORD.findall(text.lower())
    if len(words) < NGRAM:
        return ["_".join(words)] if words else []
    return ["_".join(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)]


def check_kernel_input(shingle_lists: list[list[str]], docs: list[str]) -> None:
    """Proves mmdedup's 1-grams of each (b) document are exactly that document's shingles."""
    for sh, doc in zip(shingle_lists, docs, strict=True):
        got = mmdedup.shingles(doc, ngram=1, normalize=False)
        if got != sh:
            raise SystemExit(
                f"(b) input check failed: mmdedup sees {got[:3]}..., expected {sh[:3]}"
            )


# --------------------------------------------------------------------------------------------
# Contenders


def rensa_per_doc(rensa: ModuleType, shingle_lists: list[list[str]]) -> list[list[int]]:
    out = []
    for sh in shingle_lists:
        m = rensa.RMinHash(num_perm=NUM_PERM, seed=SEED)
        m.update(sh)
        out.append(m.digest())
    return out


def datasketch_per_doc(ds: ModuleType, shingle_lists: list[list[bytes]]) -> list[Any]:
    out = []
    for sh in shingle_lists:
        m = ds.MinHash(num_perm=NUM_PERM)
        m.update_batch(sh)
        out.append(m.digest())
    return out


def end_to_end(
    texts: list[str], arrow: pa.Array, rensa: ModuleType, ds: ModuleType, ds_repeats: int
) -> list[Contender]:
    def mm() -> Any:
        return mmdedup.minhash(arrow, num_perm=NUM_PERM, ngram=NGRAM, seed=SEED)

    def rensa_typical() -> Any:
        return rensa_per_doc(rensa, [python_shingles(t) for t in texts])

    def rensa_bulk() -> Any:
        return rensa.RMinHash.digest_matrix_from_token_sets(
            [python_shingles(t) for t in texts], NUM_PERM, SEED
        )

    def datasketch() -> Any:
        return datasketch_per_doc(ds, [[s.encode() for s in python_shingles(t)] for t in texts])

    def mm_normalize() -> Any:
        return mmdedup._core.normalize(arrow)

    normalized = pa.array(mmdedup._core.normalize(arrow))

    def mm_prenormalized() -> Any:
        return mmdedup._core.minhash(
            normalized, num_perm=NUM_PERM, ngram=NGRAM, seed=SEED, normalize=False
        )

    return [
        Contender("mmdedup, 1 thread", mm, 10**9, threads=1),
        Contender("mmdedup, 2 threads", mm, 10**9, threads=2),
        # Diagnostics (1 thread): where mmdedup's end-to-end time goes.
        Contender("  mmdedup normalize only", mm_normalize, 10**9, threads=1),
        Contender("  mmdedup on normalized text", mm_prenormalized, 10**9, threads=1),
        Contender("rensa RMinHash per doc", rensa_typical, 10**9),
        Contender("rensa digest_matrix (bulk)", rensa_bulk, 10**9),
        Contender("datasketch MinHash", datasketch, ds_repeats),
    ]


def kernel_only(
    shingle_lists: list[list[str]],
    docs: pa.Array,
    rensa: ModuleType,
    ds: ModuleType,
    ds_repeats: int,
) -> list[Contender]:
    as_bytes = [[s.encode() for s in sh] for sh in shingle_lists]
    # mmdedup takes ready-made token sets as an Arrow list column (built untimed, like
    # datasketch's encoded bytes): no segmentation, only hashing and the MinHash minima.
    sets = pa.array(shingle_lists, pa.list_(pa.string()))

    def mm() -> Any:
        return mmdedup.minhash_sets(sets, num_perm=NUM_PERM, seed=SEED)

    def mm_text() -> Any:
        return mmdedup._core.minhash(docs, num_perm=NUM_PERM, ngram=1, seed=SEED, normalize=False)

    def mm_one_slot() -> Any:
        return mmdedup.minhash_sets(sets, num_perm=1, seed=SEED)

    return [
        Contender("mmdedup, 1 thread", mm, 10**9, threads=1),
        Contender("mmdedup, 2 threads", mm, 10**9, threads=2),
        # Diagnostic (1 thread): the shingles as one space-separated string per document, which
        # mmdedup then segments into words itself.
        Contender("  mmdedup from text", mm_text, 10**9, threads=1),
        # Diagnostic (1 thread): the same work with one slot instead of 128, i.e. xxh3 with
        # almost no MinHash arithmetic.
        Contender("  mmdedup num_perm=1", mm_one_slot, 10**9, threads=1),
        Contender("rensa RMinHash per doc", lambda: rensa_per_doc(rensa, shingle_lists), 10**9),
        Contender(
            "rensa digest_matrix (bulk)",
            lambda: rensa.RMinHash.digest_matrix_from_token_sets(shingle_lists, NUM_PERM, SEED),
            10**9,
        ),
        Contender("datasketch MinHash", lambda: datasketch_per_doc(ds, as_bytes), ds_repeats),
    ]


# --------------------------------------------------------------------------------------------
# Timing and report


def _cpu_busy(seconds: float = 2.0) -> float:
    """Fraction of all cores busy over ``seconds`` (from /proc/stat; 0 where it is missing)."""
    try:

        def sample() -> tuple[int, int]:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
            return sum(fields), fields[3] + fields[4]  # total, idle + iowait

        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


def wait_for_quiet_machine(max_wait: float = 120.0) -> bool:
    """Waits while a Rust compile or anything else keeps the cores busy (other processes only:
    this one is idle while it checks). Gives up after ``max_wait`` seconds; returns whether the
    machine was quiet."""
    import subprocess

    deadline = time.monotonic() + max_wait
    while time.monotonic() < deadline:
        compiling = any(
            subprocess.run(["pgrep", "-x", name], capture_output=True).returncode == 0
            for name in ("rustc", "cargo")
        )
        busy = _cpu_busy()
        if not compiling and busy < 0.15:
            return True
        why = "a compile is running" if compiling else f"other processes use {busy:.0%} of the CPUs"
        print(f"  ({why}; waiting 10 s)", file=sys.stderr)
        time.sleep(10)
    print("  (machine still busy; timing anyway)", file=sys.stderr)
    return False


def run_rounds(contenders: list[Contender], repeats: int) -> int:
    """Times every contender ``repeats`` times, round robin; returns the rounds started busy."""
    if not NO_WAIT:
        wait_for_quiet_machine()
    for c in contenders:  # warm-up: first-touch allocations, permutation caches, imports
        if c.threads is not None:
            mmdedup.set_num_threads(c.threads)
        c.run()
    noisy = 0
    for r in range(repeats):
        noisy += not (NO_WAIT or wait_for_quiet_machine())
        for c in contenders:
            if r >= c.repeats:
                continue
            if c.threads is not None:
                mmdedup.set_num_threads(c.threads)
            w0, c0 = time.perf_counter(), time.process_time()
            c.run()
            c.result.cpu.append(time.process_time() - c0)
            c.result.wall.append(time.perf_counter() - w0)
        print(f"  round {r + 1}/{repeats} done", file=sys.stderr)
    return noisy


def report(
    title: str, contenders: list[Contender], mb: float, docs: int
) -> dict[str, tuple[float, float]]:
    """Prints one table; returns the median (wall, CPU) seconds by contender name."""
    print(f"\n{title}")
    head = (
        f"{'contender':<28} {'runs':>4} {'wall s':>8} {'MB/s':>8} {'docs/s':>9} "
        f"{'CPU s':>8} {'MB/CPU-s':>9}"
    )
    print(head)
    print("-" * len(head))
    out: dict[str, tuple[float, float]] = {}
    for c in contenders:
        r = c.result
        w, cpu = r.wall_median, r.cpu_median
        out[c.name] = (w, cpu)
        print(
            f"{c.name:<28} {len(r.wall):>4} {w:>8.3f} {mb / w:>8.2f} {docs / w:>9.0f} "
            f"{cpu:>8.3f} {mb / cpu:>9.2f}"
        )
    return out


def ratio_line(
    label: str, fast: tuple[float, float], slow: tuple[float, float], target: float | None
) -> None:
    """Prints ``slow / fast`` (median wall seconds; CPU seconds in brackets): a speed-up."""
    ratio = slow[0] / fast[0]
    cpu_ratio = slow[1] / fast[1]
    verdict = ""
    if target is not None:
        verdict = f"  (target >= {target:g}x: {'met' if ratio >= target else 'MISSED'})"
    print(f"  {label:<48} {ratio:>6.2f}x  (CPU {cpu_ratio:>5.2f}x){verdict}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--quick", action="store_true", help="about 3 MB, 3 repeats")
    parser.add_argument("--mb", type=float, default=32.0, help="corpus size in MB (default 32)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds (default 5)")
    parser.add_argument(
        "--ds-repeats", type=int, default=3, help="rounds datasketch takes part in (default 3)"
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="do not wait for a quiet machine before rounds"
    )
    args = parser.parse_args(argv)
    global NO_WAIT
    NO_WAIT = args.no_wait
    if args.quick:
        args.mb, args.repeats, args.ds_repeats = 3.0, 3, 2

    # Pin rensa's rayon pool to one thread before it is imported (per-core comparison).
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    import datasketch
    import rensa

    versions = {
        p: importlib.metadata.version(p) for p in ("mmdedup", "rensa", "datasketch", "pyarrow")
    }
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(
        f"python {sys.version.split()[0]}, os.cpu_count() = {os.cpu_count()}, "
        f"RAYON_NUM_THREADS (rensa) = {os.environ['RAYON_NUM_THREADS']}, "
        f"num_perm = {NUM_PERM}, ngram = {NGRAM}"
    )

    texts = load_texts(args.corpus, args.mb)
    mb = sum(len(t.encode()) for t in texts) / 1e6
    arrow = pa.array(texts, type=pa.large_string())
    print(f"corpus: {args.corpus.name}, {len(texts)} documents, {mb:.1f} MB")
    print(f"repeats: {args.repeats} (datasketch {min(args.ds_repeats, args.repeats)}), medians")

    n_py = sum(len(python_shingles(t)) for t in texts)
    n_mm = sum(len(s) for s in (mmdedup.shingles(t, ngram=NGRAM) for t in texts[:2000]))
    n_mm_base = sum(len(python_shingles(t)) for t in texts[:2000])
    print(
        f"(a) shingles (with repeats): python split 5-grams {n_py:,}; mmdedup UAX#29 5-grams are "
        f"{n_mm / max(n_mm_base, 1):.2f}x as many (first 2000 docs)"
    )

    kernel_lists = [kernel_shingles(t) for t in texts]
    kernel_docs = [" ".join(sh) for sh in kernel_lists]
    check_kernel_input(kernel_lists[: min(len(texts), 2000)], kernel_docs[:2000])
    kernel_arrow = pa.array(kernel_docs, type=pa.large_string())
    n_k = sum(len(s) for s in kernel_lists)
    print(f"(b) ready-made shingles: {n_k:,} ('_'-joined ASCII 5-grams), checked for mmdedup")

    a = end_to_end(texts, arrow, rensa, datasketch, args.ds_repeats)
    print("\nrunning (a) end to end ...", file=sys.stderr)
    noisy = run_rounds(a, args.repeats)
    b = kernel_only(kernel_lists, kernel_arrow, rensa, datasketch, args.ds_repeats)
    print("running (b) kernel alone ...", file=sys.stderr)
    noisy += run_rounds(b, args.repeats)

    ta = report(f"(a) end to end, raw text -> signatures ({mb:.1f} MB of text)", a, mb, len(texts))
    kb = sum(len(d.encode()) for d in kernel_docs) / 1e6
    print("    MB/s counts the raw text bytes.")
    tb = report(
        f"(b) kernel alone, same ready-made shingles ({kb:.1f} MB of shingle text)",
        b,
        kb,
        len(texts),
    )
    print("    MB/s counts the bytes of the '_'-joined shingle text mmdedup receives.")
    print("    Indented rows are mmdedup diagnostics, 1 thread; they are not in the ratios.")

    checked = "not checked (--no-wait)" if NO_WAIT else f"{noisy} of {2 * args.repeats}"
    print(
        f"\nrounds started on a busy machine (others > 15% CPU after 2 min of waiting): {checked}"
    )
    one, two = "mmdedup, 1 thread", "mmdedup, 2 threads"
    print("\nratios of median seconds (mmdedup 1 thread = per core; > 1: mmdedup is faster)")
    ratio_line("(a) mmdedup / rensa per doc", ta[one], ta["rensa RMinHash per doc"], 5)
    ratio_line("(a) mmdedup / rensa bulk", ta[one], ta["rensa digest_matrix (bulk)"], None)
    ratio_line("(a) mmdedup / datasketch", ta[one], ta["datasketch MinHash"], 20)
    ratio_line("(b) mmdedup / rensa per doc", tb[one], tb["rensa RMinHash per doc"], 1.5)
    ratio_line("(b) mmdedup / rensa bulk", tb[one], tb["rensa digest_matrix (bulk)"], None)
    ratio_line("(b) mmdedup / datasketch", tb[one], tb["datasketch MinHash"], None)
    ratio_line("(c) mmdedup 2 threads / 1 thread, end to end", ta[two], ta[one], 1.8)
    ratio_line("(c) mmdedup 2 threads / 1 thread, kernel", tb[two], tb[one], 1.8)


if __name__ == "__main__":
    main()
