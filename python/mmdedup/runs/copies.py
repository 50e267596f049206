"""Image files that travel with a shard: PIN's ``content_image/...`` paths relative to it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pyarrow as pa

from ..storage import Location

if TYPE_CHECKING:
    from .dirs import Run

__all__ = ["copy_images", "declare_and_copy", "image_copies", "relative_images"]


def relative_images(table: pa.Table, src_dir: Path) -> dict[str, Path]:
    """Each relative image file the documents of ``table`` name that exists in ``src_dir``
    (beside the input shard): its path relative to it, and the file. Absolute paths, URLs and
    paths that climb out (``..``) are never followed."""
    found: dict[str, Path] = {}
    for segs in table.column("segments").to_pylist():
        for seg in segs or []:
            rel = seg["image_path"]
            if not rel or "://" in rel or PurePosixPath(rel).is_absolute() or ".." in rel:
                continue
            key = PurePosixPath(rel).as_posix()
            if key not in found and (src_dir / rel).is_file():
                found[key] = src_dir / rel
    return found


def image_copies(table: pa.Table, src_dir: Path, dst_dir: Path) -> list[tuple[Path, Path]]:
    """``(source, destination)`` of each relative image file the documents of ``table`` name
    that exists beside the input shard (see :func:`relative_images`); none when the output lies
    beside the input itself."""
    if src_dir.resolve() == dst_dir.resolve():
        return []
    return [(src, dst_dir / rel) for rel, src in relative_images(table, src_dir).items()]


def copy_images(pairs: list[tuple[Path, Path]]) -> int:
    """Copies each pair whose destination does not exist yet, atomically (under a temporary
    name, then renamed: a copy cut short is never taken for a finished one on ``--resume``);
    returns how many."""
    copied = 0
    for src, dst in pairs:
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
            try:
                shutil.copy2(src, tmp)
                os.replace(tmp, dst)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            copied += 1
    return copied


def declare_and_copy(out: Run, outdir: Path | Location, listed: list[list[str]]) -> None:
    """Declares as outputs of run ``out``, then copies, the image files ``listed`` as
    ``[source, destination relative to outdir]`` (a unit's list, made where it ran). On a
    remote ``outdir`` each is uploaded, unless there already (an object appears whole)."""
    out.declare(dst for _, dst in listed)
    if isinstance(outdir, Location) and not outdir.is_local:
        for src, dst in listed:
            target = outdir / dst
            if not target.exists():
                target.fs.put_file(src, target.path)
        return
    root = outdir.local() if isinstance(outdir, Location) else outdir
    copy_images([(Path(src), root / dst) for src, dst in listed])
