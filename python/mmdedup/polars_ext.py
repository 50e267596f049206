"""The ``mmdedup`` namespace on Polars expressions.

>>> import polars as pl, mmdedup
>>> df = pl.DataFrame({"text": ["Hello, World!", None]})
>>> df.select(pl.col("text").mmdedup.normalize()).to_series().to_list()
['hello world', None]
>>> df.select(pl.col("text").mmdedup.minhash(num_perm=4)).schema["text"]
Array(UInt32, shape=(4,))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from . import text as _text
from .text import Tokenizer

__all__ = ["MmdedupNamespace"]


@pl.api.register_expr_namespace("mmdedup")
class MmdedupNamespace:
    """Per-row text kernels usable inside ``select``/``with_columns`` and lazy queries."""

    def __init__(self, expr: pl.Expr) -> None:
        self._expr = expr

    def _map(self, fn: Any, dtype: pl.DataType) -> pl.Expr:
        return self._expr.map_batches(fn, return_dtype=dtype)

    def normalize(self, *, fold_digits: bool = False, strip_accents: bool = False) -> pl.Expr:
        """Normalized text (see :func:`mmdedup.normalize`)."""
        return self._map(
            lambda s: pl.Series(
                s.name, _text.normalize(s, fold_digits=fold_digits, strip_accents=strip_accents)
            ),
            pl.String(),
        )

    def minhash(
        self, *, num_perm: int = 128, ngram: int = 5, seed: int = 1, tokenizer: Tokenizer = "word"
    ) -> pl.Expr:
        """MinHash signature as ``Array(UInt32, num_perm)`` (native scheme)."""

        def fn(s: pl.Series) -> pl.Series:
            sig = _text.minhash(s, num_perm=num_perm, ngram=ngram, seed=seed, tokenizer=tokenizer)
            return pl.Series(s.name, sig, dtype=pl.Array(pl.UInt32, num_perm))

        return self._map(fn, pl.Array(pl.UInt32, num_perm))

    def simhash(self, *, ngram: int = 3, tokenizer: Tokenizer = "word") -> pl.Expr:
        """64-bit SimHash fingerprint as ``UInt64``."""
        return self._map(
            lambda s: pl.Series(
                s.name, _text.simhash(s, ngram=ngram, tokenizer=tokenizer), dtype=pl.UInt64
            ),
            pl.UInt64(),
        )

    def exact_hash(self) -> pl.Expr:
        """xxh3-128 of the normalized text as 16-byte ``Binary`` (null when empty)."""
        return self._map(
            lambda s: pl.Series(s.name, _text.exact_hash(s)).cast(pl.Binary), pl.Binary()
        )

    def image_hash(
        self, *, method: str = "phash", hash_size: int = 8, mode: str = "canonical"
    ) -> pl.Expr:
        """Perceptual hash of encoded images in a binary column: ``UInt64`` for hashes of up to
        64 bits, ``Binary`` for longer ones (PDQ); null where the image cannot be decoded."""
        from . import image as _image

        long = method.startswith("pdq") or hash_size > 8

        def fn(s: pl.Series) -> pl.Series:
            t = _image.image_hash(s, method=method, hash_size=hash_size, mode=mode)  # type: ignore[arg-type]
            out = pl.Series(s.name, t["hash"])
            return out.cast(pl.Binary) if long else out

        return self._map(fn, pl.Binary() if long else pl.UInt64())

    def shingle_count(self, *, ngram: int = 5, tokenizer: Tokenizer = "word") -> pl.Expr:
        """Number of shingles (0 marks a text that can never be a near-duplicate)."""

        def fn(s: pl.Series) -> pl.Series:
            from . import _core

            _, counts = _core.minhash(s, num_perm=1, ngram=ngram, tokenizer=tokenizer)
            return pl.Series(s.name, counts.astype(np.uint32))

        return self._map(fn, pl.UInt32())
