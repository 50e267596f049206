from __future__ import annotations

import random

import datasketch
import mmdedup
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

GOLDEN = {
    "datasketch-legacy": [
        3908351265,
        900186415,
        2377919251,
        434003653,
        1687277134,
        163965896,
        832230694,
        732736363,
    ],
    "datasketch-affine32": [
        1239527251,
        14679124,
        739953468,
        1460388045,
        40629824,
        1273249559,
        720665469,
        1099434828,
    ],
}


@pytest.mark.parametrize("scheme", sorted(GOLDEN))
def test_datasketch_golden_vectors(scheme: str) -> None:
    # The three word 5-grams of this text are the golden vector's three tokens.
    sig = mmdedup.minhash(["the quick brown fox jumps over the"], num_perm=8, seed=1, scheme=scheme)  # type: ignore[arg-type]
    assert sig[0].tolist() == GOLDEN[scheme]


def _datasketch(shingles: list[str], num_perm: int, seed: int, scheme: str) -> np.ndarray:
    m = datasketch.MinHash(num_perm=num_perm, seed=seed, scheme=scheme.removeprefix("datasketch-"))
    for s in shingles:
        m.update(s.encode())
    return m.hashvalues


@settings(max_examples=40, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("ab cdé fg 中文 h,.!"), max_size=80),
    ngram=st.integers(1, 4),
    seed=st.integers(0, 2**31),
    scheme=st.sampled_from(["datasketch-legacy", "datasketch-affine32"]),
)
def test_matches_datasketch_itself(text: str, ngram: int, seed: int, scheme: str) -> None:
    ours = mmdedup.minhash([text], num_perm=32, ngram=ngram, seed=seed, scheme=scheme)[0]  # type: ignore[arg-type]
    theirs = _datasketch(mmdedup.shingles(text, ngram=ngram), 32, seed, scheme)
    assert ours.dtype == theirs.dtype
    assert ours.tolist() == theirs.tolist()


@settings(max_examples=30, deadline=None)
@given(
    sets=st.lists(st.lists(st.text(max_size=12), max_size=30), min_size=1, max_size=5),
    seed=st.integers(0, 2**31),
    scheme=st.sampled_from(["datasketch-legacy", "datasketch-affine32"]),
)
def test_token_sets_match_datasketch(sets: list[list[str]], seed: int, scheme: str) -> None:
    ours = mmdedup.minhash_sets(sets, num_perm=16, seed=seed, scheme=scheme)  # type: ignore[arg-type]
    for row, tokens in zip(ours, sets, strict=True):
        assert row.tolist() == _datasketch(tokens, 16, seed, scheme).tolist()


def test_token_sets_accept_arrow_and_binary() -> None:
    import pyarrow as pa

    sets = [["a", "b"], None, [], ["b", "a", "a"]]
    want = mmdedup.minhash_sets(sets, num_perm=8)
    as_bytes = pa.array(
        [None if s is None else [x.encode() for x in s] for s in sets], pa.large_list(pa.binary())
    )
    assert (mmdedup.minhash_sets(as_bytes, num_perm=8) == want).all()
    assert (want[1] == 2**32 - 1).all() and (want[2] == 2**32 - 1).all()
    assert (want[0] == want[3]).all()
    with pytest.raises(mmdedup.InputError, match="list column"):
        mmdedup.minhash_sets(pa.array(["not", "lists"]))


@settings(max_examples=60, deadline=None)
@given(
    common=st.integers(0, 400),
    only_a=st.integers(0, 400),
    only_b=st.integers(0, 400),
    seed=st.integers(0, 1000),
)
def test_estimate_within_statistical_bound(
    common: int, only_a: int, only_b: int, seed: int
) -> None:
    if common + only_a == 0 or common + only_b == 0:
        return
    a = " ".join(f"c{i}" for i in range(common)) + " " + " ".join(f"a{i}" for i in range(only_a))
    b = " ".join(f"c{i}" for i in range(common)) + " " + " ".join(f"b{i}" for i in range(only_b))
    exact = common / (common + only_a + only_b)
    k = 256
    sig = mmdedup.minhash([a, b], num_perm=k, ngram=1, seed=seed)
    est = float((sig[0] == sig[1]).mean())
    # Binomial standard deviation of the estimate, 5 sigma (plus one slot for tiny variances).
    bound = 5 * np.sqrt(exact * (1 - exact) / k) + 1 / k
    assert abs(est - exact) <= bound


def test_signatures_independent_of_thread_count(rng: random.Random) -> None:
    from conftest import random_doc

    docs = [random_doc(rng, rng.randrange(1, 300)) for _ in range(3000)]
    mmdedup.set_num_threads(1)
    one = mmdedup.minhash(docs)
    mmdedup.set_num_threads(2)
    two = mmdedup.minhash(docs)
    assert (one == two).all()
    assert mmdedup.get_num_threads() == 2


def test_native_scheme_is_pinned() -> None:
    # The native scheme is part of mmdedup's contract: these values must never change.
    sig = mmdedup.minhash(["the quick brown fox jumps over the lazy dog"], num_perm=4, seed=1)
    assert sig.dtype == np.uint32
    assert sig[0].tolist() == PINNED


PINNED = [402882063, 580773768, 402428786, 53197566]


def test_empty_documents() -> None:
    sig = mmdedup.minhash(["", None, "!!!"], num_perm=4)
    assert (sig == 2**32 - 1).all()
