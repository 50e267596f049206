"""Image files that travel with a shard: PIN's ``content_image/...`` paths relative to it, beside
a local shard or one on object storage (an fsspec URL)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pyarrow as pa

from ..storage import Location, staged_write

if TYPE_CHECKING:
    from .dirs import Run

__all__ = ["copy_images", "declare_and_copy", "relative_images"]


def relative_images(table: pa.Table, src_dir: Path | Location) -> dict[str, str]:
    """Each relative image file the documents of ``table`` name that exists in ``src_dir``
    (beside the input shard: a local directory, or a :class:`~mmdedup.storage.Location` that may
    be remote): its path relative to it, and the file (a local path or a URL). Absolute paths,
    URLs and paths that climb out (``..``) are never followed."""
    found: dict[str, str] = {}
    for segs in table.column("segments").to_pylist():
        for seg in segs or []:
            rel = seg["image_path"]
            if not rel or "://" in rel or PurePosixPath(rel).is_absolute() or ".." in rel:
                continue
            key = PurePosixPath(rel).as_posix()
            if key not in found and (src := src_dir / rel).is_file():
                found[key] = str(src)
    return found


def copy_images(pairs: list[tuple[str, Path]]) -> int:
    """Copies each pair (a local path or URL, a local destination) whose destination does not
    exist yet, atomically (under a temporary name, then renamed: a copy cut short is never taken
    for a finished one on ``--resume``); returns how many."""
    copied = 0
    for src, dst in pairs:
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
            try:
                source = Location(src)
                if source.is_local:
                    shutil.copy2(source.local(), tmp)
                else:
                    with source.open_read() as r, open(tmp, "wb") as w:
                        shutil.copyfileobj(r, w)
                os.replace(tmp, dst)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            copied += 1
    return copied


def declare_and_copy(out: Run, outdir: Path | Location, listed: list[list[str]]) -> None:
    """Declares as outputs of run ``out``, then copies, the image files ``listed`` as
    ``[source, destination relative to outdir]`` (a unit's list, made where it ran; a source is
    a local path or a URL). On a remote ``outdir`` each is uploaded, unless there already (an
    object appears whole)."""
    out.declare(dst for _, dst in listed)
    if isinstance(outdir, Location) and not outdir.is_local:
        for src, dst in listed:
            target = outdir / dst
            if target.exists():
                continue
            source = Location(src)
            if source.is_local:
                target.fs.put_file(source.path, target.path)
            else:
                with source.open_read() as r, staged_write(target) as w:
                    shutil.copyfileobj(r, w)
        return
    root = outdir.local() if isinstance(outdir, Location) else outdir
    copy_images([(src, root / dst) for src, dst in listed])
