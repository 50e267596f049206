"""Per-document text kernels: normalization, tokens, shingles and signatures."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from . import _core
from ._arrow import ArrowLike, to_arrow
from .errors import ParameterError

__all__ = [
    "Scheme",
    "Tokenizer",
    "datasketch_permutations",
    "exact_hash",
    "lsh_params",
    "lsh_recall_params",
    "minhash",
    "minhash_sets",
    "normalize",
    "shingles",
    "simhash",
    "tokenize",
]

Tokenizer = Literal["word", "char"]
Scheme = Literal["mmdedup", "datasketch-legacy", "datasketch-affine32"]

_MERSENNE61 = (1 << 61) - 1


def normalize(
    texts: ArrowLike, *, fold_digits: bool = False, strip_accents: bool = False
) -> pa.Array:
    """Normalizes texts the way every dedup method sees them.

    Unicode NFKC, lowercase, every character that is not a letter, number or combining mark
    becomes a space, runs of spaces collapse. Nulls stay null.

    Args:
        texts: Strings (a ``pl.Series``, ``pa.Array``, ... or a list).
        fold_digits: Replace each decimal digit with ``0``.
        strip_accents: Remove accents and other combining marks.

    Returns:
        A ``pa.StringArray``.

    >>> normalize(["Hello,  WORLD!", None, "Ｃafé №5"]).to_pylist()
    ['hello world', None, 'café no5']
    """
    out = _core.normalize(to_arrow(texts), fold_digits=fold_digits, strip_accents=strip_accents)
    return pa.array(out)


def tokenize(text: str, *, normalize: bool = True) -> list[str]:
    """The word tokens of one text: UAX #29 words, unspaced scripts split into characters.

    >>> tokenize("Don't stop: 我爱北京!")
    ['don', 't', 'stop', '我', '爱', '北', '京']
    >>> tokenize("Don't stop", normalize=False)
    ["Don't", 'stop']
    """
    return _core.tokenize(text, normalize=normalize)


def shingles(
    text: str, *, ngram: int = 5, tokenizer: Tokenizer = "word", normalize: bool = True
) -> list[str]:
    """The shingles of one text, in order, repeats included.

    Word shingles are ``ngram`` consecutive tokens joined by one space; char shingles are
    ``ngram`` consecutive characters of the normalized text. A text shorter than ``ngram`` units
    has one shingle, an empty one none.

    >>> shingles("The quick brown fox jumps", ngram=3)
    ['the quick brown', 'quick brown fox', 'brown fox jumps']
    >>> shingles("abcd", ngram=3, tokenizer="char")
    ['abc', 'bcd']
    """
    return _core.shingles(text, ngram=ngram, tokenizer=tokenizer, normalize=normalize)


def datasketch_permutations(
    num_perm: int, seed: int, scheme: Scheme
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """The permutation parameters datasketch 2.x draws for ``scheme`` (NumPy ``RandomState``)."""
    if not 0 <= seed < 2**32:
        raise ParameterError(f"`seed` of a datasketch scheme must be in 0..2**32-1, got {seed}")
    if not 1 <= num_perm <= 8192:
        raise ParameterError(f"`num_perm` must be in 1..8192, got {num_perm}")
    gen = np.random.RandomState(seed)
    if scheme == "datasketch-legacy":
        # Drawn interleaved, one scalar at a time, exactly as datasketch's MinHash.__init__.
        pairs = [
            (
                gen.randint(1, _MERSENNE61, dtype=np.uint64),
                gen.randint(0, _MERSENNE61, dtype=np.uint64),
            )
            for _ in range(num_perm)
        ]
        a = np.array([p[0] for p in pairs], dtype=np.uint64)
        b = np.array([p[1] for p in pairs], dtype=np.uint64)
        return a, b
    if scheme == "datasketch-affine32":
        a32 = 2 * gen.randint(0, 1 << 31, size=num_perm, dtype=np.uint32) + 1
        b32 = gen.randint(0, 1 << 32, size=num_perm, dtype=np.uint32)
        return a32.astype(np.uint64), b32.astype(np.uint64)
    raise ParameterError(f"`scheme` has no datasketch permutations: {scheme!r}")


def minhash(
    texts: ArrowLike,
    *,
    num_perm: int = 128,
    ngram: int = 5,
    seed: int = 1,
    tokenizer: Tokenizer = "word",
    scheme: Scheme = "mmdedup",
    normalize: bool = True,
    fold_digits: bool = False,
    strip_accents: bool = False,
) -> npt.NDArray[np.unsignedinteger]:
    """MinHash signatures, one row per text.

    The native scheme (``"mmdedup"``, definition version 2) is fixed across platforms: shingle
    hash ``x = xxh3_64(utf8) mod 2^32``; slot ``i`` is the minimum of ``(a_i·x + b_i) mod 2^32``
    with ``a_i = (s_2i mod 2^32) | 1`` and ``b_i = s_2i+1 mod 2^32``, where ``s_0, s_1, ...`` are
    the outputs of SplitMix64(``seed``). ``"datasketch-legacy"`` and
    ``"datasketch-affine32"`` reproduce datasketch 2.x signatures bit for bit when each shingle
    is one of its tokens (``MinHash(num_perm, seed, scheme=...).update(shingle.encode())``).

    Null, empty and punctuation-only texts have no shingle: every slot is ``2**32 - 1``.

    Args:
        texts: Strings, or binary values holding UTF-8.
        num_perm: Number of slots.
        ngram: Shingle size in units of ``tokenizer``.
        seed: Seed of the permutations.
        tokenizer: ``"word"`` (UAX #29 words; CJK/Thai split into characters) or ``"char"``.
        scheme: Hash family, see above.
        normalize: Normalize texts first (see :func:`normalize`).
        fold_digits: Normalization option.
        strip_accents: Normalization option.

    Returns:
        A ``(len(texts), num_perm)`` array: ``uint32``, or ``uint64`` for ``datasketch-legacy``
        (datasketch's own dtype).

    >>> sig = minhash(["the cat sat on the mat today", "the cat sat on the mat today!"], ngram=3)
    >>> sig.shape, bool((sig[0] == sig[1]).all())
    ((2, 128), True)
    """
    a = b = None
    if scheme != "mmdedup":
        a, b = datasketch_permutations(num_perm, seed, scheme)
    sigs, _ = _core.minhash(
        to_arrow(texts),
        num_perm=num_perm,
        ngram=ngram,
        seed=seed,
        tokenizer=tokenizer,
        normalize=normalize,
        fold_digits=fold_digits,
        strip_accents=strip_accents,
        scheme=scheme,
        a=a,
        b=b,
    )
    if scheme == "datasketch-legacy":
        return sigs.astype(np.uint64)
    return sigs


def minhash_sets(
    sets: ArrowLike,
    *,
    num_perm: int = 128,
    seed: int = 1,
    scheme: Scheme = "mmdedup",
) -> npt.NDArray[np.unsignedinteger]:
    """MinHash signatures of ready-made token sets: each token is one shingle, hashed as is.

    For pipelines with their own shingling, and for datasketch users: with a datasketch scheme,
    row ``i`` equals ``MinHash(num_perm, seed, scheme=...)`` updated with the tokens of set
    ``i`` (``str`` tokens as UTF-8). Same signature as :func:`minhash` gives when the tokens are
    that text's shingles.

    Args:
        sets: A list column (``pa.ListArray``, ``pl.Series`` of lists) of ``str`` or ``bytes``,
            or a Python list of lists; null rows are empty sets.

    >>> sets = [["the quick brown", "quick brown fox"], ["quick brown fox", "the quick brown"]]
    >>> sig = minhash_sets(sets, num_perm=16)
    >>> bool((sig[0] == sig[1]).all())
    True
    >>> text = "The quick brown fox"
    >>> bool((minhash_sets([shingles(text, ngram=3)]) == minhash([text], ngram=3)).all())
    True
    """
    a = b = None
    if scheme != "mmdedup":
        a, b = datasketch_permutations(num_perm, seed, scheme)
    arr = sets
    if not (hasattr(sets, "__arrow_c_stream__") or hasattr(sets, "__arrow_c_array__")):
        arr = pa.array(list(sets))
    sigs, _ = _core.minhash_sets(arr, num_perm=num_perm, seed=seed, scheme=scheme, a=a, b=b)
    if scheme == "datasketch-legacy":
        return sigs.astype(np.uint64)
    return sigs


def simhash(
    texts: ArrowLike,
    *,
    ngram: int = 3,
    tokenizer: Tokenizer = "word",
    normalize: bool = True,
) -> npt.NDArray[np.uint64]:
    """64-bit SimHash fingerprints (Charikar), one per text; 0 for texts without shingles.

    >>> fp = simhash(["a b c d e f g h", "a b c d e f g x"])
    >>> int(bin(int(fp[0] ^ fp[1])).count("1")) < 32
    True
    """
    fps, _ = _core.simhash(to_arrow(texts), ngram=ngram, tokenizer=tokenizer, normalize=normalize)
    return fps


def exact_hash(texts: ArrowLike, *, normalize: bool = True) -> pa.FixedSizeBinaryArray:
    """xxh3-128 of each normalized text, as 16-byte values; null for texts that are empty.

    >>> h = exact_hash(["Hello, world", "hello world!", ""])
    >>> h[0] == h[1], h[2].is_valid
    (True, False)
    """
    digest, empty = _core.exact_hash(to_arrow(texts), normalize=normalize)
    valid = pa.array(~empty).buffers()[1] if empty.any() else None
    return pa.Array.from_buffers(pa.binary(16), len(empty), [valid, pa.py_buffer(digest)])


def lsh_params(
    threshold: float,
    num_perm: int = 128,
    *,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]:
    """The ``(bands, rows)`` datasketch's ``MinHashLSH`` picks for a Jaccard threshold.

    >>> lsh_params(0.8, 128)
    (9, 13)
    """
    bands, rows = _core.lsh_params(
        threshold,
        num_perm,
        false_positive_weight=false_positive_weight,
        false_negative_weight=false_negative_weight,
    )
    return bands, rows


def lsh_recall_params(
    threshold: float, num_perm: int = 128, *, max_miss: float = 0.001
) -> tuple[int, int]:
    """The ``(bands, rows)`` mmdedup picks when candidates are verified exactly.

    Among the geometries with ``bands × rows ≤ num_perm`` that miss a pair of Jaccard similarity
    exactly ``threshold`` with probability at most ``max_miss`` (``(1 − t^r)^b ≤ max_miss``),
    the one with the fewest candidates below the threshold (the smallest false-positive area
    of the S-curve). Recall comes from the bands, precision from the exact check.

    >>> lsh_recall_params(0.8, 128)
    (18, 5)
    >>> lsh_recall_params(0.9, 128)
    (13, 8)
    """
    bands, rows = _core.lsh_recall_params(threshold, num_perm, max_miss=max_miss)
    return bands, rows
