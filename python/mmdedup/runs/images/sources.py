"""Where the images of an images run come from: image files, Parquet columns of image bytes, and
webdataset tar shards."""

from __future__ import annotations

import os
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from ...errors import InputError
from .plan import WORK_DIR_NAME

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def discover_images(inputs: tuple[str, ...]) -> tuple[list[Path], list[Path], list[Path]]:
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


def image_column(pf: pq.ParquetFile, column: str | None, where: str) -> str:
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


_T = TypeVar("_T")


def tar_step(step: Callable[[], _T], path: Path, where: str) -> _T:
    """A read of a tar archive, its errors (a truncated or corrupt archive) as an
    :class:`InputError` naming the file and ``where`` in it (the member)."""
    try:
        return step()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise InputError(f"not a readable tar file ({where}): {e}", path=str(path)) from e


def check_tar_end(tf: tarfile.TarFile) -> None:
    """tarfile ends the members quietly at a header cut short or not a header: the archive must
    end in a zero block, or (leniently) right after its last member."""
    assert tf.fileobj is not None
    tf.fileobj.seek(tf.offset)
    block = tf.fileobj.read(tarfile.BLOCKSIZE)
    if block and block != bytes(tarfile.BLOCKSIZE):
        what = "cut short" if len(block) < tarfile.BLOCKSIZE else "not a tar header"
        raise tarfile.ReadError(f"truncated or corrupt: {what} at byte {tf.offset:,}")


def member_bytes(tf: tarfile.TarFile, m: tarfile.TarInfo) -> bytes | None:
    """A member's bytes; None for a hard link to no earlier member (an error row)."""
    try:
        member = tf.extractfile(m)
    except KeyError:  # a hard link whose target is not in the archive
        return None
    return member.read() if member else None


def open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise InputError(f"not a readable tar file: {e}", path=str(path)) from e
