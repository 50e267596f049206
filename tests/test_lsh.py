from __future__ import annotations

from pathlib import Path

import mmdedup
import numpy as np
import pytest
from datasketch import MinHashLSH
from mmdedup import _core


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_params_match_datasketch(threshold: float, num_perm: int) -> None:
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    assert mmdedup.lsh_params(threshold, num_perm) == (lsh.b, lsh.r)


def test_params_reject_bad_threshold() -> None:
    with pytest.raises(mmdedup.ParameterError, match="threshold"):
        mmdedup.lsh_params(1.5)


@pytest.mark.parametrize("similarity", [0.3, 0.5, 0.65, 0.8])
def test_candidate_rate_follows_the_curve(similarity: float) -> None:
    # 1500 pairs with an exact Jaccard of `similarity` (word 1-grams over disjoint vocabularies);
    # the share that becomes LSH candidates must match 1 - (1 - s^r)^b within 4.5 standard
    # deviations of a binomial.
    pairs, size = 1500, 200
    common = round(similarity * size * 2 / (1 + similarity))
    only = size - common
    texts = []
    for p in range(pairs):
        shared = [f"p{p}c{i}" for i in range(common)]
        texts.append(" ".join(shared + [f"p{p}a{i}" for i in range(only)]))
        texts.append(" ".join(shared + [f"p{p}b{i}" for i in range(only)]))
    exact = common / (common + 2 * only)
    bands, rows = 20, 5
    sigs = mmdedup.minhash(texts, num_perm=bands * rows, ngram=1, seed=7)
    edges = _core.lsh_candidates(sigs, np.zeros(len(texts), np.bool_), bands=bands, rows=rows)
    found = {(int(a), int(b)) for a, b in edges if b == a + 1 and a % 2 == 0}
    rate = len(found) / pairs
    p = 1 - (1 - exact**rows) ** bands
    sd = np.sqrt(p * (1 - p) / pairs)
    assert abs(rate - p) <= 4.5 * sd + 1e-9, (rate, p)
    # No pair across different documents of different pairs shares a band by chance.
    assert all(b == a + 1 and a % 2 == 0 for a, b in edges)


def test_hamming_neighbours_match_brute_force() -> None:
    rng = np.random.default_rng(5)
    base = rng.integers(0, 2**63, size=300, dtype=np.uint64)
    noise = np.zeros(300, dtype=np.uint64)
    for i in range(300):
        for bit in rng.choice(64, size=rng.integers(0, 6), replace=False):
            noise[i] |= np.uint64(1) << np.uint64(bit)
    hashes = np.concatenate([base, base ^ noise, base[:20]])
    equal, near = _core.hamming_neighbours(hashes, np.zeros(len(hashes), np.bool_), k=4)
    labels = _core.components(len(hashes), np.concatenate([equal, near]))
    x = hashes[:, None] ^ hashes[None, :]
    dist = np.vectorize(lambda v: int(v).bit_count())(x)
    # Same component as brute-force connectivity.
    brute = _core.components(len(hashes), np.argwhere(np.triu(dist <= 4, 1)).astype(np.uint32))
    assert (labels == brute).all()


_ROW = np.dtype([("key", "<u8"), ("doc", "<u4")])


def _pairs_of_runs(rows: np.ndarray, window: int) -> np.ndarray:
    """The reference: (key, doc) rows sorted; in each run of equal keys, every member paired
    with up to ``window`` members before it; the pairs sorted and distinct."""
    rows = np.sort(rows, order=["key", "doc"])
    pairs = set()
    start = 0
    keys, docs = rows["key"].tolist(), rows["doc"].tolist()
    for i in range(len(keys)):
        if i == 0 or keys[i] != keys[i - 1]:
            start = i
        for j in range(max(start, i - window), i):
            pairs.add((docs[j], docs[i]))
    return np.array(sorted(pairs), dtype=np.uint32).reshape(-1, 2)


@pytest.mark.parametrize("window", [1, 8])
def test_partition_pairs_reads_the_row_files_and_pairs_equal_keys(
    tmp_path: Path, window: int
) -> None:
    # Several files of (key, doc) rows, keys drawn from few values so that buckets are large
    # and cross the files; one file empty.
    rng = np.random.default_rng(3)
    files, parts = [], []
    for i, n in enumerate([3_000, 0, 1, 6_000]):
        rows = np.empty(n, dtype=_ROW)
        rows["key"] = rng.integers(0, 300, n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        rows["doc"] = rng.integers(0, 2**32 - 1, n, dtype=np.uint32)
        path = tmp_path / f"{i}.rows"
        rows.tofile(path)
        files.append(path)
        parts.append(rows)
    want = _pairs_of_runs(np.concatenate(parts), window)
    assert len(want) > 1000
    for threads in (1, 2):
        mmdedup.set_num_threads(threads)
        got = _core.partition_pairs([str(f) for f in files], window=window)
        assert got.dtype == np.uint32
        assert np.array_equal(got, want)


def test_partition_pairs_names_a_torn_or_missing_file(tmp_path: Path) -> None:
    torn = tmp_path / "torn.rows"
    torn.write_bytes(b"\0" * 25)
    with pytest.raises(mmdedup.InputError, match=r"torn\.rows.*25 bytes"):
        _core.partition_pairs([torn])
    with pytest.raises(mmdedup.InputError, match=r"gone\.rows"):
        _core.partition_pairs([tmp_path / "gone.rows"])
