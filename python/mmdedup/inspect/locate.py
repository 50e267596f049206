"""Finding a run's files and reading just the rows a report needs.

Parquet files are read a row group at a time, only the groups holding wanted rows and only the
wanted columns; JSON Lines files are streamed line by line and only the wanted lines are parsed.
Nothing reads a whole corpus.
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError, MmdedupError
from ..io import Shard, discover, open_lines
from ..storage import Location
from .model import Kind, Thumb

__all__ = [
    "THUMB_PX",
    "find_shards",
    "image_bytes",
    "load_summary",
    "read_positions",
    "read_rows",
    "run_kind",
    "thumbnail",
    "work_dir",
]

THUMB_PX = 128
_MAX_IMAGE_BYTES = 64 * 2**20


def load_summary(outdir: Path) -> dict[str, Any]:
    path = outdir / "summary.json"
    if not path.is_file():
        raise InputError(
            f"{outdir} holds no summary.json: not the OUTDIR of a finished mmdedup dedup or "
            "mmdedup images run"
        )
    summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return summary


def run_kind(outdir: Path, summary: dict[str, Any]) -> Kind:
    """``interleaved`` (documents.parquet), ``images`` (image counts) or ``text``."""
    if summary.get("mode") == "interleaved" or (outdir / "documents.parquet").is_file():
        return "interleaved"
    if "images" in summary.get("counts", {}):
        return "images"
    if not (outdir / "clusters.parquet").is_file():
        raise InputError(f"{outdir} holds no clusters.parquet")
    return "text"


def work_dir(outdir: Path, given: Path | None, manifest: str) -> Path | None:
    """The run's work directory (``--work-dir``, else ``OUTDIR/.mmdedup-work``) when it still
    holds ``manifest``."""
    for cand in ([given] if given is not None else []) + [outdir / ".mmdedup-work"]:
        if (cand / manifest).is_file():
            return cand
    return None


def find_shards(
    summary: dict[str, Any], work: Path | None, manifest: str, inputs: Sequence[str] | None
) -> tuple[dict[str, Shard], str | None]:
    """The input shards by name: from ``inputs`` when given, else the work directory's
    manifest (absolute paths), else the summary's inputs found again (relative to the current
    directory). Also says what went wrong, if nothing was found."""
    if inputs:
        try:
            return {s.name: s for s in discover(list(inputs))}, None
        except MmdedupError as e:
            return {}, f"the inputs given cannot be read: {e}"
    if work is not None:
        listed = json.loads((work / manifest).read_text()).get("shards", [])
        shards = {
            s["name"]: Shard(Location(s["path"]), s["name"], s["format"], s["gzipped"])
            for s in listed
        }
        if all(s.path.exists() for s in shards.values()):
            return shards, None
    try:
        return {s.name: s for s in discover(list(summary.get("inputs", [])))}, None
    except MmdedupError as e:
        return {}, (
            f"the run's input shards were not found ({e}); run from the directory the run "
            "was started in, or give the inputs (--input)"
        )


def _row_groups(pf: pq.ParquetFile, rows: Sequence[int]) -> dict[int, list[int]]:
    """Wanted rows grouped by the row group holding them (as rows of the group)."""
    starts = np.cumsum([0] + [pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])
    out: dict[int, list[int]] = {}
    for r in sorted(set(rows)):
        g = int(np.searchsorted(starts, r, side="right")) - 1
        if 0 <= g < pf.num_row_groups:
            out.setdefault(g, []).append(r)
    return out


def read_positions(
    path: Path | pq.ParquetFile, rows: Iterable[int], columns: Sequence[str] | None
) -> dict[int, dict[str, Any]]:
    """``columns`` (all when None; absent ones skipped) of the given rows of a Parquet file,
    reading only the row groups that hold them."""
    pf = path if isinstance(path, pq.ParquetFile) else pq.ParquetFile(path)
    names = pf.schema_arrow.names
    cols = names if columns is None else [c for c in columns if c in names]
    out: dict[int, dict[str, Any]] = {}
    for g, wanted in _row_groups(pf, list(rows)).items():
        start = sum(pf.metadata.row_group(i).num_rows for i in range(g))
        # In small batches, keeping only the wanted rows: a row group's whole text column is
        # never held at once (this runs at the end of every run, under its memory budget).
        todo, at = iter(wanted), start
        nxt = next(todo, None)
        for batch in pf.iter_batches(batch_size=256, row_groups=[g], columns=cols):
            while nxt is not None and nxt < at + batch.num_rows:
                out[nxt] = batch.slice(nxt - at, 1).to_pylist()[0]
                nxt = next(todo, None)
            at += batch.num_rows
            if nxt is None:
                break
    return out


def read_rows(
    shard: Shard, rows: Iterable[int], columns: Sequence[str] | None
) -> dict[int, dict[str, Any] | str]:
    """The given rows of a shard as dicts (or why a row cannot be read): Parquet by row group,
    JSON Lines streamed (row numbers count non-blank lines, as the runs count them)."""
    wanted = set(rows)
    if not wanted:
        return {}
    if shard.format == "parquet":
        path, fs = shard.path.arrow()
        return dict(read_positions(pq.ParquetFile(path, filesystem=fs), wanted, columns))
    out: dict[int, dict[str, Any] | str] = {}
    last = max(wanted)
    with open_lines(shard) as lines:
        for i, line in enumerate(lines):
            if i in wanted:
                try:
                    value = json.loads(line.decode("utf-8", errors="replace"))
                except ValueError as e:
                    out[i] = f"invalid JSON: {e}"
                    continue
                if not isinstance(value, dict):
                    out[i] = "not a JSON object"
                elif columns is None:
                    out[i] = value
                else:
                    out[i] = {c: value.get(c) for c in columns}
            if i >= last:
                break
    return out


def _image_column(pf: pq.ParquetFile, column: str | None, where: str) -> str:
    from ..runs.images.sources import image_column as choose

    return choose(pf, column, where)


def image_bytes(
    wanted: Iterable[tuple[str, int | None]], column: str | None
) -> dict[tuple[str, int | None], bytes | str]:
    """The bytes of images given as ``(source, row)`` of an images run's ``clusters.parquet``
    (a file; a Parquet row; a tar member by index), or why they cannot be read."""
    by_source: dict[str, list[int | None]] = {}
    for source, row in wanted:
        by_source.setdefault(source, []).append(row)
    out: dict[tuple[str, int | None], bytes | str] = {}
    for source, rows in by_source.items():
        try:
            out.update(_source_bytes(source, rows, column))
        except (OSError, ValueError, ImportError, tarfile.TarError, pa.ArrowException) as e:
            for r in rows:
                out[(source, r)] = f"cannot read {source}: {e}"
    return out


def _source_bytes(
    source: str, rows: list[int | None], column: str | None
) -> dict[tuple[str, int | None], bytes | str]:
    """The images of one input of an images run, a local path or a URL (read through its file
    system: only the rows' row groups of a Parquet file, a tar shard up to its last wanted
    member)."""
    out: dict[tuple[str, int | None], bytes | str] = {}
    loc = Location(source)
    name = loc.name().lower()
    if rows == [None] * len(rows):
        size = loc.size()
        out[(source, None)] = (
            loc.read_bytes() if size <= _MAX_IMAGE_BYTES else f"{size:,} bytes: too large"
        )
        return out
    real = [r for r in rows if r is not None]
    if name.endswith((".parquet", ".pq")):
        path, fs = loc.arrow()
        pf = pq.ParquetFile(path, filesystem=fs)
        col = _image_column(pf, column, source)
        for r, rec in read_positions(pf, real, [col]).items():
            v = rec.get(col)
            if isinstance(v, dict):
                v = v.get("bytes")
            out[(source, r)] = bytes(v) if v else "no image bytes in this row"
        return out
    left = set(real)
    with loc.open_read() as raw, tarfile.open(fileobj=raw, mode="r:*") as tf:
        idx = -1
        while left and (m := tf.next()) is not None:
            idx += 1
            if idx in left:
                left.discard(idx)
                f = tf.extractfile(m) if m.isfile() else None
                if f is None or m.size > _MAX_IMAGE_BYTES:
                    out[(source, idx)] = f"tar member {m.name!r} cannot be read"
                else:
                    out[(source, idx)] = f.read()
    for r in left:
        out[(source, r)] = f"no member {r} in {source}"
    return out


def thumbnail(data: bytes | str) -> Thumb:
    """A JPEG (PNG when transparent) ``data:`` URI at most ``THUMB_PX`` on its longer side."""
    if isinstance(data, str):
        return Thumb(None, error=data)
    try:
        from PIL import Image
    except ImportError:
        return Thumb(None, size_bytes=len(data), error="no preview: pip install pillow")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
            width, height = im.size
            if width * height > 2 * 178956970:
                return Thumb(None, width, height, len(data), "too many pixels to preview")
            im.draft("RGB", (THUMB_PX, THUMB_PX))
            im.thumbnail((THUMB_PX, THUMB_PX))
            buf = io.BytesIO()
            if im.mode in ("RGBA", "LA", "P"):
                im.convert("RGBA").save(buf, format="PNG", optimize=True)
                mime = "image/png"
            else:
                im.convert("RGB").save(buf, format="JPEG", quality=80)
                mime = "image/jpeg"
    except Exception as e:  # any decoder failure is shown, never raised
        return Thumb(None, None, None, len(data), f"cannot decode: {e}")
    uri = f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
    return Thumb(uri, width, height, len(data))
