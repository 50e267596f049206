"""Pair measures as the run meant them, and the Wilson interval.

Text pairs use mmdedup's own kernels with the run's parameters: the exact Jaccard similarity of
the shingle sets (``_core.jaccard``, the kernel behind ``--verify jaccard``), the MinHash
estimate from signatures computed for just the sampled texts, SimHash fingerprints and exact
hashes. Interleaved documents are compared as the run compared them: the shingles of the text it
hashed plus ``image_weight`` tokens per remaining image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from .. import _core
from ..dedup import DedupConfig, compute_signatures

__all__ = ["PairScores", "hamming", "set_scores", "text_scores", "wilson"]


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (95% by default).

    >>> tuple(round(x, 4) for x in wilson(95, 100))
    (0.8882, 0.9785)
    >>> wilson(0, 0)
    (0.0, 1.0)
    """
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class PairScores:
    """Per pair: exact Jaccard, MinHash estimate, Hamming distance (SimHash), and whether the
    pair meets the run's rule exactly."""

    jaccard: npt.NDArray[np.float64]
    estimate: npt.NDArray[np.float64] | None
    distance: npt.NDArray[np.int64] | None
    agrees: npt.NDArray[np.bool_]


def hamming(a: object, b: object) -> int:
    """Bits that differ between two hashes (ints, or bytes of equal length)."""
    if isinstance(a, bytes | bytearray) and isinstance(b, bytes | bytearray):
        return int.from_bytes(bytes(x ^ y for x, y in zip(a, b, strict=True)), "big").bit_count()
    if isinstance(a, int) and isinstance(b, int):
        return (a ^ b).bit_count()
    raise TypeError(f"cannot compare hashes {type(a).__name__} and {type(b).__name__}")


def _pairs(n: int) -> npt.NDArray[np.uint32]:
    return np.arange(2 * n, dtype=np.uint32).reshape(n, 2)


def text_scores(pairs: Sequence[tuple[str | None, str | None]], cfg: DedupConfig) -> PairScores:
    """Measures ``(kept, member)`` text pairs with the run's configuration."""
    n = len(pairs)
    flat = pa.array([t for p in pairs for t in p], pa.string())
    if n == 0:
        z = np.zeros(0)
        return PairScores(z, None, None, np.zeros(0, np.bool_))
    edges = _pairs(n)
    jac = np.asarray(
        _core.jaccard(
            flat,
            edges,
            ngram=cfg.ngram,
            tokenizer=cfg.tokenizer,
            normalize=cfg.normalize,
            fold_digits=cfg.fold_digits,
            strip_accents=cfg.strip_accents,
        ),
        dtype=np.float64,
    )
    sigs = compute_signatures(flat, cfg)
    a, b = sigs.data[0::2], sigs.data[1::2]
    estimate = distance = None
    if cfg.method == "minhash":
        estimate = np.asarray((a == b).mean(axis=1), dtype=np.float64)
        agrees = jac >= cfg.threshold
    elif cfg.method == "simhash":
        x = np.bitwise_xor(a.astype(np.uint64), b.astype(np.uint64))
        distance = np.array([int(v).bit_count() for v in x.tolist()], dtype=np.int64)
        agrees = distance <= cfg.max_distance
    else:
        agrees = (a == b).all(axis=1)
    empty = sigs.empty[0::2] | sigs.empty[1::2]
    return PairScores(jac, estimate, distance, np.asarray(agrees & ~empty, dtype=np.bool_))


def set_scores(
    pairs: Sequence[tuple[list[str], list[str]]], cfg: DedupConfig
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Exact Jaccard and MinHash estimate of ready-made token sets (interleaved documents)."""
    jac = np.zeros(len(pairs), dtype=np.float64)
    for i, (a, b) in enumerate(pairs):
        sa, sb = set(a), set(b)
        union = len(sa | sb)
        jac[i] = len(sa & sb) / union if union else 0.0
    if not pairs:
        return jac, np.zeros(0)
    sets = pa.array([sorted(set(s)) for p in pairs for s in p], pa.list_(pa.string()))
    sigs, _ = _core.minhash_sets(sets, num_perm=cfg.num_perm, seed=cfg.seed)
    est = np.asarray((sigs[0::2] == sigs[1::2]).mean(axis=1), dtype=np.float64)
    return jac, est


def shingle_set(text: str, cfg: DedupConfig) -> list[str]:
    """The run's shingles of one text (normalized as the run normalized it)."""
    return list(
        _core.shingles(
            text,
            ngram=cfg.ngram,
            tokenizer=cfg.tokenizer,
            normalize=cfg.normalize,
            fold_digits=cfg.fold_digits,
            strip_accents=cfg.strip_accents,
        )
    )
