"""``mmdedup images``: hash every image of a corpus and cluster near-duplicates.

Two stages over files in a work directory (``OUTDIR/.mmdedup-work`` or ``--work-dir``, a local
path or an fsspec URL: see :class:`mmdedup.runs.workdir.WorkDir`), so that an interrupted run
resumes with ``--resume`` and gives byte-identical results:

1. ``hash``, one unit per batch of images, in input order: a run of ``batch`` image files,
   ``batch`` rows of a row group of a Parquet file, a run of ``batch`` image members of a tar
   shard. Each unit's hashes go to ``hashes/<unit>.parquet`` (written under a temporary name and
   renamed), then the unit is marked done; a unit that is done is not read or decoded again.
   The engine (this process, or Ray tasks) runs jobs: a batch of image files, a row group of a
   Parquet file, a whole tar shard (read from its start).
2. ``clusters``: the near-duplicate search over all hashes, written to ``clusters.parquet``
   (OUTDIR, like the work directory, is a local path or an fsspec URL); ``summary.json`` last.
   In memory when the hashes and per-row data fit ``--memory``; otherwise over on-disk
   partitions, with the edges, the connected components and the counts in files
   (:mod:`mmdedup.runs.images.disk`): the same ``clusters.parquet``, byte for byte.

Inputs are local paths or fsspec URLs (:func:`mmdedup.runs.images.sources.discover_images`),
each read by the unit that hashes it, in whichever process runs it. ``manifest.json`` records
the parameters and the inputs (path or URL, and size, of every file); ``--resume`` refuses a
work directory whose manifest differs.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from ... import _core
from ...errors import ParameterError
from ...runs.dirs import Run as OutputRun
from ...runs.dirs import open_run
from ...storage import Location
from ..components import MapUnits
from ..engine import map_local
from ..progress import Progress
from ..workdir import (
    WorkDir,
    check_manifest,
    open_work_dir,
    remote_url,
)
from .clusters import cluster_images
from .crops import MIN_REGIONS, REGION_METHOD, crop_parameters
from .disk import (
    remove_search,
)
from .hasher import Hasher
from .plan import BATCH, Plan
from .sources import discover_images, parquet_file

__all__ = ["run_images"]


def run_images(
    inputs: tuple[str, ...] | list[str],
    outdir: str | os.PathLike[str],
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
    overwrite: bool = False,
    resume: bool = False,
    work_dir: str | os.PathLike[str] | None = None,
    batch_size: int = BATCH,
    memory: int = 4 * 2**30,
    progress: Progress | None = None,
    crops: bool = False,
    min_regions: int = MIN_REGIONS,
    region_method: str = REGION_METHOD,
    map_units: MapUnits | None = None,
) -> dict[str, Any]:
    """What ``mmdedup images`` does; returns the summary. ``outdir`` and ``work_dir`` are local
    paths or fsspec URLs (``s3://bucket/run/``); ``memory`` is the clusters stage's budget in
    bytes (see :mod:`mmdedup.runs.images.disk`); ``crops``: images also match by their region
    hashes (see :mod:`mmdedup.runs.images.crops`)."""
    t0 = time.perf_counter()
    out = Location(outdir)
    bits = 256 if method == "pdq" else hash_size * hash_size
    if max_distance is None:
        max_distance = 31 if method == "pdq" else 8
    if max_distance > bits:
        raise ParameterError(f"--max-distance {max_distance} exceeds the hash's {bits} bits")
    if bits > 64 and method != "pdq":
        raise ParameterError(
            "near-duplicate search needs hashes of at most 64 bits (hash size ≤ 8)"
        )
    parameters = {
        "method": method,
        "hash_size": hash_size,
        "mode": mode,
        "max_distance": max_distance,
        "keep": keep_rule,
        "column": column,
        "pixel_limit": pixel_limit or _core.DEFAULT_PIXEL_LIMIT,
        "frames": frames,
        "max_frames": max_frames,
    }
    if crops:  # recorded only when on: the manifests of earlier runs stay valid for --resume
        parameters.update(crop_parameters(method, frames, min_regions, region_method))
    imgs, parquets, tars = discover_images(tuple(inputs))
    if column is not None and not parquets:
        raise ParameterError(
            "--column names the image column of Parquet inputs; these inputs hold no Parquet shard"
        )
    plan = Plan(
        parameters=parameters,
        files=Plan.listing(imgs),
        parquets=Plan.listing(parquets),
        tars=Plan.listing(tars),
        batch=batch_size,
    )
    given = remote_url(work_dir) or (Path(work_dir) if work_dir is not None else None)
    with (
        open_run(
            outdir,
            inputs=list(inputs),
            shards=[p for p, _ in (*imgs, *parquets, *tars)],
            resume=resume,
            overwrite=overwrite,
            work_dir=given,
        ) as outputs,
        open_work_dir(work_dir, out, resume=resume, manifest="manifest.json") as work,
    ):
        each = map_units or map_local
        return _run(work, plan, outputs, list(inputs), column, memory, progress, resume, t0, each)


def _run(
    work: WorkDir,
    plan: Plan,
    outputs: OutputRun,
    inputs: list[str],
    column: str | None,
    memory: int,
    progress: Progress | None,
    resume: bool,
    t0: float,
    each: MapUnits,
) -> dict[str, Any]:
    out = outputs.out
    check_manifest(work, "manifest.json", asdict(plan), resume, describe=plan.differences)
    imgs, parquets, tars = plan.files, plan.parquets, plan.tars

    tick = (progress or Progress(quiet=True))("hash", _total(plan), unit="image")
    units = Hasher(work, plan, column, memory).run(each, tick)
    t_hash = time.perf_counter() - t0
    t = time.perf_counter()
    outputs.declare(["clusters.parquet", "summary.json"])
    if not (work.done("clusters") and (out / "clusters.parquet").exists()):
        cluster_images(work, plan, units, out / "clusters.parquet", memory, each)
    remove_search(work)
    t_cluster = time.perf_counter() - t
    c = json.loads(work.local("counts.json").read_text())
    search = c.pop("search", {"mode": "memory"})
    summary: dict[str, Any] = {
        "mmdedup_version": _core.__version__,
        "inputs": list(inputs),
        "column": plan.parameters.get("column"),
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
    summary["precision"] = _precision(out, summary, None if work.remote else work.root)
    summary["seconds"]["total"] = round(time.perf_counter() - t0, 3)
    with (out / "summary.json").write() as f:
        f.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary


def _precision(out: Location, summary: dict[str, Any], work: Path | None) -> dict[str, Any] | None:
    """The Hamming distance of a sample of the removed images to their kept ones (see
    :func:`mmdedup.inspect.precision_estimate`); None for a remote OUTDIR. A remote work
    directory is not read: the summary names the image column."""
    if not out.is_local:
        return None
    from ...inspect import precision_estimate

    return precision_estimate(out.local(), summary=summary, work_dir=work)


def _total(plan: Plan) -> int | None:
    """How many images the run hashes, for the progress bar: known from the listing and the
    Parquet footers, unknown with tar shards (or a footer that cannot be read; the hash stage
    then says what is wrong with it)."""
    if plan.tars:
        return None
    n = len(plan.files)
    for path, _ in plan.parquets:
        try:
            n += parquet_file(path).metadata.num_rows
        except (OSError, pa.ArrowException):
            return None
    return n
