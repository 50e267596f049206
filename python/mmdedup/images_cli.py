"""``mmdedup images``: hash every image of a corpus and cluster near-duplicates."""

from __future__ import annotations

import json
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from . import _core
from .errors import InputError, MmdedupError, ParameterError
from .image import hamming_clusters, image_hashes, neighbour_counts
from .io import atomic_write, write_table

__all__ = ["images"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
BATCH = 2048


@dataclass
class _Batch:
    source: str
    rows: list[int | None]
    keys: list[str]
    hashes: pa.Table


def _discover(inputs: tuple[str, ...]) -> tuple[list[Path], list[Path], list[Path]]:
    """Image files, Parquet files and tar shards, each sorted."""
    import glob

    files: set[Path] = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = [q for q in p.rglob("*") if q.is_file()]
        elif p.exists():
            found = [p]
        elif any(c in item for c in "*?["):
            found = [Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file()]
            if not found:
                raise InputError(f"no file matches the pattern {item!r}")
        else:
            raise InputError(f"{item}: no such file or directory")
        files.update(q.resolve() for q in found)
    imgs = sorted(f for f in files if f.suffix.lower() in IMAGE_SUFFIXES)
    parquets = sorted(f for f in files if f.suffix.lower() in (".parquet", ".pq"))
    tars = sorted(f for f in files if f.name.lower().endswith((".tar", ".tar.gz", ".tgz")))
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


def _file_batches(imgs: list[Path], hash_kw: dict[str, Any]) -> Iterator[_Batch]:
    for i in range(0, len(imgs), BATCH):
        chunk = imgs[i : i + BATCH]
        yield _Batch(
            "", [None] * len(chunk), [str(p) for p in chunk], image_hashes(chunk, **hash_kw)
        )


def _parquet_batches(path: Path, column: str | None, hash_kw: dict[str, Any]) -> Iterator[_Batch]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"not a readable Parquet file: {e}", path=str(path)) from e
    col = _image_column(pf, column, str(path))
    names = pf.schema_arrow.names
    key_col = next((k for k in ("key", "url", "path") if k in names and k != col), None)
    start = 0
    for rb in pf.iter_batches(batch_size=BATCH, columns=[col] + ([key_col] if key_col else [])):
        t = image_hashes(_bytes_of(rb.column(0)), **hash_kw)
        keys = [str(k) for k in rb.column(1).to_pylist()] if key_col else [""] * rb.num_rows
        yield _Batch(str(path), list(range(start, start + rb.num_rows)), keys, t)
        start += rb.num_rows


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError) as e:
        raise InputError(f"not a readable tar file: {e}", path=str(path)) from e


def _tar_batches(path: Path, hash_kw: dict[str, Any]) -> Iterator[_Batch]:
    """Image members of a webdataset shard; ``row`` is the member's index in the archive."""
    rows: list[int | None] = []
    keys: list[str] = []
    data: list[bytes] = []
    with _open_tar(path) as tf:
        for idx, m in enumerate(tf):
            if not m.isfile() or Path(m.name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            f = tf.extractfile(m)
            data.append(f.read() if f else b"")
            rows.append(idx)
            keys.append(m.name)
            if len(data) == BATCH:
                yield _Batch(
                    str(path), rows, keys, image_hashes(pa.array(data, pa.binary()), **hash_kw)
                )
                rows, keys, data = [], [], []
    if data:
        yield _Batch(str(path), rows, keys, image_hashes(pa.array(data, pa.binary()), **hash_kw))


def _batches(
    imgs: list[Path],
    parquets: list[Path],
    tars: list[Path],
    column: str | None,
    hash_kw: dict[str, Any],
) -> Iterator[_Batch]:
    yield from _file_batches(imgs, hash_kw)
    for path in parquets:
        yield from _parquet_batches(path, column, hash_kw)
    for path in tars:
        yield from _tar_batches(path, hash_kw)


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
    "--threads", type=click.IntRange(1), default=None, help="Worker threads (default: all cores)."
)
@click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in OUTDIR.")
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
    threads: int | None,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Hash images and find their near-duplicates.

    INPUT is an image file (JPEG, PNG, WebP, GIF, BMP, TIFF), a Parquet file with an image bytes
    column (img2dataset, Hugging Face), a webdataset .tar shard, a directory (searched
    recursively) or a glob pattern. OUTDIR receives:

    \b
      clusters.parquet  one row per image: source, row, key, width, height, hash (uint64 for
                        64-bit hashes), [quality], count (images within --max-distance,
                        itself included), cluster, keep, status, error
      summary.json      counts, parameters, time per stage

    Images that cannot be decoded get status 'error' with the reason, and are kept.

    \b
    Examples:
      mmdedup images photos/ -o out/
      mmdedup images 'shards/*.parquet' -o out/ --column jpg -k 5
      mmdedup images data/*.tar -o out/ --method dhash --keep first
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
            threads=threads,
            overwrite=overwrite,
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
    threads: int | None = None,
    overwrite: bool = False,
    quiet: bool = True,
) -> dict[str, Any]:
    """What ``mmdedup images`` does; returns the summary."""
    t0 = time.perf_counter()
    if threads is not None:
        _core.set_num_threads(threads)
    outdir = Path(outdir)
    if (outdir / "summary.json").exists() and not overwrite:
        raise InputError(
            f"{outdir} holds the results of an earlier run; pass --overwrite to replace them"
        )
    bits = 256 if method == "pdq" else hash_size * hash_size
    if max_distance is None:
        max_distance = 31 if method == "pdq" else 8
    if max_distance > bits:
        raise ParameterError(f"--max-distance {max_distance} exceeds the hash's {bits} bits")
    imgs, parquets, tars = _discover(tuple(inputs))
    hash_kw = {
        "methods": [method],
        "hash_size": hash_size,
        "mode": mode,
        "pixel_limit": pixel_limit,
    }
    if bits > 64 and method != "pdq":
        raise ParameterError(
            "near-duplicate search needs hashes of at most 64 bits (hash size ≤ 8)"
        )
    batches: list[_Batch] = []
    with tqdm(
        desc="hashing", unit="img", disable=quiet or None, file=sys.stderr, leave=False
    ) as bar:
        for b in _batches(imgs, parquets, tars, column, hash_kw):
            batches.append(b)
            bar.update(b.hashes.num_rows)
    t_hash = time.perf_counter() - t0
    t = time.perf_counter()
    table = pa.concat_tables([b.hashes for b in batches]) if batches else None
    n = table.num_rows if table is not None else 0
    sources = [s for b in batches for s in [b.source or k for k in b.keys]] if batches else []
    rows = [r for b in batches for r in b.rows]
    keys = [k for b in batches for k in b.keys]
    hashes = table[method] if table is not None else pa.chunked_array([], pa.uint64())
    errors = table["error"] if table is not None else pa.chunked_array([], pa.string())
    failed = np.asarray(errors.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    if n == 0:
        labels, counts = np.zeros(0, np.int64), np.zeros(0, np.uint64)
    else:
        labels = hamming_clusters(hashes, max_distance=max_distance)
        counts = neighbour_counts(hashes, max_distance=max_distance)
    from .dedup import choose_keep

    if keep_rule == "largest" and table is not None:
        area = table["width"].to_numpy().astype(np.float64) * table["height"].to_numpy().astype(
            np.float64
        )
        keep = choose_keep(labels, ("max", "area"), area)
    else:
        keep = choose_keep(labels, ("first", None))
    status = np.full(n, "unique", dtype=object)
    status[(labels >= 0) & keep] = "kept"
    status[(labels >= 0) & ~keep] = "duplicate"
    status[failed] = "error"
    t_cluster = time.perf_counter() - t
    t = time.perf_counter()
    out: dict[str, Any] = {
        "source": pa.array(sources, pa.string()),
        "row": pa.array(rows, pa.int64()),
        "key": pa.array(keys, pa.string()),
        "width": table["width"] if table is not None else pa.array([], pa.uint32()),
        "height": table["height"] if table is not None else pa.array([], pa.uint32()),
        "hash": hashes,
    }
    if method == "pdq" and table is not None:
        out["quality"] = table["pdq_quality"]
    out.update(
        count=pa.array(counts, pa.uint64()),
        cluster=pa.array(labels, mask=labels < 0, type=pa.int64()),
        keep=pa.array(keep),
        status=pa.array(status, pa.string()),
        error=errors,
    )
    meta = {"mmdedup.method": method, "mmdedup.mode": mode, "mmdedup.hash_size": str(hash_size)}
    write_table(pa.table(out).replace_schema_metadata(meta), outdir / "clusters.parquet")
    summary: dict[str, Any] = {
        "mmdedup_version": _core.__version__,
        "inputs": list(inputs),
        "parameters": {
            "method": method,
            "hash_size": hash_size,
            "mode": mode,
            "max_distance": max_distance,
            "keep": keep_rule,
            "pixel_limit": pixel_limit or _core.DEFAULT_PIXEL_LIMIT,
        },
        "counts": {
            "images": n,
            "kept": int(keep.sum()),
            "removed": int((~keep).sum()),
            "clusters": len(np.unique(labels[labels >= 0])),
            "errors": int(failed.sum()),
            "files": len(imgs),
            "parquet_shards": len(parquets),
            "tar_shards": len(tars),
        },
        "seconds": {"hash": round(t_hash, 3), "clusters": round(t_cluster, 3)},
        "threads": _core.get_num_threads(),
    }
    summary["seconds"]["write"] = round(time.perf_counter() - t, 3)
    summary["seconds"]["total"] = round(time.perf_counter() - t0, 3)
    with atomic_write(outdir / "summary.json") as f:
        f.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary
