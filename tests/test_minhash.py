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


# An independent, plain-Python definition of the native scheme (version 2), for the pinned
# vector and to check the kernels against: xxh3-64 (inputs up to 128 bytes, from the xxHash
# specification), SplitMix64, then the affine permutations mod 2^32.
_M64 = 2**64 - 1
_XXH3_SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
)


def _u64(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 8], "little")


def _u32(b: bytes, i: int) -> int:
    return int.from_bytes(b[i : i + 4], "little")


def _xxh64_avalanche(h: int) -> int:
    h ^= h >> 33
    h = h * 0xC2B2AE3D27D4EB4F & _M64
    h ^= h >> 29
    h = h * 0x165667B19E3779F9 & _M64
    return h ^ (h >> 32)


def _xxh3_avalanche(h: int) -> int:
    h ^= h >> 37
    h = h * 0x165667919E3779F9 & _M64
    return h ^ (h >> 32)


def _fold(a: int, b: int) -> int:
    p = (a & _M64) * (b & _M64)
    return (p & _M64) ^ (p >> 64)


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def xxh3_64(data: bytes) -> int:
    """XXH3-64 with seed 0 and the default secret, for inputs of at most 128 bytes."""
    n, s = len(data), _XXH3_SECRET
    assert n <= 128
    if n == 0:
        return _xxh64_avalanche(_u64(s, 56) ^ _u64(s, 64))
    if n <= 3:
        combined = (data[0] << 16) | (data[n >> 1] << 24) | data[n - 1] | (n << 8)
        return _xxh64_avalanche(combined ^ (_u32(s, 0) ^ _u32(s, 4)))
    if n <= 8:
        keyed = (_u32(data, n - 4) + (_u32(data, 0) << 32)) ^ (_u64(s, 8) ^ _u64(s, 16))
        h = keyed ^ _rotl(keyed, 49) ^ _rotl(keyed, 24)
        h = h * 0x9FB21C651E98DF25 & _M64
        h ^= (h >> 35) + n
        h = h * 0x9FB21C651E98DF25 & _M64
        return h ^ (h >> 28)
    if n <= 16:
        lo = _u64(data, 0) ^ (_u64(s, 24) ^ _u64(s, 32))
        hi = _u64(data, n - 8) ^ (_u64(s, 40) ^ _u64(s, 48))
        swapped = int.from_bytes(lo.to_bytes(8, "little"), "big")
        return _xxh3_avalanche((n + swapped + hi + _fold(lo, hi)) & _M64)

    def mix16(i: int, j: int) -> int:
        return _fold(_u64(data, i) ^ _u64(s, j), _u64(data, i + 8) ^ _u64(s, j + 8))

    acc = n * 0x9E3779B185EBCA87
    for k in range(3, -1, -1):  # from the middle of the input out to its ends
        if n > 32 * k:
            acc += mix16(16 * k, 32 * k) + mix16(n - 16 * (k + 1), 32 * k + 16)
    return _xxh3_avalanche(acc & _M64)


def splitmix64(seed: int, count: int) -> list[int]:
    out, state = [], seed
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & _M64
        z = state
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & _M64
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB & _M64
        out.append(z ^ (z >> 31))
    return out


def native_signature(shingles: list[str], num_perm: int, seed: int) -> list[int]:
    """The native scheme by its documented definition."""
    s = splitmix64(seed, 2 * num_perm)
    a = [(s[2 * i] % 2**32) | 1 for i in range(num_perm)]
    b = [s[2 * i + 1] % 2**32 for i in range(num_perm)]
    xs = [xxh3_64(sh.encode()) % 2**32 for sh in shingles]
    if not xs:
        return [2**32 - 1] * num_perm
    return [min((a[i] * x + b[i]) % 2**32 for x in xs) for i in range(num_perm)]


def test_reference_xxh3_matches_published_values() -> None:
    # From the xxHash reference implementation (the `xxhash` package, XXH3_64bits).
    assert xxh3_64(b"") == 0x2D06800538D394C2
    for data, want in XXH3_VECTORS.items():
        assert xxh3_64(data) == want, data


XXH3_VECTORS = {
    b"a": 0xE6C632B61E964E1F,
    b"abc": 0x78AF5F94892F3950,
    b"abcd": 0x6497A96F53A89890,
    b"abcdefgh": 0x6F45A76842A96483,
    b"abcdefghi": 0xE0DDE4FC174590A0,
    b"0123456789abcdef": 0x64439946D8FA212D,
    b"0123456789abcdefg": 0xD2E63ED5466F5C32,
    b"the quick brown fox jumps": 0x90602C70EE7F6208,
    b"x" * 33: 0xB2F838286AD45E97,
    b"y" * 65: 0xA272AFAFC20D9A02,
    b"z" * 97: 0xF86BF9745E0C85DA,
    b"w" * 128: 0x1BBC3CBDF0D1CE93,
}


def test_native_scheme_is_pinned() -> None:
    # The native scheme is part of mmdedup's contract: these values must never change.
    text = "the quick brown fox jumps over the lazy dog"
    shingles = mmdedup.shingles(text, ngram=5)
    assert shingles[0] == "the quick brown fox jumps"
    assert native_signature(shingles, 4, 1) == PINNED
    sig = mmdedup.minhash([text], num_perm=4, seed=1)
    assert sig.dtype == np.uint32
    assert sig[0].tolist() == PINNED


PINNED = [115520623, 47821415, 397011076, 34309556]


@settings(max_examples=100, deadline=None)
@given(
    # At most 40 characters: every shingle fits the reference xxh3's 128 bytes.
    text=st.text(alphabet=st.sampled_from("ab cdé fg 中文 h,.!XY0123456789"), max_size=40),
    ngram=st.integers(1, 6),
    num_perm=st.integers(1, 70),
    seed=st.integers(0, 2**64 - 1),
)
def test_native_matches_its_definition(text: str, ngram: int, num_perm: int, seed: int) -> None:
    shingles = mmdedup.shingles(text, ngram=ngram)
    ours = mmdedup.minhash([text], num_perm=num_perm, ngram=ngram, seed=seed)[0]
    assert ours.tolist() == native_signature(shingles, num_perm, seed)
    sets = mmdedup.minhash_sets([shingles], num_perm=num_perm, seed=seed)[0]
    assert sets.tolist() == ours.tolist()


def test_empty_documents() -> None:
    sig = mmdedup.minhash(["", None, "!!!"], num_perm=4)
    assert (sig == 2**32 - 1).all()
