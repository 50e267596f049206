"""Finding, reading and writing shards (Parquet and JSON Lines, the latter optionally compressed
with gzip or Zstandard), with atomic writes.

Row numbers are 0-based: for Parquet the row of the file, for JSON Lines the index among the
file's non-blank lines. Output shards keep the input's file name (relative to the inputs'
common directory) and schema; JSON Lines shards are filtered line by line, byte for byte.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .compression import (
    DECOMPRESS_ERRORS,
    Compression,
    Compressor,
    describe,
    line_blocks,
    open_decompressed,
)
from .compression import compression_of as _compression_of
from .errors import InputError
from .jsonl import parse_json_lines
from .storage import Location, atomic_write

__all__ = [
    "Location",
    "Shard",
    "atomic_write",
    "discover",
    "iter_columns",
    "jsonl_lines",
    "open_lines",
    "parquet_file",
    "read_columns",
    "shard_rows",
    "shard_stats",
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
    ".jsonl.zst": ("jsonl", False),
    ".ndjson.zst": ("jsonl", False),
    ".json.zst": ("jsonl", False),
}


@dataclass(frozen=True)
class Shard:
    """One input file.

    Attributes:
        path: Where it is: a local path or a file system URL.
        name: Its name relative to the inputs' common directory (used for the output too).
        format: ``"parquet"`` or ``"jsonl"``.
        gzipped: JSON Lines compressed with gzip.

    A Zstandard-compressed shard (``.jsonl.zst``) is told by its name: see :attr:`compression`.
    """

    path: Location
    name: str
    format: Format
    gzipped: bool = False

    @property
    def compression(self) -> Compression:
        """``"gzip"``, ``"zstd"`` (a name ending in ``.zst``) or None."""
        if self.gzipped:
            return "gzip"
        if self.format == "jsonl" and _compression_of(self.name) == "zstd":
            return "zstd"
        return None


def _kind(path: Location | str) -> tuple[Format, bool] | None:
    name = (path if isinstance(path, str) else path.name()).rsplit("/", 1)[-1].lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return _SUFFIXES[suffix]
    return None


def _as_found(
    loc: Location, item: str, how: Literal["dir", "glob", "file"]
) -> list[tuple[Location, str]]:
    """The files of an input, each as ``(file, path as found)``: the file with symlinks resolved
    (to read it, and to count a file given twice once) and the path it was found at, whose name
    tells the format and names the output. In a Hugging Face hub cache every file is a symlink
    to ``blobs/<hash>``: only the link's name says ``.parquet``."""
    if not loc.is_local:
        found = loc.files() if how == "dir" else loc.glob() if how == "glob" else [loc]
        return [(q, q.path) for q in found]
    where = os.path.abspath(item.removeprefix("file://"))
    if how == "dir":
        paths = [str(q) for q in Path(where).rglob("*") if q.is_file()]
    elif how == "glob":
        import glob

        paths = glob.glob(where, recursive=True)
    else:
        paths = [where]
    return [(Location(q), q) for q in paths]


def discover(inputs: Sequence[str]) -> list[Shard]:
    """Expands files, directories (searched recursively) and glob patterns — local, or fsspec
    URLs such as ``s3://bucket/shards/*.parquet`` — into sorted shards.

    The order is the sorted order of the paths, whatever order they were given in, so results
    do not depend on how the shell expanded a pattern. A symlink counts under its own name (its
    format and output name come from it); a file given twice, under any names, counts once.
    """
    found: dict[Location, str] = {}  # each file -> the (first in order) path it was found at
    for item in inputs:
        loc = Location(item)
        if loc.is_dir():
            matches = [m for m in _as_found(loc, item, "dir") if _kind(m[1])]
            if not matches:
                raise InputError(
                    f"no .parquet or .jsonl files (or .jsonl.gz, .jsonl.zst) under directory {item}"
                )
        elif any(c in item for c in "*?["):
            matches = [m for m in _as_found(loc, item, "glob") if _kind(m[1])]
            if not matches:
                raise InputError(f"no shard matches the pattern {item!r}")
        elif loc.exists():
            matches = _as_found(loc, item, "file")
            if _kind(matches[0][1]) is None:
                raise InputError(f"{item}: unknown format; expected {', '.join(sorted(_SUFFIXES))}")
        else:
            raise InputError(f"{item}: no such file or directory")
        for file, named in matches:
            if file not in found or named < found[file]:
                found[file] = named
    paths = sorted(found.items(), key=lambda kv: kv[1])
    if not paths:
        raise InputError("no input shards")
    if len({p.protocol for p, _ in paths}) > 1:
        raise InputError("all inputs must be on one file system")
    parents = [named.rstrip("/").rsplit("/", 1)[0] for _, named in paths]
    root = posixpath.commonpath(parents) if len(paths) > 1 else parents[0]
    shards = []
    for p, named in paths:
        kind = _kind(named)
        assert kind is not None
        shards.append(Shard(p, named[len(root) :].lstrip("/"), kind[0], kind[1]))
    return shards


_BOM = b"\xef\xbb\xbf"


@contextmanager
def open_lines(shard: Shard, keepends: bool = False) -> Iterator[Iterator[bytes]]:
    """The non-blank lines of a JSON Lines shard (without line ends, unless ``keepends``),
    streamed: the file is read and decompressed a block at a time. Lines end at ``\\n``,
    ``\\r\\n`` or ``\\r``, as :meth:`bytes.splitlines` splits them. A UTF-8 byte order mark
    at the start of the file is left out (kept with ``keepends``, which copies lines)."""
    raw: IO[bytes] = (
        open(shard.path.path, "rb")  # noqa: SIM115
        if shard.path.is_local
        else shard.path.fs.open(shard.path.path, "rb")
    )
    kind = shard.compression
    with raw, open_decompressed(raw, kind) as stream:

        def lines() -> Iterator[bytes]:
            first, row = True, 0
            try:
                for block in line_blocks(stream):
                    for line in block.splitlines(keepends):
                        body = line
                        if first:
                            first = False
                            body = line.removeprefix(_BOM)
                        if body.strip():
                            row += 1
                            yield line if keepends else body
            except DECOMPRESS_ERRORS as e:
                if kind is None:
                    raise
                # The row being read when the stream broke: the rows before it were whole.
                message = f"not a valid {describe(kind)} file: {e}"
                raise InputError(message, path=str(shard.path), row=row) from e

        yield lines()


def _jsonl_chunks(shard: Shard, rows: int, keepends: bool = False) -> Iterator[list[bytes]]:
    """The non-blank lines of a JSON Lines shard in lists of ``rows`` lines."""
    with open_lines(shard, keepends) as lines:
        chunk: list[bytes] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) == rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def jsonl_lines(shard: Shard) -> list[bytes]:
    """Every non-blank line of a JSON Lines shard; a compressed one is decompressed as a stream
    (its lines are held, not the whole decompressed file besides them)."""
    if shard.compression is not None:
        with open_lines(shard) as lines:
            return list(lines)
    data = shard.path.read_bytes()
    return [line for line in data.removeprefix(_BOM).splitlines() if line.strip()]


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
            return int(parquet_file(shard).metadata.num_rows)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"not a readable Parquet file: {e}", path=where) from e
    with open_lines(shard) as lines:
        return sum(1 for _ in lines)


def shard_stats(shard: Shard, columns: Sequence[str]) -> tuple[int, int]:
    """Rows of a shard, and about how many bytes ``columns`` take decoded: for Parquet from the
    footer (uncompressed pages), for JSON Lines the length of its lines (every key)."""
    if shard.format == "parquet":
        rows = shard_rows(shard)
        meta = parquet_file(shard).metadata
        size = 0
        for g in range(meta.num_row_groups):
            rg = meta.row_group(g)
            for c in range(rg.num_columns):
                col = rg.column(c)
                if col.path_in_schema.split(".")[0] in columns:
                    size += col.total_uncompressed_size
        return rows, size
    rows = size = 0
    with open_lines(shard) as lines:
        for line in lines:
            rows += 1
            size += len(line)
    return rows, size


def read_columns(shard: Shard, columns: Sequence[str]) -> pa.Table:
    """Reads ``columns`` of a shard, with errors naming the file, the row and the problem."""
    where = str(shard.path)
    if shard.format == "parquet":
        _check_file(shard)
        try:
            pf = parquet_file(shard)
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
    lines = jsonl_lines(shard)
    if not lines:
        return pa.table({c: pa.nulls(0, pa.string()) for c in columns})
    frame = parse_json_lines(lines, where, 0)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"no row has key {missing[0]!r}; the keys are {frame.columns}", path=where)
    return frame.select(columns).to_arrow(compat_level=pl.CompatLevel.oldest())


def iter_columns(
    shard: Shard,
    columns: Sequence[str],
    rows: int,
    *,
    text: str | None = None,
    problems: dict[int, str] | None = None,
) -> Iterator[pa.Table]:
    """``columns`` of a shard in tables of at most ``rows`` rows, in order, so that a shard larger
    than memory is read a piece at a time: Parquet a batch at a time (a row group, or a part of
    one), JSON Lines ``rows`` lines at a time.

    A Parquet shard gives the types of its schema. A JSON Lines shard that fits one piece gives
    what :func:`read_columns` gives; with several pieces each piece has the types of its own
    values (a key absent from a piece is a null column), which the caller reconciles. Errors
    name the file and the row, as :func:`read_columns` does.

    A JSON Lines row whose text cannot be read (not valid UTF-8, a lone surrogate escape, or a
    ``text`` key holding something other than a string or null) raises an error naming it; with
    ``problems`` given, it is recorded there instead (shard row -> message) before its piece is
    given, with null ``text`` (and null values for the keys that could not be read).
    """
    where = str(shard.path)
    if shard.format == "parquet":
        _check_file(shard)
        try:
            pf = parquet_file(shard)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"not a readable Parquet file: {e}", path=where) from e
        names = pf.schema_arrow.names
        missing = [c for c in columns if c not in names]
        if missing:
            raise InputError(f"no column {missing[0]!r}; the columns are {names}", path=where)
        if pf.metadata.num_rows == 0:
            yield pf.schema_arrow.empty_table().select(list(columns))
            return
        try:
            # One row group at a time: a reader over all of them buffers far ahead.
            for g in range(pf.num_row_groups):
                batches = pf.iter_batches(rows, [g], list(columns), use_threads=False)
                for batch in batches:
                    yield pa.Table.from_batches([batch])
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"corrupt Parquet data: {e}", path=where) from e
        return
    keys: dict[str, None] = {}
    start = 0
    for lines in _jsonl_chunks(shard, rows):
        frame = parse_json_lines(
            lines,
            where,
            start,
            text,
            problems,
            " (use --on-error record to keep such rows and go on)",
        )
        keys.update(dict.fromkeys(frame.columns))
        if start == 0 and len(lines) < rows:  # the whole shard: check before any work
            _check_keys(columns, keys, where)
        got = frame.select([c for c in columns if c in frame.columns]).to_arrow(
            compat_level=pl.CompatLevel.oldest()
        )
        start += len(lines)
        yield pa.table(
            {c: got[c] if c in got.column_names else pa.nulls(len(lines)) for c in columns}
        )
    if start == 0:
        yield pa.table({c: pa.nulls(0, pa.string()) for c in columns})
    else:
        _check_keys(columns, keys, where)


def _check_keys(columns: Sequence[str], keys: dict[str, None], where: str) -> None:
    missing = [c for c in columns if c not in keys]
    if missing:
        raise InputError(f"no row has key {missing[0]!r}; the keys are {list(keys)}", path=where)


def parquet_file(shard: Shard) -> pq.ParquetFile:
    """The Parquet file of a shard (local or on a remote file system), opened for reading.
    A local file is read by the thread that reads it; object storage, with a row group's column
    chunks fetched ahead at once (PyArrow's ``pre_buffer``, on its I/O threads)."""
    path, fs = shard.path.arrow()
    return pq.ParquetFile(path, filesystem=fs, pre_buffer=fs is not None)


def write_table(table: pa.Table, path: Path | Location, row_group_size: int | None = None) -> None:
    """Writes a Parquet file atomically (row groups of ``row_group_size`` rows; default
    pyarrow's, 1Mi)."""
    if isinstance(path, Location):
        with path.write() as f:
            pq.write_table(table, f, row_group_size=row_group_size)
        return
    with atomic_write(path) as f:
        pq.write_table(table, f, row_group_size=row_group_size)


def write_filtered(
    shard: Shard, keep: npt.NDArray[np.bool_], outdir: Location, rows: int = 1 << 16
) -> int:
    """Writes the kept rows of ``shard`` to ``outdir / shard.name``; returns their number.

    One piece of the shard is in memory at a time: a Parquet row group (the output has a row
    group of the kept rows of each input row group), or a block of JSON Lines (copied byte for
    byte, and compressed as a stream, gzip or Zstandard as the input was) of ``rows`` lines.
    """
    target = outdir / shard.name
    if shard.format == "parquet":
        pf = parquet_file(shard)
        if pf.metadata.num_rows != len(keep):
            raise InputError("changed while being read", path=str(shard.path))
        return _write_parquet_rows(pf, keep, target)
    kept = done = 0
    with target.write() as f:
        kind = shard.compression
        pack = Compressor(f, kind) if kind is not None else None
        try:
            for lines in _jsonl_chunks(shard, rows, keepends=True):
                sel = np.asarray(keep[done : done + len(lines)])
                done += len(lines)
                # Each line with its own end (LF, CRLF or CR); the last line of a file without
                # a final line end gets none.
                data = b"".join(line for line, k in zip(lines, sel, strict=False) if k)
                kept += int(np.count_nonzero(sel))
                if pack is not None:
                    pack.write(data)
                else:
                    f.write(data)
            if pack is not None:
                pack.finish()
        finally:
            if pack is not None:
                pack.close()  # after an error: abandoned, the file is removed
        if done != len(keep):
            raise InputError("changed while being read", path=str(shard.path))
    return kept


def _write_parquet_rows(pf: pq.ParquetFile, keep: npt.NDArray[np.bool_], target: Location) -> int:
    groups = pf.metadata.num_row_groups
    if groups == 0:
        write_table(pf.schema_arrow.empty_table(), target)
        return 0
    kept, start, writer = 0, 0, None
    with target.write() as f:
        try:
            for g in range(groups):
                table = pf.read_row_group(g, use_threads=False)
                sel = np.asarray(keep[start : start + table.num_rows])
                start += table.num_rows
                n = int(np.count_nonzero(sel))
                # An input without kept rows still gives a file: one empty row group.
                if n == 0 and (kept or g < groups - 1):
                    continue
                if writer is None:
                    writer = pq.ParquetWriter(f, table.schema)
                writer.write_table(table.filter(pa.array(sel)))
                kept += n
        finally:
            if writer is not None:
                writer.close()
    return kept
