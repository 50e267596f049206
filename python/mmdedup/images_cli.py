"""``mmdedup images``: hash every image of a corpus and cluster near-duplicates.

Two stages over files in a work directory (``OUTDIR/.mmdedup-work`` or ``--work-dir``), so that
an interrupted run resumes with ``--resume`` and gives byte-identical results:

1. ``hash``, one unit per batch of images, in input order: a run of ``batch`` image files, a
   record batch of ``batch`` rows of a Parquet file, a run of ``batch`` image members of a tar
   shard. Each unit's
   hashes go to ``hashes/<unit>.parquet`` (written under a temporary name and renamed), then the
   unit is marked done; a unit that is done is not read or decoded again.
2. ``clusters``: the near-duplicate search over all hashes, written to ``clusters.parquet``;
   ``summary.json`` last. In memory when the hashes and per-row data fit ``--memory``;
   otherwise over on-disk partitions, with the edges, the connected components and the counts
   in files (:mod:`mmdedup.images_disk`): the same ``clusters.parquet``, byte for byte.

``manifest.json`` records the parameters and the inputs (path and size of every file);
``--resume`` refuses a work directory whose manifest differs.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tarfile
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from . import _core, images_disk
from .errors import InputError, MmdedupError, ParameterError
from .image import hamming_clusters, image_hashes, item_clusters, neighbour_counts
from .images_disk import (
    cluster_columns,
    cluster_metadata,
    clusters_on_disk,
    in_memory_bytes,
    remove_search,
)
from .io import atomic_write, write_table
from .pipeline import WorkDir, parse_size
from .runs.dirs import Run as OutputRun
from .runs.dirs import claim_work_dir, open_run

__all__ = ["images", "run_images"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
BATCH = 2048
_VERSION = 1
WORK_DIR_NAME = ".mmdedup-work"


def _discover(inputs: tuple[str, ...]) -> tuple[list[Path], list[Path], list[Path]]:
    """Image files, Parquet files and tar shards, each sorted. A symlink counts under its own
    name (a Hugging Face hub cache links every file to ``blobs/<hash>``, without suffix); a file
    given twice, under any names, counts once."""
    import glob

    files: dict[Path, Path] = {}  # each file (symlinks resolved) -> the path it was found at
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = [q for q in p.rglob("*") if q.is_file() and WORK_DIR_NAME not in q.parts]
        elif p.exists():
            found = [p]
        elif any(c in item for c in "*?["):
            found = [Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file()]
            if not found:
                raise InputError(f"no file matches the pattern {item!r}")
        else:
            raise InputError(f"{item}: no such file or directory")
        for q in found:
            real, named = q.resolve(), Path(os.path.abspath(q))
            if real not in files or named < files[real]:
                files[real] = named
    imgs = sorted(f for f in files.values() if f.suffix.lower() in IMAGE_SUFFIXES)
    parquets = sorted(f for f in files.values() if f.suffix.lower() in (".parquet", ".pq"))
    tars = sorted(f for f in files.values() if f.name.lower().endswith((".tar", ".tar.gz", ".tgz")))
    if not (imgs or parquets or tars):
        raise InputError("no images, Parquet files or tar shards among the inputs")
    return imgs, parquets, tars


def _image_column(pf: pq.ParquetFile, column: str | None, where: str) -> str:
    schema = pf.schema_arrow
    if column is not None:
        if column not in schema.names:
            raise InputError(f"no column {column!r}; the columns are {schema.names}", path=where)
        return column
    for name in ("image", "jpg", "png", "webp", "bytes", "img"):
        if name in schema.names:
            return name
    binary = [
        f.name for f in schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
    ]
    if len(binary) == 1:
        return str(binary[0])
    raise InputError(
        f"cannot tell which column holds the images; pass --column (columns: {schema.names})",
        path=where,
    )


def _check_image_column(pf: pq.ParquetFile, column: str, where: str) -> None:
    """The image column must hold encoded images: binary, or Hugging Face ``Image`` structs
    with their ``bytes``."""
    kind = pf.schema_arrow.field(column).type
    if _binary(kind) or pa.types.is_null(kind):
        return
    if pa.types.is_struct(kind):
        at = kind.get_field_index("bytes")
        if at >= 0 and (_binary(kind.field(at).type) or pa.types.is_null(kind.field(at).type)):
            return
        what = f"structs without image bytes ({kind})"
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        what = "strings"
    else:
        what = f"values of type {kind}"
    raise InputError(
        f"column {column!r} holds {what}; mmdedup images expects image bytes (binary) or a "
        "Hugging Face Image struct",
        path=where,
    )


def _binary(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind)
    )


def _bytes_of(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    # Hugging Face `Image` columns are structs of (bytes, path).
    if pa.types.is_struct(col.type):
        if col.type.get_field_index("bytes") < 0:
            raise InputError(f"struct column without a 'bytes' field: {col.type}")
        return (
            pa.chunked_array([c.field("bytes") for c in col.chunks])
            if isinstance(col, pa.ChunkedArray)
            else col.field("bytes")
        )
    return col


# -- stage 1: hashes, one unit per batch of images ---------------------------------------------


@dataclass
class _Plan:
    """What a run hashes and how; saved as ``manifest.json`` and compared on ``--resume``."""

    parameters: dict[str, Any]
    files: list[list[Any]] = field(default_factory=list)  # [path, size]
    parquets: list[list[Any]] = field(default_factory=list)
    tars: list[list[Any]] = field(default_factory=list)
    batch: int = BATCH
    version: int = _VERSION

    @staticmethod
    def listing(paths: list[Path]) -> list[list[Any]]:
        return [[str(p), p.stat().st_size] for p in paths]

    def differences(self, old: dict[str, Any]) -> list[str]:
        """What differs from an earlier run's manifest, in words (empty: the same work)."""
        new = asdict(self)
        out = []
        was_params, now_params = old.get("parameters", {}), new["parameters"]
        for k in sorted(set(was_params) | set(now_params)):
            if was_params.get(k) != now_params.get(k):
                out.append(f"{k} was {was_params.get(k)!r}, now {now_params.get(k)!r}")
        for kind, what in (
            ("files", "image files"),
            ("parquets", "Parquet files"),
            ("tars", "tar shards"),
        ):
            was = {p: size for p, size in old.get(kind, [])}
            now = {p: size for p, size in new[kind]}
            if was != now:
                changed = sum(1 for p in now.keys() & was.keys() if now[p] != was[p])
                out.append(
                    f"{what}: {len(now.keys() - was.keys())} new, "
                    f"{len(was.keys() - now.keys())} gone, {changed} of another size"
                )
        for k in ("batch", "version"):
            if old.get(k) != new[k]:
                out.append(f"{k} was {old.get(k)!r}, now {new[k]!r}")
        return out


class _Hasher:
    """Hashes every unit of a plan that is not done yet into ``hashes/<unit>.parquet``, and
    lists all units in input order."""

    def __init__(
        self, work: WorkDir, plan: _Plan, column: str | None, bar: Any, memory: int | None = None
    ) -> None:
        self.work, self.plan, self.column, self.bar = work, plan, column, bar
        p = plan.parameters
        self.hash_kw = {
            "methods": [p["method"]],
            "hash_size": p["hash_size"],
            "mode": p["mode"],
            "pixel_limit": p["pixel_limit"],
            "frames": p.get("frames", "first"),
            "max_frames": p.get("max_frames", 1000),
            "memory": memory,
        }
        self.units: list[str] = []

    def run(self) -> list[str]:
        self.files()
        for f, (path, _) in enumerate(self.plan.parquets):
            self.parquet(f, Path(path))
        for f, (path, _) in enumerate(self.plan.tars):
            self.tar(f, Path(path))
        return self.units

    def _unit(
        self,
        unit: str,
        source: str,
        rows: list[int | None],
        keys: list[str],
        images: Any,
    ) -> None:
        self.units.append(unit)
        if self.work.done(unit):
            return
        t = image_hashes(images, **self.hash_kw)
        cols: dict[str, Any] = {
            "source": pa.array([source or k for k in keys], pa.string()),
            "row": pa.array(rows, pa.int64()),
            "key": pa.array(keys, pa.string()),
        }
        if "item" in t.column_names:  # --frames all: a row per frame, the image's first
            cols = {name: col.take(t["item"]) for name, col in cols.items()}
            t = t.drop_columns(["item"])
        cols.update({name: t[name] for name in t.column_names})
        write_table(pa.table(cols), self.work.path(f"hashes/{unit}.parquet"))
        self.bar.update(t.num_rows)
        self.work.mark(unit)

    def files(self) -> None:
        paths = [str(p) for p, _ in self.plan.files]
        size = self.plan.batch
        for b, i in enumerate(range(0, len(paths), size)):
            chunk = paths[i : i + size]
            self._unit(f"hash-files-{b:06d}", "", [None] * len(chunk), chunk, chunk)

    def parquet(self, f: int, path: Path) -> None:
        """Record batches of ``batch`` rows; only the image and key columns are read."""
        name = f"parquet-{f:06d}"
        if self.work.done(name):
            self.units.extend(self._listed(name))
            return
        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"not a readable Parquet file: {e}", path=str(path)) from e
        col = _image_column(pf, self.column, str(path))
        _check_image_column(pf, col, str(path))
        names = pf.schema_arrow.names
        key_col = next((k for k in ("key", "url", "path") if k in names and k != col), None)
        start, first = 0, len(self.units)
        columns = [col] + ([key_col] if key_col else [])
        for b, rb in enumerate(pf.iter_batches(batch_size=self.plan.batch, columns=columns)):
            keys = [str(k) for k in rb.column(1).to_pylist()] if key_col else [""] * rb.num_rows
            self._unit(
                f"hash-{name}-{b:06d}",
                str(path),
                list(range(start, start + rb.num_rows)),
                keys,
                _bytes_of(rb.column(0)),
            )
            start += rb.num_rows
        self._list(name, self.units[first:])

    def tar(self, f: int, path: Path) -> None:
        """Runs of ``batch`` image members of a webdataset shard; ``row`` is the member's index
        in the archive. The members of a unit that is done are passed over unread."""
        name = f"tar-{f:06d}"
        if self.work.done(name):
            self.units.extend(self._listed(name))
            return
        first, b = len(self.units), 0
        rows: list[int | None] = []
        keys: list[str] = []
        data: list[bytes | None] = []

        def flush() -> None:
            self._unit(
                f"hash-{name}-{b:06d}",
                str(path),
                list(rows),
                list(keys),
                pa.array(data, pa.binary()),
            )
            rows.clear()
            keys.clear()
            data.clear()

        with _open_tar(path) as tf:
            idx, last, members = -1, "at its first member", iter(tf)
            while (m := _tar_step(functools.partial(next, members, None), path, last)) is not None:
                idx, last = idx + 1, f"after member {m.name!r}"
                # A hard link is read as the member it links to, found only among the earlier
                # members of this archive (tarfile never looks outside it); symbolic links,
                # directories and devices are passed over.
                if (
                    not (m.isfile() or m.islnk())
                    or Path(m.name).suffix.lower() not in IMAGE_SUFFIXES
                ):
                    continue
                if not self.work.done(f"hash-{name}-{b:06d}"):
                    read = functools.partial(_member_bytes, tf, m)
                    data.append(_tar_step(read, path, f"in member {m.name!r}"))
                rows.append(idx)
                keys.append(m.name)
                if len(rows) == self.plan.batch:
                    flush()
                    b += 1
            _tar_step(functools.partial(_check_tar_end, tf), path, last)
        if rows:
            flush()
        self._list(name, self.units[first:])

    def _list(self, name: str, units: list[str]) -> None:
        """Records the units of a whole input file, which is then done."""
        with atomic_write(self.work.path(f"units/{name}.json")) as fh:
            fh.write(json.dumps(units).encode())
        self.work.mark(name)

    def _listed(self, name: str) -> list[str]:
        units: list[str] = json.loads((self.work.root / "units" / f"{name}.json").read_text())
        return units


_T = TypeVar("_T")


def _tar_step(step: Callable[[], _T], path: Path, where: str) -> _T:
    """A read of a tar archive, its errors (a truncated or corrupt archive) as an
    :class:`InputError` naming the file and ``where`` in it (the member)."""
    try:
        return step()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise InputError(f"not a readable tar file ({where}): {e}", path=str(path)) from e


def _check_tar_end(tf: tarfile.TarFile) -> None:
    """tarfile ends the members quietly at a header cut short or not a header: the archive must
    end in a zero block, or (leniently) right after its last member."""
    assert tf.fileobj is not None
    tf.fileobj.seek(tf.offset)
    block = tf.fileobj.read(tarfile.BLOCKSIZE)
    if block and block != bytes(tarfile.BLOCKSIZE):
        what = "cut short" if len(block) < tarfile.BLOCKSIZE else "not a tar header"
        raise tarfile.ReadError(f"truncated or corrupt: {what} at byte {tf.offset:,}")


def _member_bytes(tf: tarfile.TarFile, m: tarfile.TarInfo) -> bytes | None:
    """A member's bytes; None for a hard link to no earlier member (an error row)."""
    try:
        member = tf.extractfile(m)
    except KeyError:  # a hard link whose target is not in the archive
        return None
    return member.read() if member else None


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise InputError(f"not a readable tar file: {e}", path=str(path)) from e


def _empty_hashes(method: str) -> pa.Table:
    """The table of a run without images."""
    cols: dict[str, pa.Array] = {
        "source": pa.array([], pa.string()),
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


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    "outdir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory for clusters.parquet and summary.json.",
)
@click.option(
    "-m",
    "--method",
    default="phash",
    show_default=True,
    type=click.Choice(
        ["phash", "dhash", "dhash_vertical", "ahash", "whash", "phash_simple", "pdq"]
    ),
    help="Perceptual hash. Near-duplicate search takes 64-bit hashes (hash size 8) and PDQ's "
    "256 bits.",
)
@click.option(
    "--hash-size",
    type=click.IntRange(2, 64),
    default=8,
    show_default=True,
    help="Hash side: bits = size².",
)
@click.option(
    "--mode",
    type=click.Choice(["canonical", "compatible"]),
    default="canonical",
    show_default=True,
    help="canonical: EXIF orientation, alpha over mid-gray, 16-bit scaled; compatible: "
    "bit-identical to ImageHash 4.3 on Pillow.",
)
@click.option(
    "-k",
    "--max-distance",
    type=click.IntRange(0, 256),
    default=None,
    help="Largest Hamming distance between near-duplicates [default: 8; 31 for PDQ, Meta's "
    "match threshold] (MMC4 used 5 on pHash).",
)
@click.option(
    "--keep",
    "keep_rule",
    type=click.Choice(["largest", "first"]),
    default="largest",
    show_default=True,
    help="Which image of a cluster stays: the one with most pixels "
    "(ties: first), or the first in input order.",
)
@click.option(
    "-c",
    "--column",
    default=None,
    help="Image bytes column of Parquet inputs (default: "
    "image, jpg, png, webp, bytes, or the only binary column).",
)
@click.option(
    "--pixel-limit",
    type=click.IntRange(1),
    default=None,
    help="Refuse images with more pixels (decompression bombs).",
)
@click.option(
    "--frames",
    type=click.Choice(["first", "all"]),
    default="first",
    show_default=True,
    help="Animations (GIF, WebP, APNG): hash the first frame, or every frame; with 'all', two "
    "images are near-duplicates when any frame of one is near any frame of the other.",
)
@click.option(
    "--max-frames",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="With --frames all: frames hashed per animation; longer ones are flagged "
    "(frames_truncated in clusters.parquet) and counted in a warning.",
)
@click.option(
    "--threads", type=click.IntRange(1), default=None, help="Worker threads (default: all cores)."
)
@click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in OUTDIR.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run (same inputs and options): batches of images already "
    "hashed are not read again; the results are identical to an uninterrupted run.",
)
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the hashes of each batch go (default: OUTDIR/.mmdedup-work).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=BATCH,
    show_default=True,
    help="Images per unit of work: image files, rows of a Parquet record batch, tar members.",
)
@click.option(
    "--memory",
    default="4GB",
    show_default=True,
    help="Memory budget: of the images decoded at the same time (larger images wait), and of "
    "the clusters stage: when the hashes and per-row data would not fit, "
    "the search runs over on-disk partitions and the clusters and counts come from edge files "
    "(64-bit hashes; PDQ and --frames all are searched in memory). The results are the same.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def images(
    inputs: tuple[str, ...],
    outdir: Path,
    method: str,
    hash_size: int,
    mode: str,
    max_distance: int | None,
    keep_rule: str,
    column: str | None,
    pixel_limit: int | None,
    frames: str,
    max_frames: int,
    threads: int | None,
    overwrite: bool,
    resume: bool,
    work_dir: Path | None,
    batch_size: int,
    memory: str,
    quiet: bool,
) -> None:
    """Hash images and find their near-duplicates.

    INPUT is an image file (JPEG, PNG, WebP, GIF, BMP, TIFF), a Parquet file with an image bytes
    column (img2dataset, Hugging Face), a webdataset .tar shard, a directory (searched
    recursively) or a glob pattern. OUTDIR receives:

    \b
      clusters.parquet  one row per image: source, row, key, width, height, hash (uint64 for
                        64-bit hashes; the first frame's), [quality], [frames], count
                        (images within --max-distance, itself included), cluster, keep,
                        status, error
      summary.json      counts, parameters, how the search ran, time per stage

    Images that cannot be decoded get status 'error' with the reason, and are kept.

    Images are hashed in batches (--batch-size image files, Parquet rows or tar members), each
    saved to the work directory as it finishes: after an interruption (Ctrl-C,
    kill -9, a full disk), the same command with --resume hashes only the batches not done.

    When the hashes and per-row data would not fit --memory, the near-duplicate search runs
    over on-disk partitions and the clusters and counts come from edge files: the same
    clusters.parquet, byte for byte.

    \b
    Examples:
      mmdedup images photos/ -o out/
      mmdedup images 'shards/*.parquet' -o out/ --column jpg -k 5
      mmdedup images data/*.tar -o out/ --method dhash --keep first
      mmdedup images data/*.tar -o out/ --method dhash --keep first --resume
      mmdedup images 'shards/*.parquet' -o out/ --memory 2GB
      mmdedup images stickers/ -o out/ --frames all
    """
    try:
        summary = run_images(
            inputs,
            outdir,
            method=method,
            hash_size=hash_size,
            mode=mode,
            max_distance=max_distance,
            keep_rule=keep_rule,
            column=column,
            pixel_limit=pixel_limit,
            frames=frames,
            max_frames=max_frames,
            threads=threads,
            overwrite=overwrite,
            resume=resume,
            work_dir=work_dir,
            batch_size=batch_size,
            memory=parse_size(memory),
            quiet=quiet,
        )
    except MmdedupError as e:
        raise click.ClickException(str(e)) from e
    if not quiet:
        c = summary["counts"]
        click.echo(
            f"{c['images']:,} images: kept {c['kept']:,}, removed {c['removed']:,} near-duplicates "
            f"in {c['clusters']:,} clusters, {c['errors']:,} errors, in {summary['seconds']['total']:.1f} s"
        )


def run_images(
    inputs: tuple[str, ...] | list[str],
    outdir: Path,
    *,
    method: str = "phash",
    hash_size: int = 8,
    mode: str = "canonical",
    max_distance: int | None = None,
    keep_rule: str = "largest",
    column: str | None = None,
    pixel_limit: int | None = None,
    frames: str = "first",
    max_frames: int = 1000,
    threads: int | None = None,
    overwrite: bool = False,
    resume: bool = False,
    work_dir: Path | None = None,
    batch_size: int = BATCH,
    memory: int = 4 * 2**30,
    quiet: bool = True,
) -> dict[str, Any]:
    """What ``mmdedup images`` does; returns the summary. ``memory`` is the clusters stage's
    budget in bytes (see :mod:`mmdedup.images_disk`)."""
    t0 = time.perf_counter()
    if threads is not None:
        _core.set_num_threads(threads)
    outdir = Path(outdir)
    bits = 256 if method == "pdq" else hash_size * hash_size
    if max_distance is None:
        max_distance = 31 if method == "pdq" else 8
    if max_distance > bits:
        raise ParameterError(f"--max-distance {max_distance} exceeds the hash's {bits} bits")
    if bits > 64 and method != "pdq":
        raise ParameterError(
            "near-duplicate search needs hashes of at most 64 bits (hash size ≤ 8)"
        )
    imgs, parquets, tars = _discover(tuple(inputs))
    plan = _Plan(
        parameters={
            "method": method,
            "hash_size": hash_size,
            "mode": mode,
            "max_distance": max_distance,
            "keep": keep_rule,
            "column": column,
            "pixel_limit": pixel_limit or _core.DEFAULT_PIXEL_LIMIT,
            "frames": frames,
            "max_frames": max_frames,
        },
        files=_Plan.listing(imgs),
        parquets=_Plan.listing(parquets),
        tars=_Plan.listing(tars),
        batch=batch_size,
    )
    root = Path(work_dir) if work_dir is not None else outdir / WORK_DIR_NAME
    with (
        open_run(
            outdir,
            inputs=list(inputs),
            shards=[*imgs, *parquets, *tars],
            resume=resume,
            overwrite=overwrite,
            work_dir=root if work_dir is not None else None,
        ) as outputs,
        claim_work_dir(root, resume=resume, manifest="manifest.json", default=work_dir is None),
    ):
        return _run(WorkDir(root), plan, outputs, list(inputs), column, memory, quiet, resume, t0)


def _run(
    work: WorkDir,
    plan: _Plan,
    outputs: OutputRun,
    inputs: list[str],
    column: str | None,
    memory: int,
    quiet: bool,
    resume: bool,
    t0: float,
) -> dict[str, Any]:
    outdir = outputs.out.local()
    manifest = work.root / "manifest.json"
    if resume and manifest.exists():
        diff = plan.differences(json.loads(manifest.read_text()))
        if diff:
            raise InputError(
                f"{work.root} belongs to a run with other inputs or parameters "
                f"({'; '.join(diff)}); drop --resume to start again"
            )
    with atomic_write(manifest) as f:
        f.write(json.dumps(asdict(plan), indent=1).encode())
    imgs, parquets, tars = plan.files, plan.parquets, plan.tars

    with tqdm(
        desc="hashing", unit="img", disable=quiet or None, file=sys.stderr, leave=False
    ) as bar:
        units = _Hasher(work, plan, column, bar, memory).run()
    t_hash = time.perf_counter() - t0
    t = time.perf_counter()
    outputs.declare(["clusters.parquet", "summary.json"])
    if not (work.done("clusters") and (outdir / "clusters.parquet").exists()):
        _clusters(work, plan, units, outdir / "clusters.parquet", memory)
    remove_search(work)
    t_cluster = time.perf_counter() - t
    c = json.loads((work.root / "counts.json").read_text())
    search = c.pop("search", {"mode": "memory"})
    summary: dict[str, Any] = {
        "mmdedup_version": _core.__version__,
        "inputs": list(inputs),
        "parameters": {k: v for k, v in plan.parameters.items() if k != "column"},
        "counts": {
            **c,
            "files": len(imgs),
            "parquet_shards": len(parquets),
            "tar_shards": len(tars),
        },
        "search": search,
        "seconds": {"hash": round(t_hash, 3), "clusters": round(t_cluster, 3)},
        "threads": _core.get_num_threads(),
    }
    from .inspect import precision_estimate

    summary["precision"] = precision_estimate(outdir, summary=summary, work_dir=work.root)
    summary["seconds"]["total"] = round(time.perf_counter() - t0, 3)
    with atomic_write(outdir / "summary.json") as f:
        f.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary


# -- stage 2: clusters -------------------------------------------------------------------------


def _clusters(work: WorkDir, plan: _Plan, units: list[str], target: Path, memory: int) -> None:
    """The near-duplicate search over every unit's hashes; writes ``clusters.parquet`` and the
    counts for the summary. On disk when an earlier run's on-disk search finished, or when the
    in-memory stage would exceed ``memory`` (64-bit hashes, ``max_distance`` below 64)."""
    p = plan.parameters
    method, max_distance = p["method"], p["max_distance"]
    paths = [work.root / "hashes" / f"{u}.parquet" for u in units]
    frames_all = p.get("frames", "first") == "all"
    on_disk = paths and method != "pdq" and max_distance < 64 and not frames_all
    if on_disk and (work.done("search") or in_memory_bytes(paths) > memory):
        counts_out = clusters_on_disk(work, p, paths, target, memory)
        with atomic_write(work.path("counts.json")) as f:
            f.write(json.dumps(counts_out).encode())
        work.mark("clusters")
        return
    parts = [pq.read_table(path) for path in paths]
    table = pa.concat_tables(parts) if parts else _empty_hashes(method)
    frame_counts = None
    if frames_all and table.num_rows:
        # A row per frame, each image's rows together and its first frame first.
        first = np.asarray(table["frame"].to_numpy()) == 0
        image = np.cumsum(first) - 1
        labels, counts = item_clusters(table[method], image, max_distance=max_distance)
        frame_counts = np.bincount(image).astype(np.uint32)
        table = table.filter(pa.array(first))
    n = table.num_rows
    if n == 0:
        labels, counts = np.zeros(0, np.int64), np.zeros(0, np.uint64)
    elif frame_counts is None:
        labels = hamming_clusters(table[method], max_distance=max_distance)
        counts = neighbour_counts(table[method], max_distance=max_distance)
    from .dedup import choose_keep

    if p["keep"] == "largest":
        area = table["width"].to_numpy().astype(np.float64) * table["height"].to_numpy().astype(
            np.float64
        )
        keep = choose_keep(labels, ("max", "area"), area)
    else:
        keep = choose_keep(labels, ("first", None))
    out, failed = cluster_columns(table, method, counts, labels, keep, frame_counts)
    meta = cluster_metadata(p)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_table(
        pa.table(out).replace_schema_metadata(meta), target, row_group_size=images_disk.ROW_GROUP
    )
    counts_out = {
        "images": n,
        "kept": int(keep.sum()),
        "removed": int((~keep).sum()),
        "clusters": len(np.unique(labels[labels >= 0])),
        "errors": int(failed.sum()),
    }
    if frame_counts is not None:
        counts_out["frames"] = int(frame_counts.sum())
    with atomic_write(work.path("counts.json")) as f:
        f.write(json.dumps(counts_out).encode())
    work.mark("clusters")
