"""Finding, reading and writing shards (Parquet and JSON Lines), with atomic writes.

Row numbers are 0-based: for Parquet the row of the file, for JSON Lines the index among the
file's non-blank lines. Output shards keep the input's file name (relative to the inputs'
common directory) and schema; JSON Lines shards are filtered line by line, byte for byte.
"""

from __future__ import annotations

import gzip
import io
import json
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import InputError
from .storage import Location, atomic_write

__all__ = [
    "Location",
    "Shard",
    "atomic_write",
    "discover",
    "read_columns",
    "shard_rows",
    "write_filtered",
    "write_table",
]

Format = Literal["parquet", "jsonl"]
_SUFFIXES: dict[str, tuple[Format, bool]] = {
    ".parquet": ("parquet", False),
    ".pq": ("parquet", False),
    ".jsonl": ("jsonl", False),
    ".ndjson": ("jsonl", False),
    ".json": ("jsonl", False),
    ".jsonl.gz": ("jsonl", True),
    ".ndjson.gz": ("jsonl", True),
    ".json.gz": ("jsonl", True),
}


@dataclass(frozen=True)
class Shard:
    """One input file.

    Attributes:
        path: Where it is: a local path or a file system URL.
        name: Its name relative to the inputs' common directory (used for the output too).
        format: ``"parquet"`` or ``"jsonl"``.
        gzipped: JSON Lines compressed with gzip.
    """

    path: Location
    name: str
    format: Format
    gzipped: bool = False


def _kind(path: Location) -> tuple[Format, bool] | None:
    name = path.name().lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIXES[suffix]
    return None


def discover(inputs: Sequence[str]) -> list[Shard]:
    """Expands files, directories (searched recursively) and glob patterns — local, or fsspec
    URLs such as ``s3://bucket/shards/*.parquet`` — into sorted shards.

    The order is the sorted order of the paths, whatever order they were given in, so results
    do not depend on how the shell expanded a pattern.
    """
    found: set[Location] = set()
    for item in inputs:
        loc = Location(item)
        if loc.is_dir():
            matches = [q for q in loc.files() if _kind(q)]
            if not matches:
                raise InputError(f"no .parquet or .jsonl files under directory {item}")
        elif any(c in item for c in "*?["):
            matches = [m for m in loc.glob() if _kind(m)]
            if not matches:
                raise InputError(f"no shard matches the pattern {item!r}")
        elif loc.exists():
            if _kind(loc) is None:
                raise InputError(f"{item}: unknown format; expected {', '.join(sorted(_SUFFIXES))}")
            matches = [loc]
        else:
            raise InputError(f"{item}: no such file or directory")
        found.update(matches)
    paths = sorted(found, key=str)
    if not paths:
        raise InputError("no input shards")
    if len({p.protocol for p in paths}) > 1:
        raise InputError("all inputs must be on one file system")
    root = (
        posixpath.commonpath([p.parent_path() for p in paths])
        if len(paths) > 1
        else paths[0].parent_path()
    )
    shards = []
    for p in paths:
        kind = _kind(p)
        assert kind is not None
        shards.append(Shard(p, p.relative_to(root), kind[0], kind[1]))
    return shards


def _jsonl_lines(shard: Shard) -> list[bytes]:
    data = shard.path.read_bytes()
    if shard.gzipped:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise InputError(f"not a valid gzip file: {e}", path=str(shard.path)) from e
    return [line for line in data.splitlines() if line.strip()]


def _check_file(shard: Shard) -> None:
    # A 0-byte JSON Lines file is a shard with no rows; a 0-byte Parquet file is no Parquet file.
    try:
        size = shard.path.size()
    except OSError as e:
        raise InputError(f"cannot read: {e}", path=str(shard.path)) from e
    if size == 0:
        raise InputError("empty file (0 bytes)", path=str(shard.path))


def shard_rows(shard: Shard) -> int:
    """The number of rows of a shard (Parquet: from the footer; JSON Lines: non-blank lines)."""
    where = str(shard.path)
    if shard.format == "parquet":
        _check_file(shard)
        try:
            return int(_parquet(shard).metadata.num_rows)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"not a readable Parquet file: {e}", path=where) from e
    return len(_jsonl_lines(shard))


def read_columns(shard: Shard, columns: Sequence[str]) -> pa.Table:
    """Reads ``columns`` of a shard, with errors naming the file, the row and the problem."""
    where = str(shard.path)
    if shard.format == "parquet":
        _check_file(shard)
        try:
            pf = _parquet(shard)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"not a readable Parquet file: {e}", path=where) from e
        names = pf.schema_arrow.names
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputError(f"no column {missing[0]!r}; the columns are {names}", path=where)
        try:
            return pf.read(columns=list(columns))
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"corrupt Parquet data: {e}", path=where) from e
    lines = _jsonl_lines(shard)
    if not lines:
        return pa.table({c: pa.nulls(0, pa.string()) for c in columns})
    try:
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(lines)), infer_schema_length=None)
    except Exception as e:  # polars raises several types; find the culprit line ourselves
        raise _locate_json_error(lines, where) from e
    if frame.height != len(lines):
        raise _locate_json_error(lines, where)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"no row has key {missing[0]!r}; the keys are {frame.columns}", path=where)
    return frame.select(columns).to_arrow(compat_level=pl.CompatLevel.oldest())


def _locate_json_error(lines: list[bytes], where: str) -> InputError:
    for row, line in enumerate(lines):
        try:
            value = json.loads(line)
        except ValueError as e:
            return InputError(f"invalid JSON: {e}", path=where, row=row)
        if not isinstance(value, dict):
            return InputError(
                f"expected a JSON object, got {type(value).__name__}", path=where, row=row
            )
    return InputError("cannot read as JSON Lines (mixed value types in one key?)", path=where)


def _parquet(shard: Shard) -> pq.ParquetFile:
    path, fs = shard.path.arrow()
    return pq.ParquetFile(path, filesystem=fs)


def write_table(table: pa.Table, path: Path | Location) -> None:
    """Writes a Parquet file atomically."""
    if isinstance(path, Location):
        with path.write() as f:
            pq.write_table(table, f)
        return
    with atomic_write(path) as f:
        pq.write_table(table, f)


def write_filtered(shard: Shard, keep: npt.NDArray[np.bool_], outdir: Location) -> int:
    """Writes the kept rows of ``shard`` to ``outdir / shard.name``; returns their number."""
    target = outdir / shard.name
    if shard.format == "parquet":
        table = _parquet(shard).read()
        if table.num_rows != len(keep):
            raise InputError("changed while being read", path=str(shard.path))
        write_table(table.filter(pa.array(keep)), target)
        return int(keep.sum())
    lines = _jsonl_lines(shard)
    if len(lines) != len(keep):
        raise InputError("changed while being read", path=str(shard.path))
    kept = [line for line, k in zip(lines, keep, strict=True) if k]
    data = b"".join(line + b"\n" for line in kept)
    with target.write() as f:
        f.write(gzip.compress(data, mtime=0) if shard.gzipped else data)
    return len(kept)
