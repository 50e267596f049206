"""Exact and near-duplicate detection over a text column: signatures, candidates, clusters.

The stages are separate functions so the CLI can compute signatures shard by shard and cluster
once, while :func:`dedup` runs them all on one in-memory frame.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar, overload

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from . import _core
from ._arrow import ArrowLike, ArrowStreamExportable, as_series, to_arrow, to_tabular
from .errors import InputError, ParameterError
from .text import Tokenizer, lsh_params, lsh_recall_params

if TYPE_CHECKING:
    import datasets
    import pandas as pd

__all__ = [
    "DedupConfig",
    "KeepRule",
    "Method",
    "Signatures",
    "choose_keep",
    "compute_signatures",
    "dedup",
    "find_clusters",
    "parse_keep",
]

Method = Literal["minhash", "simhash", "exact"]
Verify = Literal["signature", "jaccard", "none"]
# The kinds of table that `dedup` gives back as they came.
_SameKind = TypeVar("_SameKind", "pa.Table", "pa.RecordBatch", "pd.DataFrame", "datasets.Dataset")


class _NormalizeKw(TypedDict):
    normalize: bool
    fold_digits: bool
    strip_accents: bool


# Each member of an LSH bucket is checked against this many members before it when pairs are
# verified; see `lsh_candidates`.
_VERIFY_WINDOW = 8

# With exact verification, the bands miss a pair of Jaccard exactly the threshold with at most
# this probability (see `lsh_recall_params`).
MAX_MISS = 0.001


@dataclass(frozen=True)
class DedupConfig:
    """Parameters of a dedup run; every field is recorded in ``summary.json``.

    Attributes:
        method: ``"minhash"`` (Jaccard of shingle sets), ``"simhash"`` (Hamming distance of
            64-bit fingerprints) or ``"exact"`` (equal normalized text).
        threshold: Jaccard similarity from which two documents are duplicates (minhash).
        num_perm: MinHash slots.
        ngram: Shingle size.
        seed: MinHash seed.
        tokenizer: ``"word"`` or ``"char"`` shingles.
        bands: LSH bands; with ``rows``, overrides the choice made from ``threshold``.
        rows: LSH rows per band.
        verify: Check each candidate pair before it may join a cluster: ``"jaccard"`` (exact
            Jaccard of the shingle sets ≥ threshold), ``"signature"`` (MinHash: estimated
            Jaccard ≥ threshold; SimHash: the Hamming distance alone) or ``"none"`` (every
            candidate joins). Default (None): ``"jaccard"`` for minhash, ``"signature"`` for
            simhash and exact; the resolved value is what the config holds. With
            ``"jaccard"`` the default bands are chosen for recall (:func:`lsh_recall_params`:
            a pair at the threshold is missed with probability ≤ 0.001), otherwise they are
            datasketch's balanced optimum (:func:`lsh_params`). SimHash with ``"jaccard"``
            keeps the pairs within ``max_distance`` whose exact Jaccard reaches ``threshold``.
        max_distance: Largest Hamming distance between SimHash duplicates (candidates, with
            ``verify="jaccard"``).
        normalize: Normalize texts before hashing.
        fold_digits: Normalization option.
        strip_accents: Normalization option.
    """

    method: Method = "minhash"
    threshold: float = 0.8
    num_perm: int = 128
    ngram: int = 5
    seed: int = 1
    tokenizer: Tokenizer = "word"
    bands: int | None = None
    rows: int | None = None
    verify: Verify | None = None
    max_distance: int = 3
    normalize: bool = True
    fold_digits: bool = False
    strip_accents: bool = False

    def __post_init__(self) -> None:
        if self.method not in ("minhash", "simhash", "exact"):
            raise ParameterError(f"`method` must be minhash, simhash or exact, got {self.method!r}")
        if self.verify is None:
            default = "jaccard" if self.method == "minhash" else "signature"
            object.__setattr__(self, "verify", default)
        if self.verify not in ("signature", "jaccard", "none"):
            raise ParameterError(
                f"`verify` must be signature, jaccard or none, got {self.verify!r}"
            )
        if not 0.0 < self.threshold < 1.0:
            raise ParameterError(f"`threshold` must be in (0, 1), got {self.threshold}")
        if (self.bands is None) != (self.rows is None):
            raise ParameterError("give both `bands` and `rows`, or neither")
        if (
            self.bands is not None
            and self.rows is not None
            and self.bands * self.rows > self.num_perm
        ):
            raise ParameterError(
                f"`bands` × `rows` = {self.bands * self.rows} exceeds `num_perm` = {self.num_perm}"
            )
        if not 0 <= self.max_distance <= 32:
            raise ParameterError(f"`max_distance` must be in 0..32, got {self.max_distance}")
        if self.ngram < 1:
            raise ParameterError(f"`ngram` must be at least 1, got {self.ngram}")

    def normalize_options(self) -> _NormalizeKw:
        return {
            "normalize": self.normalize,
            "fold_digits": self.fold_digits,
            "strip_accents": self.strip_accents,
        }

    def band_geometry(self) -> tuple[int, int]:
        """``(bands, rows)``: as given; else, with exact verification, the geometry chosen for
        recall at ``threshold``, and otherwise datasketch's optimum for it."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        if self.verify == "jaccard":
            return _recall_bands(self.threshold, self.num_perm)
        return _optimal_bands(self.threshold, self.num_perm)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.method == "minhash":
            d["bands"], d["rows"] = self.band_geometry()
        return d


@functools.lru_cache(maxsize=64)
def _optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    # The search is O(num_perm²) (2.5 s at 8192): once per parameters, not per shard.
    return lsh_params(threshold, num_perm)


@functools.lru_cache(maxsize=64)
def _recall_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    return lsh_recall_params(threshold, num_perm, max_miss=MAX_MISS)


@dataclass
class Signatures:
    """Per-document hashes of one method, for rows ``0..len``.

    Attributes:
        data: minhash: ``(n, num_perm)`` uint32; simhash: ``(n,)`` uint64; exact: ``(n, 16)``
            uint8.
        empty: Rows without any shingle (null, empty or punctuation-only text): never duplicates.
    """

    data: npt.NDArray[Any]
    empty: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.empty)


def compute_signatures(texts: ArrowLike, cfg: DedupConfig) -> Signatures:
    """Hashes every text for ``cfg.method`` (multi-core, the GIL released)."""
    arr = to_arrow(texts)
    norm = cfg.normalize_options()
    if cfg.method == "minhash":
        sigs, counts = _core.minhash(
            arr,
            num_perm=cfg.num_perm,
            ngram=cfg.ngram,
            seed=cfg.seed,
            tokenizer=cfg.tokenizer,
            **norm,
        )
        return Signatures(sigs, counts == 0)
    if cfg.method == "simhash":
        fps, counts = _core.simhash(arr, ngram=cfg.ngram, tokenizer=cfg.tokenizer, **norm)
        return Signatures(fps, counts == 0)
    digest, empty = _core.exact_hash(arr, **norm)
    return Signatures(digest, empty)


def find_clusters(
    sigs: Signatures, cfg: DedupConfig, texts: ArrowLike | None = None
) -> tuple[npt.NDArray[np.int64], dict[str, int]]:
    """Clusters documents from their signatures.

    Args:
        sigs: Signatures of all documents, in global order.
        cfg: The run's parameters.
        texts: The texts themselves, needed only for ``verify="jaccard"``.

    Returns:
        Labels (the smallest row index of the cluster, ``-1`` for a document without duplicate)
        and counts of candidate and accepted pairs.
    """
    n = len(sigs)
    if cfg.method == "minhash":
        bands, rows = cfg.band_geometry()
        window = 1 if cfg.verify == "none" else _VERIFY_WINDOW
        edges = _core.lsh_candidates(sigs.data, sigs.empty, bands=bands, rows=rows, window=window)
        candidates = len(edges)
        if cfg.verify == "signature":
            edges = edges[_core.signature_agreement(sigs.data, edges) >= cfg.threshold]
        elif cfg.verify == "jaccard":
            if texts is None:
                raise ParameterError("verify='jaccard' needs the texts")
            edges = edges[_exact_jaccard(texts, edges, cfg) >= cfg.threshold]
        stats = {"candidate_pairs": candidates, "accepted_pairs": len(edges)}
    elif cfg.method == "simhash":
        equal, near = _core.hamming_neighbours(sigs.data, sigs.empty, k=cfg.max_distance)
        edges = np.concatenate([equal, near])
        candidates = len(edges)
        if cfg.verify == "jaccard" and len(edges):
            if texts is None:
                raise ParameterError("verify='jaccard' needs the texts")
            edges = edges[_exact_jaccard(texts, edges, cfg) >= cfg.threshold]
        stats = {"candidate_pairs": candidates, "accepted_pairs": len(edges)}
    else:
        edges = _core.exact_duplicate_edges(sigs.data, sigs.empty)
        stats = {"candidate_pairs": len(edges), "accepted_pairs": len(edges)}
    return _core.components(n, np.ascontiguousarray(edges, dtype=np.uint32)), stats


def _exact_jaccard(
    texts: ArrowLike, edges: npt.NDArray[np.uint32], cfg: DedupConfig
) -> npt.NDArray[np.float64]:
    """Exact Jaccard of the shingle sets of each pair (each text in a pair shingled once)."""
    if len(edges) == 0:
        return np.zeros(0)
    return _core.jaccard(
        to_arrow(texts),
        np.ascontiguousarray(edges, dtype=np.uint32),
        ngram=cfg.ngram,
        tokenizer=cfg.tokenizer,
        **cfg.normalize_options(),
    )


KeepRule = tuple[Literal["first", "longest", "max", "min"], str | None]


def parse_keep(rule: str) -> KeepRule:
    """Parses ``first``, ``longest``, ``max:COLUMN`` or ``min:COLUMN``."""
    if rule in ("first", "longest"):
        return (rule, None)  # type: ignore[return-value]
    kind, _, column = rule.partition(":")
    if kind in ("max", "min") and column:
        return (kind, column)  # type: ignore[return-value]
    raise ParameterError(
        f"`keep` must be 'first', 'longest', 'max:COLUMN' or 'min:COLUMN', got {rule!r}"
    )


def choose_keep(
    labels: npt.NDArray[np.int64],
    rule: KeepRule = ("first", None),
    key: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.bool_]:
    """Which rows to keep: every row outside a cluster, and one member per cluster.

    Args:
        labels: Cluster labels from :func:`find_clusters`.
        rule: ``first`` keeps the smallest row; ``longest``/``max`` the largest ``key``;
            ``min`` the smallest ``key``. Ties, and rows whose key is NaN (null), go to the
            smallest row.
        key: One value per row (text length for ``longest``, the column for ``max``/``min``).

    >>> choose_keep(np.array([0, 0, -1, 0]), ("max", "score"), np.array([1.0, 3.0, 0.0, 3.0]))
    array([False,  True,  True, False])
    """
    keep = np.ones(len(labels), dtype=np.bool_)
    members = np.flatnonzero(labels >= 0)
    if len(members) == 0:
        return keep
    kind = rule[0]
    if kind == "first":
        keep[members] = labels[members] == members
        return keep
    if key is None or len(key) != len(labels):
        raise ParameterError(f"keep rule {kind!r} needs one key value per row")
    k = np.asarray(key, dtype=np.float64)[members]
    # Sort so the preferred member of each cluster comes first; NaN keys sort last.
    primary = -k if kind in ("longest", "max") else k
    primary = np.where(np.isnan(primary), np.inf, primary)
    order = np.lexsort((members, primary, labels[members]))
    sorted_labels = labels[members][order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = sorted_labels[1:] != sorted_labels[:-1]
    keep[members] = False
    keep[members[order][first]] = True
    return keep


def _rank_key(values: pl.Series) -> npt.NDArray[np.float64]:
    """A float key ordering any sortable column (numbers, strings, dates); null is NaN."""
    if values.dtype.is_numeric():
        return values.cast(pl.Float64).fill_nan(None).to_numpy().astype(np.float64)
    return values.rank("dense").cast(pl.Float64).to_numpy().astype(np.float64)


def keep_key(
    rule: KeepRule, texts: pl.Series, column: pl.Series | None
) -> npt.NDArray[np.float64] | None:
    """The key array for ``rule``: text length in characters for ``longest``, else the column."""
    if rule[0] == "first":
        return None
    if rule[0] == "longest":
        return texts.cast(pl.String).str.len_chars().cast(pl.Float64).to_numpy().astype(np.float64)
    if column is None:
        raise ParameterError(f"keep rule {rule[0]}:{rule[1]} needs column {rule[1]!r}")
    return _rank_key(column)


@overload
def dedup(
    data: pl.DataFrame | pl.LazyFrame,
    column: str = ...,
    *,
    keep: str = ...,
    config: DedupConfig | None = ...,
    **params: Any,
) -> pl.DataFrame: ...
@overload
def dedup(
    data: _SameKind,
    column: str = ...,
    *,
    keep: str = ...,
    config: DedupConfig | None = ...,
    **params: Any,
) -> _SameKind: ...
@overload
def dedup(  # type: ignore[overload-cannot-match]  # pyarrow has no type stubs: pa.* is Any
    data: pa.RecordBatchReader | ArrowStreamExportable,
    column: str = ...,
    *,
    keep: str = ...,
    config: DedupConfig | None = ...,
    **params: Any,
) -> pa.Table: ...
def dedup(
    data: Any,
    column: str = "text",
    *,
    keep: str = "first",
    config: DedupConfig | None = None,
    **params: Any,
) -> Any:
    """Marks exact and near-duplicate documents of a table.

    Args:
        data: A table of any kind that exports Arrow, read once (a stream is consumed, a lazy
            query collected, once):

            - ``pl.DataFrame`` or ``pl.LazyFrame``: a ``pl.DataFrame`` is returned;
            - ``pa.Table`` or ``pa.RecordBatchReader``: a ``pa.Table``
              (``pa.RecordBatch``: a ``pa.RecordBatch``);
            - ``pandas.DataFrame``: a ``pandas.DataFrame`` with the same index (``cluster`` is
              ``Int64``, ``keep`` ``boolean``);
            - ``datasets.Dataset`` (Hugging Face; a selection, shuffle or filter is honoured): a
              ``datasets.Dataset``;
            - anything else exporting ``__arrow_c_stream__`` (a DuckDB relation, ...): a
              ``pa.Table``.
        column: The text column (string, or binary holding UTF-8).
        keep: Which member of a cluster stays: ``"first"`` (row order), ``"longest"``,
            ``"max:COLUMN"`` or ``"min:COLUMN"`` (e.g. ``"max:quality"``).
        config: All parameters at once; or give them as keywords (see :class:`DedupConfig`:
            ``method``, ``threshold``, ``num_perm``, ``ngram``, ...).

    Returns:
        ``data`` with two more columns: ``cluster`` (int64: the same value for every member of a
        duplicate cluster, the row index of its first member; null for a row without duplicate)
        and ``keep`` (bool: false for the duplicates to remove).

    Raises:
        TypeError: ``data`` is not a table (the message names its type).
        InputError: ``column`` (or the ``keep`` column) is missing, or ``cluster`` or ``keep``
            is taken.

    >>> import polars as pl
    >>> df = pl.DataFrame({"text": ["The cat sat on the mat.", "the cat sat on the mat", "A dog."]})
    >>> out = dedup(df, method="exact")
    >>> out["cluster"].to_list(), out["keep"].to_list()
    ([0, 0, None], [True, False, True])
    """
    cfg = config if config is not None else DedupConfig(**params)
    if config is not None and params:
        raise ParameterError("give either `config` or keyword parameters, not both")
    rule = parse_keep(keep)
    table = to_tabular(data)
    names = table.names
    for needed in [column] + ([rule[1]] if rule[1] else []):
        if needed not in names:
            raise InputError(f"no column {needed!r}; the columns are {names}")
    for taken in ("cluster", "keep"):
        if taken in names:
            raise InputError(f"the input already has a {taken!r} column; rename it first")
    texts = table.column(column)
    sigs = compute_signatures(texts, cfg)
    labels, _ = find_clusters(sigs, cfg, texts if cfg.verify == "jaccard" else None)
    key_col = as_series(table.column(rule[1])) if rule[1] else None
    series = as_series(texts) if rule[0] == "longest" else pl.Series(dtype=pl.String)
    keep_mask = choose_keep(labels, rule, keep_key(rule, series, key_col))
    cluster = pa.array(labels, mask=labels < 0, type=pa.int64())
    return table.append({"cluster": cluster, "keep": pa.array(keep_mask, pa.bool_())})
