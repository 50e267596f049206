"""Type stubs of the Rust extension. The public API is in the Python modules that wrap it."""

import os
from collections.abc import Sequence
from typing import Any, final

import numpy as np
import numpy.typing as npt

# PyO3 fills __all__ with every name the module registers (sorted here).
__all__ = [
    "DEFAULT_DECODE_MEMORY",
    "DEFAULT_PIXEL_LIMIT",
    "LlmTokenizer",
    "__version__",
    "_jpeg_reduced",
    "band_keys",
    "components",
    "edge_chunks",
    "edge_documents",
    "exact_duplicate_edges",
    "exact_hash",
    "get_num_threads",
    "hamming_counts",
    "hamming_counts_256",
    "hamming_neighbours",
    "hamming_neighbours_256",
    "image_hashes",
    "image_hashes_files",
    "image_regions",
    "image_regions_files",
    "invalid_utf8_rows",
    "jaccard",
    "kernels_on_this_thread",
    "lsh_candidates",
    "lsh_params",
    "lsh_recall_params",
    "minhash",
    "minhash_sets",
    "minhash_with_sets",
    "normalize",
    "parse_markdown",
    "partition_pairs",
    "partition_rows",
    "read_u64_ranges",
    "region_pairs",
    "set_jaccard",
    "set_jaccard_parts",
    "set_num_threads",
    "share_kernels",
    "shingle_sets",
    "shingles",
    "signature_agreement",
    "simhash",
    "tiktoken_pattern",
    "token_sets",
    "tokenize",
]

# One section per file of src/py/. Integer parameters taken as `Int` (checked, any size) show
# their defaults as `...`: PyO3 prints only literal defaults into the runtime signature, which
# `python -m mypy.stubtest mmdedup._core` compares with this file.

# --- src/py/mod.rs: the module, worker threads

__version__: str

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def kernels_on_this_thread() -> None: ...
def share_kernels(on: bool) -> None: ...

# --- src/py/text.rs: normalization, word tokens, shingles, exact hashes

def normalize(
    texts: Any, *, normalize: bool = True, fold_digits: bool = False, strip_accents: bool = False
) -> Any: ...
def tokenize(
    text: str, *, normalize: bool = True, fold_digits: bool = False, strip_accents: bool = False
) -> list[str]: ...
def shingles(
    text: str,
    *,
    ngram: int = ...,  # 5
    tokenizer: str = "word",
    normalize: bool = True,
    fold_digits: bool = False,
    strip_accents: bool = False,
) -> list[str]: ...
def exact_hash(
    texts: Any, *, normalize: bool = True, fold_digits: bool = False, strip_accents: bool = False
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]: ...
def invalid_utf8_rows(texts: Any) -> npt.NDArray[np.uint64]: ...

# --- src/py/minhash.rs: MinHash signatures

def minhash_with_sets(
    texts: Any,
    *,
    num_perm: int = ...,  # 128
    ngram: int = ...,  # 5
    seed: int = ...,  # 1
    tokenizer: str = "word",
    normalize: bool = True,
    fold_digits: bool = False,
    strip_accents: bool = False,
) -> tuple[
    npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint64], npt.NDArray[np.uint64]
]:
    """(signatures, shingle counts, set values, set offsets) of the native scheme in one pass:
    ``minhash`` and ``shingle_sets`` in one shingling."""

def minhash(
    texts: Any,
    *,
    num_perm: int = ...,  # 128
    ngram: int = ...,  # 5
    seed: int = ...,  # 1
    tokenizer: str = "word",
    normalize: bool = True,
    fold_digits: bool = False,
    strip_accents: bool = False,
    scheme: str = "mmdedup",
    a: npt.NDArray[np.uint64] | None = None,
    b: npt.NDArray[np.uint64] | None = None,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """(signatures, shingle counts). The native scheme (``"mmdedup"``, definition version 2):
    slot ``i`` is the minimum over the shingles of ``(a_i·x + b_i) mod 2^32`` with
    ``x = xxh3_64(shingle) mod 2^32``, ``a_i = (s_2i mod 2^32) | 1``, ``b_i = s_2i+1 mod 2^32``
    and ``s_0, s_1, ...`` the outputs of SplitMix64(``seed``); ``2^32 - 1`` with no shingle."""

def minhash_sets(
    sets: Any,
    *,
    num_perm: int = ...,  # 128
    seed: int = ...,  # 1
    scheme: str = "mmdedup",
    a: npt.NDArray[np.uint64] | None = None,
    b: npt.NDArray[np.uint64] | None = None,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """(signatures, token counts) of ready-made token sets, each token one shingle: the same
    schemes as :func:`minhash`."""

# --- src/py/simhash.rs: SimHash fingerprints

def simhash(
    texts: Any,
    *,
    ngram: int = ...,  # 3
    tokenizer: str = "word",
    normalize: bool = True,
    fold_digits: bool = False,
    strip_accents: bool = False,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32]]: ...

# --- src/py/lsh.rs: LSH banding and candidate pairs

def lsh_params(
    threshold: float,
    num_perm: int,
    *,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]: ...
def lsh_recall_params(
    threshold: float, num_perm: int, *, max_miss: float = 0.001
) -> tuple[int, int]: ...
def lsh_candidates(
    signatures: npt.NDArray[np.uint32],
    skip: npt.NDArray[np.bool_],
    *,
    bands: int,
    rows: int,
    window: int = ...,  # 1
) -> npt.NDArray[np.uint32]: ...
def band_keys(
    signatures: npt.NDArray[np.uint32], *, bands: int, rows: int
) -> npt.NDArray[np.uint64]: ...
def partition_pairs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    window: int = ...,  # 1
) -> npt.NDArray[np.uint32]: ...
def partition_rows(
    keys: npt.NDArray[np.uint64],
    skip: npt.NDArray[np.bool_],
    *,
    first: int,
    partitions: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint64]]: ...
def signature_agreement(
    signatures: npt.NDArray[np.uint32], edges: npt.NDArray[np.uint32]
) -> npt.NDArray[np.float64]: ...

# --- src/py/hamming.rs: Hamming search over 64- and 256-bit hashes

def hamming_neighbours(
    hashes: npt.NDArray[np.uint64], skip: npt.NDArray[np.bool_], *, k: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...
def hamming_counts(
    hashes: npt.NDArray[np.uint64], skip: npt.NDArray[np.bool_], *, k: int
) -> npt.NDArray[np.uint64]: ...
def hamming_neighbours_256(
    hashes: npt.NDArray[np.uint64], skip: npt.NDArray[np.bool_], *, k: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...
def hamming_counts_256(
    hashes: npt.NDArray[np.uint64], skip: npt.NDArray[np.bool_], *, k: int
) -> npt.NDArray[np.uint64]: ...
def region_pairs(
    hashes: npt.NDArray[np.uint64],
    items: npt.NDArray[np.uint32],
    skip: npt.NDArray[np.bool_],
    *,
    k: int,
    min_matches: int = ...,  # 1
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """((m, 2) item pairs, a < b, sorted; (m,) matched regions, the smaller side's count) of the
    items with at least ``min_matches`` regions within ``k`` bits of the other's."""

# --- src/py/cluster.rs: pair verification and connected components

def jaccard(
    texts: Any,
    edges: npt.NDArray[np.uint32],
    *,
    ngram: int = ...,  # 5
    tokenizer: str = "word",
    normalize: bool = True,
    fold_digits: bool = False,
    strip_accents: bool = False,
) -> npt.NDArray[np.float64]: ...
def shingle_sets(
    texts: Any,
    *,
    ngram: int = ...,  # 5
    tokenizer: str = "word",
    normalize: bool = True,
    fold_digits: bool = False,
    strip_accents: bool = False,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """(values, offsets): text ``i``'s sorted, distinct xxh3-64 shingle hashes are
    ``values[offsets[i]:offsets[i + 1]]``."""

def token_sets(sets: Any) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]: ...
def read_u64_ranges(
    path: str | os.PathLike[str],
    starts: npt.NDArray[np.uint64],
    lengths: npt.NDArray[np.uint64],
    *,
    header: int = 0,
) -> npt.NDArray[np.uint64]: ...
def set_jaccard(
    values: npt.NDArray[np.uint64], offsets: npt.NDArray[np.uint64], edges: npt.NDArray[np.uint32]
) -> npt.NDArray[np.float64]: ...
def set_jaccard_parts(
    parts: Sequence[tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]],
    edges: npt.NDArray[np.uint32],
) -> npt.NDArray[np.float64]: ...
def edge_documents(
    edges: npt.NDArray[np.uint32],
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]: ...
def edge_chunks(
    edges: npt.NDArray[np.uint32], sizes: npt.NDArray[np.uint64], *, cap: int
) -> npt.NDArray[np.uint64]: ...
def exact_duplicate_edges(
    hashes: npt.NDArray[np.uint8], skip: npt.NDArray[np.bool_]
) -> npt.NDArray[np.uint32]: ...
def components(n: int, edges: npt.NDArray[np.uint32]) -> npt.NDArray[np.int64]: ...

# --- src/py/image.rs: perceptual image hashes

DEFAULT_PIXEL_LIMIT: int
DEFAULT_DECODE_MEMORY: int

def image_hashes(
    images: Any,
    *,
    methods: list[str],
    hash_size: int = ...,  # 8
    mode: str = "canonical",
    pixel_limit: int = ...,
    frames: int = ...,  # 1
    memory: int = ...,
) -> dict[str, Any]: ...
def image_hashes_files(
    paths: list[str],
    *,
    methods: list[str],
    hash_size: int = ...,  # 8
    mode: str = "canonical",
    pixel_limit: int = ...,
    frames: int = ...,  # 1
    memory: int = ...,
) -> dict[str, Any]: ...
def image_regions(
    images: Any,
    *,
    method: str = "dhash",
    hash_size: int = ...,  # 8
    mode: str = "canonical",
    pixel_limit: int = ...,
    memory: int = ...,
    segment_threshold: float = 128.0,
    min_segment_size: int = ...,  # 500
    segmentation_size: int = ...,  # 300
    max_regions: int = ...,  # 0
) -> dict[str, Any]:
    """Crop-resistant region hashes: ``offsets`` ((n + 1,) uint64; image ``i`` owns
    ``hashes[offsets[i]:offsets[i + 1]]``), ``hashes`` (uint64) and ``errors`` (list of
    (row, message)). ``max_regions`` 0 keeps all regions."""

def image_regions_files(
    paths: list[str],
    *,
    method: str = "dhash",
    hash_size: int = ...,  # 8
    mode: str = "canonical",
    pixel_limit: int = ...,
    memory: int = ...,
    segment_threshold: float = 128.0,
    min_segment_size: int = ...,  # 500
    segmentation_size: int = ...,  # 300
    max_regions: int = ...,  # 0
) -> dict[str, Any]: ...
def _jpeg_reduced(
    data: bytes, min_side: int, min_long: int = 0, own: bool = True
) -> tuple[int, int, int, bytes, int, bool] | None: ...

# --- src/py/doc.rs: interleaved markdown documents

def parse_markdown(docs: Any) -> tuple[Any, Any, Any]: ...

# --- src/py/tokenize.rs: LLM tokenizers

@final
class LlmTokenizer:
    @staticmethod
    def from_json(data: bytes) -> LlmTokenizer: ...
    @staticmethod
    def from_ranks(
        data: bytes, *, pattern: str, special_tokens: list[tuple[str, int]]
    ) -> LlmTokenizer: ...
    @property
    def vocab_size(self) -> int: ...
    def token_to_id(self, token: str) -> int | None: ...
    def count(self, texts: Any, *, add_special_tokens: bool = True) -> npt.NDArray[np.uint32]: ...
    def encode(self, texts: Any, *, add_special_tokens: bool = True) -> Any: ...
    def count_segments(
        self,
        texts: Any,
        bounds: npt.NDArray[np.uint64],
        offsets: npt.NDArray[np.uint64],
        *,
        add_special_tokens: bool = False,
        ids: bool = False,
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], Any | None]: ...

def tiktoken_pattern(name: str) -> str | None: ...
