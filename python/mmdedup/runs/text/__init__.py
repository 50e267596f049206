"""The staged, restartable dedup behind ``mmdedup dedup``.

A run is a sequence of stages over files in a work directory; each unit of work (a shard, a
partition) writes its results under a temporary name, renames them into place and then drops a
marker, so an interrupted run (Ctrl-C, kill -9, a full disk) resumes where it stopped with
``--resume`` and produces byte-identical results:

1. ``plan``: find the shards, count their rows, fix global row ids and the partition count
   from the memory budget (``manifest.json``).
2. ``signatures`` (per shard, a piece at a time): signatures into one memory-mapped file; for
   MinHash, the band keys go to ``partitions`` files by key, so a partition holds every
   document that could share a bucket; sort keys, per-row errors and, for exact
   verification, the shingle sets are kept beside.
3. ``candidates`` (per partition): pairs from equal keys, verified (exact Jaccard of the
   shingle sets the signatures stage kept, read back a chunk of pairs at a time within the
   budget (:mod:`mmdedup.runs.shingle_sets`); signature agreement; or the 128-bit hash for
   exact dedup) into edge files; for SimHash, ``search`` finds the pairs within the Hamming
   distance in one piece (and checks their exact Jaccard with ``verify="jaccard"``).
4. ``clusters``: connected components of all edges and the kept member of each cluster, on
   one node by union-find, or by large-star/small-star rounds over edge files partitioned by
   document (:mod:`mmdedup.runs.components`), each round a set of units; ``auto`` picks the rounds
   when union-find would not fit the budget; the rounds' labels, kept flags and statuses are
   written a chunk of documents at a time.
5. ``write`` (per shard, a row group or block of lines at a time): the filtered shard and its
   part of ``clusters.parquet``; then ``clusters.parquet`` and ``summary.json``.

Memory is bounded by the budget, not by the corpus or its largest shard: the partition count
grows with the corpus so that one partition fits, shards are read in pieces that fit, and
components leave one node when union-find (about 48 bytes per document and 40 per edge) would
not fit. What a unit cannot split is one Parquet row group, one output row group of
``clusters.parquet`` (1Mi rows), and, in the last rounds of distributed components, one
cluster (its members in one partition).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from ... import _core
from ...dedup import DedupConfig, parse_keep
from ...errors import InputError, OnError, ParameterError, on_error_mode
from ...runs.budget import parse_size
from ...runs.dirs import Run as OutputRun
from ...runs.dirs import open_run
from ...storage import Location
from ..components import MapUnits
from ..engine import Stages, map_threads
from ..lsh_partitions import stage_candidates
from ..workdir import (
    WorkDir,
    check_manifest,
    default_work_dir,
    open_work_dir,
    remote_url,
)
from .clusters import components_plan, stage_clusters, stage_components
from .plan import Plan, dedup_config, make_plan
from .sample import SAMPLE, SEED, early_removal
from .signatures import create_signature_file, stage_index, stage_signatures, stage_simhash
from .write import merge_clusters, stage_write

__all__ = ["STATUSES", "Plan", "WorkDir", "parse_size", "run"]


def run(
    inputs: Iterable[str],
    outdir: str | os.PathLike[str],
    *,
    config: DedupConfig,
    column: str = "text",
    id_column: str | None = None,
    keep_rule: str = "first",
    on_error: OnError = "record",
    memory: int = 4 * 2**30,
    work_dir: Path | str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    index: Path | None = None,
    components: str = "auto",
    progress: Callable[[str, int], Any] | None = None,
    map_units: Callable[[str, Callable[[int], None], int], None] | None = None,
    removed_after: bool = False,
) -> dict[str, Any]:
    """Runs every stage; returns the summary (also written to ``outdir/summary.json``).

    Args:
        work_dir: The work directory: a local path, or an fsspec URL (``s3://bucket/run/``)
            that every node of a Ray cluster reads and writes (see
            :class:`mmdedup.runs.workdir.WorkDir`); default: ``OUTDIR/.mmdedup-work``.
        index: A finished run (its output or work directory) to dedup against: documents of
            ``inputs`` that duplicate one of its documents are removed; its own are left alone.
            Its signatures are reused, not recomputed. The new work directory holds the index's
            documents and the new ones, so it serves as the index of the next run.
        components: ``local`` (union-find on one node), ``distributed`` (large-star/small-star
            rounds over partitioned edge files, each round's units through ``map_units``) or
            ``auto``: distributed when union-find would not fit ``memory``. Same results.
        progress: Called as ``progress(stage, units)`` before each stage (for progress bars);
            returns a callable ticked once per unit, or None.
        map_units: Runs ``fn(unit)`` for ``unit in range(count)`` of a stage; the local engine
            runs them in this process (two shards at once in the signatures and write stages
            when it has two threads or more), the Ray engine as tasks.
        removed_after: The caller removes the (local) work directory when the run succeeds:
            its largest files (sets, signatures, partitions) then go before the write
            stage, beside its units when the local engine has two threads or more, once the
            sets and signatures the precision estimate measures are kept apart.
    """
    t0 = time.perf_counter()
    parse_keep(keep_rule)
    inputs = list(inputs)
    out = Location(outdir)
    remote = remote_url(work_dir)
    if remote is not None and index is not None:
        raise ParameterError(
            "--index reads a local work directory; a run with a remote --work-dir has no --index"
        )
    plan = make_plan(
        inputs,
        config,
        column=column,
        id_column=id_column,
        keep_rule=keep_rule,
        on_error=on_error_mode(on_error),
        memory=memory,
        index=index,
        components=components,
    )
    shards = [plan.shard(i) for i in range(len(plan.shards))]
    root = Path(work_dir) if work_dir is not None else default_work_dir(out)
    if remote is None and plan.index is not None and Path(plan.index).resolve() == root.resolve():
        raise InputError("the index is this run's own work directory; write to another -o")
    with ExitStack() as held:
        outputs = held.enter_context(
            open_run(
                outdir,
                inputs=inputs,
                shards=[str(s.path) for s in shards],
                resume=resume,
                overwrite=overwrite,
                work_dir=remote or (root if work_dir is not None else None),
            )
        )
        work = held.enter_context(
            open_work_dir(work_dir, out, resume=resume, manifest="manifest.json")
        )
        early: Literal["inline", "beside"] | None = None
        if removed_after and remote is None:
            early = "inline"
        if map_units is None:
            # On a remote work directory, units of one process share its upload list.
            threads = 1 if remote else _core.get_num_threads()
            map_units = map_threads(threads, frozenset({"signatures", "write"}))
            if early and threads >= 2:
                early = "beside"
        return _run(work, plan, outputs, inputs, t0, resume, progress, map_units, early)


def _run(
    work: WorkDir,
    plan: Plan,
    outputs: OutputRun,
    inputs: list[str],
    t0: float,
    resume: bool,
    progress: Callable[[str, int], Any] | None,
    each: MapUnits,
    early: Literal["inline", "beside"] | None = None,
) -> dict[str, Any]:
    out = outputs.out
    shards = [plan.shard(i) for i in range(len(plan.shards))]
    # The inputs as spelled may differ on --resume; the shards they name may not.
    check_manifest(work, "manifest.json", asdict(plan), resume, ignore=("inputs",))
    stage = Stages(progress, each)
    seconds = stage.seconds

    if not work.done("removed-early"):  # (a resumed run needs them no more)
        create_signature_file(work, plan)
    work.publish()
    if plan.index is not None:
        stage("index", 1, lambda _: stage_index(work, plan))
    docs = [s["rows"] for s in plan.shards]
    stage("signatures", len(shards), lambda i: stage_signatures(work, plan, i), docs=docs)
    cfg = dedup_config(plan)
    if cfg.method == "simhash":
        stage("search", 1, lambda _: stage_simhash(work, plan))
    else:
        stage("candidates", plan.partitions, lambda p: stage_candidates(work, cfg, plan.memory, p))
    mode, parts = components_plan(work, plan)
    if mode == "local":
        stage("clusters", 1, lambda _: stage_clusters(work, plan))
    else:
        stage_components(work, plan, parts, lambda n, fn, c: stage(n, c, fn, key="clusters"))
    outputs.declare([s.name for s in shards] + ["clusters.parquet", "summary.json"])
    with early_removal(work, plan, early):  # beside the write stage, or before it
        stage("write", len(shards), lambda i: stage_write(work, plan, i, out), docs=docs)
    merge_clusters(work, plan, out / "clusters.parquet")
    summary = _summary(work, plan, inputs, seconds, time.perf_counter() - t0)
    summary["precision"] = _precision(out, summary, None if work.remote else work.root)
    with (out / "summary.json").write() as f:
        f.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary


def _precision(out: Location, summary: dict[str, Any], work: Path | None) -> dict[str, Any] | None:
    """Exact Jaccard of a sample of the removed documents against their kept ones (see
    :func:`mmdedup.inspect.precision_estimate`); None for a remote OUTDIR."""
    if not out.is_local:
        return None
    from ...inspect import precision_estimate

    return precision_estimate(out.local(), sample=SAMPLE, seed=SEED, summary=summary, work_dir=work)


def _summary(
    work: WorkDir, plan: Plan, inputs: list[str], seconds: dict[str, float], total: float
) -> dict[str, Any]:
    counts = json.loads(work.local("counts.json").read_text())
    shards = []
    for i, s in enumerate(plan.shards):
        kept = json.loads(work.local(f"kept/{i:06d}.json").read_text())["kept"]
        shards.append({"shard": s["name"], "documents": s["rows"], "kept": kept})
    seconds["total"] = round(total, 3)
    return {
        "mmdedup_version": _core.__version__,
        "inputs": inputs,
        "column": plan.column,
        "id_column": plan.id_column,
        "keep": plan.keep,
        "on_error": plan.on_error,
        "parameters": dedup_config(plan).to_dict(),
        "verify": dedup_config(plan).verify,
        "counts": {
            "documents": plan.rows - plan.index_rows,
            "kept": counts["kept"],
            "removed": counts["removed"],
            "clusters": counts["clusters"],
            **counts["pairs"],
        },
        "status": counts["status"],
        "shards": shards,
        "partitions": plan.partitions,
        "components": counts["components"],
        "index": {"path": plan.index, "documents": plan.index_rows} if plan.index else None,
        "seconds": seconds,
        "threads": _core.get_num_threads(),
    }
