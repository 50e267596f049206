"""The plan of a text run: its shards, row ids, partitions and parameters (``manifest.json``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ... import _core
from ...dedup import DedupConfig, parse_keep
from ...errors import InputError, ParameterError
from ...io import (
    Shard,
    discover,
    shard_stats,
)
from ...runs.budget import partitions as budget_partitions
from ...storage import Location
from ..shingle_sets import wants_sets

STATUSES = ("unique", "kept", "duplicate", "empty", "error")


# Version of the work directory's contents: 2 added the distributed components' files; 3 holds
# MinHash signatures of the native scheme's second definition (32-bit affine permutations), not
# comparable with earlier ones.
_VERSION = 3


COMPONENTS = ("auto", "local", "distributed")


@dataclass
class Plan:
    """What a run will do; saved as ``manifest.json`` and compared on ``--resume``."""

    config: dict[str, Any]
    column: str
    id_column: str | None
    keep: str
    on_error: str
    shards: list[dict[str, Any]]
    rows: int
    partitions: int
    version: int = _VERSION
    inputs: list[str] = field(default_factory=list)
    index: str | None = None
    index_rows: int = 0
    memory: int = 4 * 2**30
    components: str = "auto"

    def shard(self, i: int) -> Shard:
        s = self.shards[i]
        return Shard(Location(s["path"]), s["name"], s["format"], s["gzipped"])

    def offset(self, i: int) -> int:
        return int(self.shards[i]["offset"])


# Parameters that must match for signatures to be comparable with an index's.
_SIGNATURE_PARAMS = (
    "method",
    "num_perm",
    "ngram",
    "seed",
    "tokenizer",
    "normalize",
    "fold_digits",
    "strip_accents",
)


def find_work_dir(path: Path) -> Path:
    """The work directory of a finished run, given it or the run's output directory."""
    for candidate in (path / ".mmdedup-work", path):
        if (candidate / "manifest.json").exists() and (candidate / "done" / "clusters").exists():
            return candidate
    raise InputError(
        f"{path} is not the output or work directory of a finished mmdedup run (a run used as "
        "an --index must keep its work directory: --keep-work-dir)"
    )


def dedup_config(plan: Plan) -> DedupConfig:
    return DedupConfig(**plan.config)


def make_plan(
    inputs: Iterable[str],
    config: DedupConfig,
    *,
    column: str,
    id_column: str | None,
    keep_rule: str,
    on_error: str,
    memory: int,
    index: Path | None = None,
    components: str = "auto",
) -> Plan:
    if components not in COMPONENTS:
        raise ParameterError(
            f"components must be one of {', '.join(COMPONENTS)}, got {components!r}"
        )
    shards = discover(list(inputs))
    index_root, index_rows = None, 0
    if index is not None:
        index_root = find_work_dir(index)
        old = Plan(**json.loads((index_root / "manifest.json").read_text()))
        if old.version != _VERSION:
            raise ParameterError(
                f"the index at {index} was built by another mmdedup version (work directory "
                f"format {old.version}, this version writes {_VERSION}): its signatures are not "
                "comparable with this version's (the native MinHash scheme changed in format 2); "
                "rebuild the index with this version"
            )
        mismatch = [k for k in _SIGNATURE_PARAMS if old.config[k] != getattr(config, k)]
        if mismatch:
            raise ParameterError(
                f"the index at {index} was built with other {', '.join(mismatch)}: "
                + ", ".join(f"{k}={old.config[k]!r}" for k in mismatch)
            )
        index_rows = old.rows
        if wants_sets(config) and not (index_root / "sets" / "parts.json").exists():
            raise ParameterError(
                f"the index at {index} kept no shingle sets (it was built without --verify "
                "jaccard): rebuild it with this run's --verify, or give --verify signature"
            )
    listed, offset = [], index_rows
    rule = parse_keep(keep_rule)
    columns = [c for c in (column, id_column, rule[1]) if c]
    for s in shards:
        n, size = shard_stats(s, columns)
        listed.append(
            {
                "path": str(s.path),
                "name": s.name,
                "format": s.format,
                "gzipped": s.gzipped,
                "rows": n,
                "offset": offset,
                "bytes": size,
            }
        )
        offset += n
    if offset >= 2**32 - 1:
        raise ParameterError(f"{offset:,} documents exceed one run's limit of 2^32 - 1")
    bands = config.band_geometry()[0] if config.method == "minhash" else 1
    # A partition's (key, doc) rows, sorted with a copy, should use at most half the budget.
    # Per (key, doc) row: the kernel's 16-byte pair, read from the partition's files and
    # sorted in place, with ample room for the edges it emits.
    per_row = 64
    partitions = budget_partitions(offset * bands * per_row, memory, most=offset)
    cfg = asdict(config)
    plan = Plan(
        cfg,
        column,
        id_column,
        keep_rule,
        on_error,
        listed,
        offset,
        int(partitions),
        inputs=list(inputs),
    )
    plan.index = str(index_root) if index_root else None
    plan.index_rows = index_rows
    plan.memory = memory
    plan.components = components
    return plan


def text_column(
    table: pa.Table, column: str, shard: Shard, on_error: str, start: int = 0
) -> tuple[pa.ChunkedArray, dict[int, str]]:
    """The text column as strings, and the rows (of ``table``) that are not valid UTF-8; an error
    names the row of the shard (``start`` is the table's first row there)."""
    texts = table[column]
    t = texts.type
    errors: dict[int, str] = {}
    if pa.types.is_null(t):
        return texts.cast(pa.string()), errors
    if pa.types.is_dictionary(t):  # a Polars Categorical saved to Parquet, say
        texts, t = texts.cast(t.value_type), t.value_type
    textual = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
    binary = pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)
    if not (textual or binary):
        raise InputError(
            f"column {column!r} has type {t}; expected string or binary", path=str(shard.path)
        )
    if binary:
        bad = _core.invalid_utf8_rows(texts)
        if len(bad) and on_error == "raise":
            raise InputError(
                f"column {column!r} is not valid UTF-8 (use --on-error record to keep such rows and go on)",
                path=str(shard.path),
                row=start + int(bad[0]),
            )
        if len(bad):
            mask = np.zeros(len(texts), dtype=np.bool_)
            mask[bad] = True
            texts = pc.if_else(pa.array(mask), pa.scalar(None, t), texts)
            errors = {int(r): f"column {column!r} is not valid UTF-8" for r in bad}
    return texts, errors


def sort_key(
    rule: tuple[str, str | None], table: pa.Table, texts: pa.ChunkedArray, shard: Shard
) -> npt.NDArray[np.float64] | None:
    if rule[0] == "longest":
        lengths = pc.utf8_length(texts.cast(pa.large_string()))
        return np.asarray(lengths.to_numpy(zero_copy_only=False), dtype=np.float64)
    if rule[0] in ("max", "min") and rule[1] is not None:
        values = table[rule[1]]
        t = values.type
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            values = values.cast(pa.int64())
        elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
            raise InputError(
                f"--keep column {rule[1]!r} has type {t}; expected a number or a date",
                path=str(shard.path),
            )
        return np.asarray(
            values.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
        )
    return None
