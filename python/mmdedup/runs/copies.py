"""Image files that travel with a shard: PIN's ``content_image/...`` paths relative to it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from .dirs import Run

__all__ = ["copy_images", "image_copies"]


def image_copies(table: pa.Table, src_dir: Path, dst_dir: Path) -> list[tuple[Path, Path]]:
    """``(source, destination)`` of each relative image file the documents of ``table`` name
    that exists beside the input shard; none when the output lies beside the input itself.
    Absolute paths, URLs and paths that climb out (``..``) are never followed."""
    if src_dir.resolve() == dst_dir.resolve():
        return []
    pairs: dict[Path, Path] = {}
    for segs in table.column("segments").to_pylist():
        for seg in segs or []:
            rel = seg["image_path"]
            if not rel or "://" in rel or PurePosixPath(rel).is_absolute() or ".." in rel:
                continue
            src = src_dir / rel
            if src.is_file():
                pairs.setdefault(dst_dir / rel, src)
    return [(src, dst) for dst, src in pairs.items()]


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


def declare_and_copy(out: Run, outdir: Path, listed: list[list[str]]) -> None:
    """Declares as outputs of run ``out``, then copies, the image files ``listed`` as
    ``[source, destination relative to outdir]`` (a unit's list, made where it ran)."""
    out.declare(dst for _, dst in listed)
    copy_images([(Path(src), outdir / dst) for src, dst in listed])
