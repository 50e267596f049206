"""The corpus runs as the command line runs them: one function per command, each returning the
run's summary (also written to ``OUTDIR/summary.json``).

>>> import tempfile
>>> from pathlib import Path
>>> from mmdedup.dedup import DedupConfig
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "a.jsonl").write_text('{"text": "one two three four five six"}\\n' * 2)
>>> s = dedup_files([str(d / "a.jsonl")], d / "out", config=DedupConfig(method="exact"))
>>> s["counts"]["kept"], s["counts"]["removed"]
(1, 1)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from .. import _core
from ..dedup import DedupConfig
from ..errors import OnError, ParameterError, on_error_mode
from ..storage import Location
from .budget import parse_size
from .dirs import local_work_dir
from .engine import engine_map_units
from .progress import Progress
from .workdir import finish_run_work_dir, remote_url

__all__ = ["dedup_files", "images_files"]


def _budget(memory: str | int) -> int:
    return memory if isinstance(memory, int) else parse_size(memory)


def _progress(progress: bool | Progress) -> Progress:
    return progress if isinstance(progress, Progress) else Progress(quiet=not progress)


def _finish(
    summary: dict[str, Any],
    outdir: str | os.PathLike[str],
    work_dir: str | os.PathLike[str] | None,
    keep: bool,
) -> dict[str, Any]:
    """Records the work directory (where, how large, kept or not) in the summary, removing it
    unless ``keep``: a finished run needs it only as a later run's ``--index``."""
    out = Location(os.fspath(outdir))
    summary["work_dir"] = finish_run_work_dir(work_dir, out, keep=keep)
    with (out / "summary.json").write() as f:
        f.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary


def dedup_files(
    inputs: Sequence[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    config: Any = None,
    layout: str | None = None,
    column: str = "text",
    id_column: str | None = None,
    keep: str = "first",
    on_error: OnError = "record",
    threads: int | None = None,
    memory: str | int = "4GB",
    work_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    components: str = "auto",
    engine: Literal["local", "ray"] = "local",
    address: str | None = None,
    index: str | os.PathLike[str] | None = None,
    images: str | os.PathLike[str] | None = None,
    image_root: str | os.PathLike[str] | None = None,
    progress: bool | Progress = False,
    keep_work_dir: bool = False,
) -> dict[str, Any]:
    """Removes duplicate documents from shards: what ``mmdedup dedup`` runs.

    Plain text shards (a ``column`` of text) get the text dedup of
    :mod:`mmdedup.runs.text`; interleaved image-text documents (``layout`` given, or detected
    when ``column`` is absent) get the rules of :mod:`mmdedup.runs.interleaved`.

    Args:
        config: A :class:`~mmdedup.dedup.DedupConfig` (the text parameters; for interleaved
            documents, every other rule at its default), or a
            :class:`~mmdedup.runs.interleaved.MultimodalConfig` (interleaved only).
        layout: Every shard has this interleaved layout (``obelics``, ``mmc4``, ...).
        keep: Which member of a cluster stays (see :func:`mmdedup.dedup.parse_keep`).
        on_error: A row that cannot be read: ``"record"`` it with status ``error`` (a text
            row is kept untouched, an interleaved one is not written) and go on, or
            ``"raise"``: stop with an error naming file and row.
        threads: Worker threads for this process (default: all cores).
        memory: The budget of one unit of work, in bytes or as ``"4GB"``.
        engine: ``local``, or ``ray``: stages as Ray tasks.
        progress: Show progress (bars at a terminal, log lines elsewhere).
        keep_work_dir: Leave the work directory after the run succeeds, for a later run's
            ``index`` (it is removed otherwise; an interrupted run always leaves it).
    """
    summary = _dedup(
        inputs,
        outdir,
        removed_after=not keep_work_dir,
        config=config,
        layout=layout,
        column=column,
        id_column=id_column,
        keep=keep,
        on_error=on_error,
        threads=threads,
        memory=memory,
        work_dir=work_dir,
        resume=resume,
        overwrite=overwrite,
        components=components,
        engine=engine,
        address=address,
        index=index,
        images=images,
        image_root=image_root,
        progress=progress,
    )
    return _finish(summary, outdir, work_dir, keep_work_dir)


def _dedup(
    inputs: Sequence[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    config: Any,
    layout: str | None,
    column: str,
    id_column: str | None,
    keep: str,
    on_error: OnError,
    threads: int | None,
    memory: str | int,
    work_dir: str | os.PathLike[str] | None,
    resume: bool,
    overwrite: bool,
    components: str,
    engine: Literal["local", "ray"],
    address: str | None,
    index: str | os.PathLike[str] | None,
    images: str | os.PathLike[str] | None,
    image_root: str | os.PathLike[str] | None,
    progress: bool | Progress,
    removed_after: bool,
) -> dict[str, Any]:
    from .interleaved.config import MultimodalConfig, is_interleaved

    paths = [os.fspath(x) for x in inputs]
    interleaved = isinstance(config, MultimodalConfig)
    forced = layout
    if layout is None and index is None and not interleaved:
        layout = is_interleaved(paths, column)
    if threads is not None:
        _core.set_num_threads(threads)
    bars = _progress(progress)
    try:
        map_units = engine_map_units(engine, address, threads)
        if layout is not None or interleaved:
            if index is not None or components == "distributed":
                raise ParameterError(
                    "interleaved documents are deduplicated without --index or --components "
                    "distributed"
                )
            if id_column is not None:
                raise ParameterError(
                    "--id-column applies to plain text shards; interleaved documents are "
                    "identified by shard and row in documents.parquet"
                )
            from . import interleaved as run_interleaved

            if not isinstance(config, MultimodalConfig):
                config = MultimodalConfig(text=config or DedupConfig(), keep=keep, format=forced)
            return run_interleaved.run(
                paths,
                outdir,
                config=config,
                images=images,
                image_root=image_root,
                memory=_budget(memory),
                on_error=on_error_mode(on_error),
                work_dir=remote_url(work_dir) or local_work_dir(work_dir, "the interleaved run"),
                resume=resume,
                overwrite=overwrite,
                progress=bars,
                map_units=map_units,
            )
        if images is not None or image_root is not None:
            raise ParameterError("--images and --image-root apply to interleaved documents")
        from . import text as run_text

        return run_text.run(
            paths,
            outdir,
            config=config or DedupConfig(),
            column=column,
            id_column=id_column,
            keep_rule=keep,
            on_error=on_error_mode(on_error),
            memory=_budget(memory),
            components=components,
            work_dir=remote_url(work_dir) or local_work_dir(work_dir, "the text run"),
            resume=resume,
            overwrite=overwrite,
            progress=bars,
            map_units=map_units,
            index=Path(index) if index is not None else None,
            removed_after=removed_after,
        )
    finally:
        bars.close()


def images_files(
    inputs: Sequence[str | os.PathLike[str]],
    outdir: str | os.PathLike[str],
    *,
    method: str = "phash",
    hash_size: int = 8,
    mode: str = "canonical",
    max_distance: int | None = None,
    keep: str = "largest",
    column: str | None = None,
    pixel_limit: int | None = None,
    frames: str = "first",
    max_frames: int = 1000,
    threads: int | None = None,
    memory: str | int = "4GB",
    work_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    batch_size: int | None = None,
    progress: bool | Progress = False,
    keep_work_dir: bool = False,
    crops: bool = False,
    min_regions: int = 2,
    region_method: str = "phash",
    engine: Literal["local", "ray"] = "local",
    address: str | None = None,
) -> dict[str, Any]:
    """Hashes every image of a corpus and clusters near-duplicates: what ``mmdedup images``
    runs (see :mod:`mmdedup.runs.images`). ``outdir`` and ``work_dir``: local paths or fsspec
    URLs (``s3://bucket/run/``). ``keep_work_dir``: leave the hashes of every batch in the work
    directory after the run succeeds (removed otherwise). ``crops``: two images
    are also near-duplicates when at least ``min_regions`` of their region hashes
    (``region_method``) lie within ``max_distance`` (see :mod:`mmdedup.runs.images.crops`).
    ``engine``: ``local``, or ``ray``: each batch of image files, row group of a Parquet file
    and tar shard as a Ray task (``address``: the cluster's; default, start one here)."""
    from . import images as run_images
    from .images.plan import BATCH

    if threads is not None:
        _core.set_num_threads(threads)
    bars = _progress(progress)
    try:
        map_units = engine_map_units(engine, address, threads)
        summary = run_images.run_images(
            [os.fspath(x) for x in inputs],
            outdir,
            method=method,
            hash_size=hash_size,
            mode=mode,
            max_distance=max_distance,
            keep_rule=keep,
            column=column,
            pixel_limit=pixel_limit,
            frames=frames,
            max_frames=max_frames,
            overwrite=overwrite,
            resume=resume,
            work_dir=remote_url(work_dir) or local_work_dir(work_dir, "mmdedup images"),
            batch_size=batch_size or BATCH,
            memory=_budget(memory),
            progress=bars,
            crops=crops,
            min_regions=min_regions,
            region_method=region_method,
            map_units=map_units,
        )
    finally:
        bars.close()
    return _finish(summary, outdir, work_dir, keep_work_dir)
