"""Where the images of an images run come from: image files, Parquet columns of image bytes, and
webdataset tar shards."""

from __future__ import annotations

import os
import tarfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from ...errors import InputError
from ...storage import Location, is_url
from .plan import WORK_DIR_NAME

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


Listing = list[tuple[str, int]]
"""Input files, each as ``(local path or URL, size in bytes)``."""


def discover_images(inputs: tuple[str, ...]) -> tuple[Listing, Listing, Listing]:
    """Image files, Parquet files and tar shards, each sorted by path (or URL).

    An input is a directory (searched recursively), a glob pattern or a file: local, or an
    fsspec URL (``s3://bucket/photos/``, ``s3://bucket/shards/*.tar``). A work directory named
    ``.mmdedup-work`` under a directory is not searched. A local symlink counts under its own
    name (a Hugging Face hub cache links every file to ``blobs/<hash>``, without suffix); a file
    given twice, under any names, counts once."""
    files: dict[str, tuple[str, int]] = {}  # each file's identity -> (where found, size)
    for item in inputs:
        found = _remote(item) if is_url(item) else _local(item)
        for real, named, size in found:
            if real not in files or _order(named) < _order(files[real][0]):
                files[real] = (named, size)
    listed = sorted(files.values(), key=lambda f: _order(f[0]))
    imgs = [f for f in listed if _suffix(f[0]) in IMAGE_SUFFIXES]
    parquets = [f for f in listed if _suffix(f[0]) in (".parquet", ".pq")]
    tars = [f for f in listed if f[0].lower().endswith((".tar", ".tar.gz", ".tgz"))]
    if not (imgs or parquets or tars):
        raise InputError("no images, Parquet files or tar shards among the inputs")
    return imgs, parquets, tars


def _order(path: str) -> list[str]:
    """Paths and URLs sort by their parts, as ``pathlib`` sorts paths (``a/b`` before
    ``a-c``)."""
    return path.split("/")


def _suffix(path: str) -> str:
    return PurePosixPath(path.rsplit("/", 1)[-1]).suffix.lower()


def _local(item: str) -> list[tuple[str, str, int]]:
    """The files of a local input: ``(real path, absolute path as found, size)``."""
    import glob

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
    return [(str(q.resolve()), os.path.abspath(q), q.stat().st_size) for q in found]


def _remote(item: str) -> list[tuple[str, str, int]]:
    """The files of an input given as a URL: ``(URL, URL, size)``, the sizes from the
    listing."""
    loc = Location(item)
    fs = loc.fs
    try:
        if loc.is_dir():
            listed: dict[str, Any] = fs.find(loc.path, detail=True)
            found = {
                p: info
                for p, info in listed.items()
                if WORK_DIR_NAME not in p.split("/") and info.get("type", "file") == "file"
            }
        else:
            info = _info(fs, loc.path)
            if info is not None:
                found = {loc.path: info}
            elif any(c in item for c in "*?["):
                matches: dict[str, Any] = fs.glob(loc.path, detail=True)
                found = {p: i for p, i in matches.items() if i.get("type", "file") == "file"}
                if not found:
                    raise InputError(f"no file matches the pattern {item!r}")
            else:
                raise InputError(f"{item}: no such file or directory")
        out = []
        for p, info in found.items():
            url = f"{loc.protocol}://{p}"
            size = info.get("size")
            out.append((url, url, int(size if size is not None else fs.size(p))))
        return out
    except OSError as e:  # a bucket that cannot be reached, credentials refused ...
        raise InputError(f"{item}: cannot list: {e}") from e


def _info(fs: Any, path: str) -> dict[str, Any] | None:
    """A file's listing entry; None when there is no such file."""
    try:
        info: dict[str, Any] = fs.info(path)
    except FileNotFoundError:
        return None
    return info if info.get("type", "file") == "file" else None


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


def tar_step(step: Callable[[], _T], path: str, where: str) -> _T:
    """A read of a tar archive, its errors (a truncated or corrupt archive) as an
    :class:`InputError` naming the file and ``where`` in it (the member)."""
    try:
        return step()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise InputError(f"not a readable tar file ({where}): {e}", path=path) from e


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


@contextmanager
def open_tar(path: str) -> Iterator[tarfile.TarFile]:
    """A tar shard (plain or compressed), local or at a URL: read through a file object of its
    file system, a block at a time as the members are read, never downloaded whole."""
    loc = Location(path)
    try:
        raw = loc.open_read()
    except (OSError, ValueError) as e:
        raise InputError(f"not a readable tar file: {e}", path=path) from e
    with raw:
        try:
            tf = tarfile.open(fileobj=raw, mode="r:*")  # noqa: SIM115 (entered below)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            raise InputError(f"not a readable tar file: {e}", path=path) from e
        with tf:
            yield tf


def parquet_file(path: str) -> pq.ParquetFile:
    """A Parquet file of image bytes, local or at a URL (read through its file system's file
    objects: the footer, then the column chunks of each row group read)."""
    where, fs = Location(path).arrow()
    return pq.ParquetFile(where, filesystem=fs)


def read_file(path: str) -> bytes:
    """The bytes of an image file, local or at a URL."""
    return Location(path).read_bytes()
