"""mmdedup: exact and near-duplicate removal for text and multimodal training corpora.

Rust kernels (multi-core, the GIL released) behind a small typed API over Arrow data:

>>> import mmdedup
>>> sig = mmdedup.minhash(["a b c d e f", "a b c d e g"], ngram=2)
>>> float((sig[0] == sig[1]).mean()) > 0.3
True
"""

from __future__ import annotations

from . import polars_ext as _polars_ext  # registers the `mmdedup` expression namespace
from ._core import __version__, get_num_threads, set_num_threads
from .dedup import DedupConfig, choose_keep, compute_signatures, dedup, find_clusters
from .errors import InputError, MmdedupError, ParameterError
from .formats import detect_format, parse_markdown, read_documents, write_documents
from .image import (
    hamming_clusters,
    image_hash,
    image_hashes,
    item_clusters,
    neighbour_counts,
    to_hex,
)
from .image_regions import region_clusters, region_hashes, region_pairs
from .inspect import inspect
from .text import (
    datasketch_permutations,
    exact_hash,
    lsh_params,
    lsh_recall_params,
    minhash,
    minhash_sets,
    normalize,
    shingles,
    simhash,
    tokenize,
)
from .tokens import Template, Tokenizer, count_documents, load_tokenizer, render

del _polars_ext

__all__ = [
    "DedupConfig",
    "InputError",
    "MmdedupError",
    "ParameterError",
    "Template",
    "Tokenizer",
    "__version__",
    "choose_keep",
    "compute_signatures",
    "count_documents",
    "datasketch_permutations",
    "dedup",
    "detect_format",
    "exact_hash",
    "find_clusters",
    "get_num_threads",
    "hamming_clusters",
    "image_hash",
    "image_hashes",
    "inspect",
    "item_clusters",
    "load_tokenizer",
    "lsh_params",
    "lsh_recall_params",
    "minhash",
    "minhash_sets",
    "neighbour_counts",
    "normalize",
    "parse_markdown",
    "read_documents",
    "region_clusters",
    "region_hashes",
    "region_pairs",
    "render",
    "set_num_threads",
    "shingles",
    "simhash",
    "to_hex",
    "tokenize",
    "write_documents",
]
