"""Stage 1 of an images run: the hashes of every image, a batch of images per unit."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ... import _core
from ...errors import InputError
from ...image import image_hashes
from ...image_columns import check_image_type, resolve_images
from ...io import atomic_write, write_table
from ...storage import is_url
from ..components import MapUnits
from ..workdir import WorkDir
from .crops import region_options
from .plan import Plan
from .sources import (
    IMAGE_SUFFIXES,
    check_tar_end,
    image_column,
    member_bytes,
    open_tar,
    parquet_file,
    read_file,
    tar_step,
)


@dataclass(frozen=True)
class Job:
    """A piece of the hash stage that a task runs: a batch of image files, a row group of a
    Parquet file (a unit per ``batch`` rows of it) or a tar shard (a unit per ``batch`` image
    members; how many is known only once it is read)."""

    kind: str  # "files", "parquet" or "tar"
    index: int  # the batch of files, or the Parquet or tar file
    group: int = 0  # the row group of a Parquet file
    rows: int = 0  # rows of the row group, images of the batch of files
    first: int = 0  # the row group's first row in its file
    column: str = ""  # the image column of a Parquet file
    key_column: str | None = None

    def units(self, batch: int) -> list[str] | None:
        """The job's units in order; None for a tar shard (listed when it has been read)."""
        if self.kind == "files":
            return [f"hash-files-{self.index:06d}"]
        if self.kind == "parquet":
            name = f"hash-parquet-{self.index:06d}-{self.group:06d}"
            return [f"{name}-{k:06d}" for k in range(-(-self.rows // batch))]
        return None


class Hasher:
    """The hash stage: lists its jobs (reading only Parquet footers), runs each through an
    engine (this process, or Ray tasks), and lists all units in input order, each hashed into
    ``hashes/<unit>.parquet``."""

    def __init__(
        self, work: WorkDir, plan: Plan, column: str | None, memory: int | None = None
    ) -> None:
        self.work, self.plan, self.column = work, plan, column
        p = plan.parameters
        self.hash_kw = {
            "methods": [p["method"]],
            "hash_size": p["hash_size"],
            "mode": p["mode"],
            "pixel_limit": p["pixel_limit"],
            "frames": p.get("frames", "first"),
            "max_frames": p.get("max_frames", 1000),
            "memory": memory,
            **region_options(p),
        }

    def jobs(self) -> list[Job]:
        size = self.plan.batch
        n = len(self.plan.files)
        jobs = [Job("files", b, rows=min(size, n - i)) for b, i in enumerate(range(0, n, size))]
        for f, (path, _) in enumerate(self.plan.parquets):
            try:
                pf = parquet_file(path)
            except (pa.ArrowInvalid, OSError) as e:
                raise InputError(f"not a readable Parquet file: {e}", path=str(path)) from e
            col = image_column(pf, self.column, str(path))
            check_image_type(pf.schema_arrow.field(col).type, col, str(path))
            names = pf.schema_arrow.names
            key_col = next((k for k in ("key", "url", "path") if k in names and k != col), None)
            first = 0
            for g in range(pf.num_row_groups):
                rows = pf.metadata.row_group(g).num_rows
                jobs.append(Job("parquet", f, g, rows, first, col, key_col))
                first += rows
        jobs += [Job("tar", f) for f in range(len(self.plan.tars))]
        return jobs

    def run(self, map_units: MapUnits, tick: Callable[[int], None]) -> list[str]:
        jobs = self.jobs()
        fn = functools.partial(_run_job, self.work, self.plan, self.hash_kw, jobs)
        map_units("hash", fn, len(jobs), functools.partial(self._ticks, jobs, tick, [0]))
        units: list[str] = []
        for job in jobs:
            units.extend(job.units(self.plan.batch) or self._listed(f"tar-{job.index:06d}"))
        return units

    def _ticks(self, jobs: list[Job], tick: Callable[[int], None], at: list[int], n: int) -> None:
        """Counts the images of ``n`` more finished jobs (in order: under Ray, as if they had
        finished in order); a tar shard's are counted from the units it wrote."""
        for job in jobs[at[0] : at[0] + n]:
            if job.kind != "tar":
                tick(job.rows)
            else:
                listed = self._listed(f"tar-{job.index:06d}")
                tick(sum(pq.read_metadata(self._hashes(u)).num_rows for u in listed))
        at[0] += n

    def _hashes(self, unit: str) -> Path:
        return self.work.local(f"hashes/{unit}.parquet")

    def _listed(self, name: str) -> list[str]:
        units: list[str] = json.loads(self.work.local(f"units/{name}.json").read_text())
        return units


def _run_job(work: WorkDir, plan: Plan, hash_kw: dict[str, Any], jobs: list[Job], j: int) -> None:
    """Hashes the units of job ``j`` that are not done yet (a task of the engine)."""
    job = jobs[j]
    if job.kind == "files":
        size = plan.batch
        files = plan.files[job.index * size : (job.index + 1) * size]
        chunk = [str(p) for p, _ in files]
        if any(is_url(p) for p in chunk):
            hashed = functools.partial(_read_and_hash, hash_kw, files)
        else:  # local files: the hasher reads them itself, in parallel
            hashed = functools.partial(_hash_paths, hash_kw, chunk)
        _unit(work, f"hash-files-{job.index:06d}", "", [None] * len(chunk), chunk, hashed)
    elif job.kind == "parquet":
        _parquet(work, plan, hash_kw, job)
    else:
        _tar(work, plan, hash_kw, job.index)


Hashed = Callable[[dict[int, str]], pa.Table]
"""The hashes of a unit's images, read only for a unit not yet done; an image that could not be
read is recorded (its index -> the message) in the dict given."""


def _unit(
    work: WorkDir,
    unit: str,
    source: str,
    rows: list[int | None],
    keys: list[str],
    hashed: Hashed,
) -> None:
    if work.done(unit):
        return
    missing: dict[int, str] = {}
    t = hashed(missing)
    if missing:  # files that could not be read
        messages = t["error"].to_pylist()
        # With --frames all a row per frame: each names its image in `item`.
        items = t["item"].to_pylist() if "item" in t.column_names else range(len(messages))
        for r, i in enumerate(items):
            if i in missing:
                messages[r] = missing[i]
        t = t.set_column(t.column_names.index("error"), "error", pa.array(messages, pa.string()))
    cols: dict[str, Any] = {
        "shard": pa.array([source or k for k in keys], pa.string()),
        "row": pa.array(rows, pa.int64()),
        "key": pa.array(keys, pa.string()),
    }
    if "item" in t.column_names:  # --frames all: a row per frame, the image's first
        cols = {name: col.take(t["item"]) for name, col in cols.items()}
        t = t.drop_columns(["item"])
    cols.update({name: t[name] for name in t.column_names})
    write_table(pa.table(cols), work.path(f"hashes/{unit}.parquet"))
    work.mark(unit)


def _parquet(work: WorkDir, plan: Plan, hash_kw: dict[str, Any], job: Job) -> None:
    """Batches of ``batch`` rows of one row group; only the image and key columns are read,
    and nothing of a row group whose units are all done."""
    units = job.units(plan.batch) or []
    if all(work.done(u) for u in units):
        return
    path = plan.parquets[job.index][0]
    pf = parquet_file(path)
    columns = [job.column] + ([job.key_column] if job.key_column else [])
    start = job.first
    batches = pf.iter_batches(batch_size=plan.batch, row_groups=[job.group], columns=columns)
    for unit, rb in zip(units, batches, strict=True):
        keys = [str(k) for k in rb.column(1).to_pylist()] if job.key_column else [""] * rb.num_rows
        hashed = functools.partial(
            _hash_column, hash_kw, rb.column(0), str(path), first_row=start, name=job.column
        )
        _unit(work, unit, str(path), list(range(start, start + rb.num_rows)), keys, hashed)
        start += rb.num_rows


def _tar(work: WorkDir, plan: Plan, hash_kw: dict[str, Any], f: int) -> None:
    """Runs of ``batch`` image members of a webdataset shard; ``row`` is the member's index in
    the archive. The members of a unit that is done are passed over unread."""
    name = f"tar-{f:06d}"
    if work.done(name):
        return
    path = str(plan.tars[f][0])
    units: list[str] = []
    rows: list[int | None] = []
    keys: list[str] = []
    data: list[bytes | None] = []

    def flush() -> None:
        unit = f"hash-{name}-{len(units):06d}"
        hashed = functools.partial(_hash_bytes, hash_kw, pa.array(data, pa.binary()))
        _unit(work, unit, path, list(rows), list(keys), hashed)
        units.append(unit)
        rows.clear()
        keys.clear()
        data.clear()

    with open_tar(path) as tf:
        idx, last, members = -1, "at its first member", iter(tf)
        while (m := tar_step(functools.partial(next, members, None), path, last)) is not None:
            idx, last = idx + 1, f"after member {m.name!r}"
            # A hard link is read as the member it links to, found only among the earlier
            # members of this archive (tarfile never looks outside it); symbolic links,
            # directories and devices are passed over.
            if not (m.isfile() or m.islnk()) or Path(m.name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if not work.done(f"hash-{name}-{len(units):06d}"):
                read = functools.partial(member_bytes, tf, m)
                data.append(tar_step(read, path, f"in member {m.name!r}"))
            rows.append(idx)
            keys.append(m.name)
            if len(rows) == plan.batch:
                flush()
        tar_step(functools.partial(check_tar_end, tf), path, last)
    if rows:
        flush()
    # The units of the whole shard, which is then done.
    with atomic_write(work.path(f"units/{name}.json")) as fh:
        fh.write(json.dumps(units).encode())
    work.mark(name)


def empty_hashes(method: str) -> pa.Table:
    """The table of a run without images."""
    cols: dict[str, pa.Array] = {
        "shard": pa.array([], pa.string()),
        "row": pa.array([], pa.int64()),
        "key": pa.array([], pa.string()),
        method: pa.array([], pa.binary(32) if method == "pdq" else pa.uint64()),
    }
    if method == "pdq":
        cols["pdq_quality"] = pa.array([], pa.uint8())
    cols.update(
        width=pa.array([], pa.uint32()),
        height=pa.array([], pa.uint32()),
        error=pa.array([], pa.string()),
    )
    return pa.table(cols)


def _hash_paths(hash_kw: dict[str, Any], paths: list[str], missing: dict[int, str]) -> pa.Table:
    return image_hashes(paths, **hash_kw)


def _hash_bytes(hash_kw: dict[str, Any], data: pa.Array, missing: dict[int, str]) -> pa.Table:
    return image_hashes(data, **hash_kw)


def _hash_column(
    hash_kw: dict[str, Any],
    column: pa.Array,
    shard: str,
    missing: dict[int, str],
    *,
    first_row: int,
    name: str,
) -> pa.Table:
    """The hashes of a batch of an image column: a Hugging Face ``Image`` struct's bytes, or
    the files its paths (or a string column's) name, relative to the shard; a file that cannot
    be read leaves its row null and its message in ``missing``."""
    images = resolve_images(column, shard, first_row=first_row, name=name, errors=missing)
    return image_hashes(images, **hash_kw)


def _read_and_hash(
    hash_kw: dict[str, Any], files: list[list[Any]], missing: dict[int, str]
) -> pa.Table:
    """The hashes of image files that are not all local (``[path or URL, size]``), read through
    their file systems one file at a time, in pieces whose encoded bytes take at most a quarter
    of the decode memory (a larger file alone): a piece is read, then hashed within the decode
    memory like any column of bytes. A file that cannot be read is a null image, its message
    in ``missing``."""
    decode = hash_kw.get("memory") or _core.DEFAULT_DECODE_MEMORY
    budget = max(int(decode) // 4, 1)
    pieces: list[pa.Table] = []
    start = 0
    while start < len(files) or not pieces:
        end, held = start, 0
        while end < len(files) and (end == start or held + int(files[end][1]) <= budget):
            held += int(files[end][1])
            end += 1
        data: list[bytes | None] = []
        for i in range(start, end):
            where = str(files[i][0])
            try:
                data.append(read_file(where))
            except (OSError, ValueError) as e:
                missing[i] = f"cannot read {where}: {e}"
                data.append(None)
        t = image_hashes(pa.array(data, pa.large_binary()), **hash_kw)
        if "item" in t.column_names and start:  # --frames all: `item` counts from the piece
            at = t.column_names.index("item")
            item = pc.add(t["item"], pa.scalar(start, pa.uint32()))
            t = t.set_column(at, "item", item)
        pieces.append(t)
        start = end
    return pa.concat_tables(pieces)
