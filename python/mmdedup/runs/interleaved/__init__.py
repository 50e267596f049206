"""Dedup of interleaved image-text documents: the rules of the famous corpora, as stages.

``mmdedup dedup`` runs this when its inputs are interleaved documents (OBELICS, MMC4,
OmniCorpus, PIN, WanJuan, InfiMM; see :mod:`mmdedup.formats`). Each rule can be switched off:

1. **Repeated images** (``repeated_images``): an image appearing again later in the same
   document is removed.
2. **Frequent images** (``image_frequency=N``): an image found in more than ``N`` documents of
   the corpus (logos, icons, buttons; OBELICS and MMC4 used N = 10) is removed from every
   document. Images are the same when their keys are: the URL (``image_key="url"``), the exact
   bytes (``"bytes"``), or the 64-bit pHash within ``image_distance`` bits (``"phash"``).
3. **Identical image sets** (``identical_images``): of documents whose remaining images form
   the same non-empty set, one is kept by the keep rule (OBELICS kept the newest:
   ``keep="max:date"``); the others are removed.
4. **Near-duplicate documents** (``near_duplicates``): MinHash LSH over one set per document,
   its text shingles plus ``image_weight`` tokens for each remaining image, so two pages with
   the same pictures and lightly edited text match, and pages sharing boilerplate text but not
   their pictures are pulled apart. One per cluster is kept by the keep rule.
5. **Duplicate paragraphs** (``paragraphs="corpus"`` or ``"domain"``): in the documents still
   kept, a paragraph (text between blank lines, normalized) that occurred before, corpus-wide
   or within the same web domain, is removed; its first occurrence in document order stays.
   Counting is exact: paragraph hashes are partitioned on disk so that one partition at a
   time is in memory.

Every decision is recorded: ``documents.parquet`` has one row per input row (kept, removed and
why, or the read error), ``removals.parquet`` one row per removed document, image and paragraph
with its reason, ``problems.parquet`` the rows and images that could not be read (kept, never
dropped in silence), and ``summary.json`` the counts, which add up.

The stages work like the text dedup's (:mod:`mmdedup.runs.text`): units write atomically and
leave a marker, so ``resume=True`` continues an interrupted run with identical results.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ... import _core
from ...errors import OnError, on_error_mode
from ...runs.dirs import Run as OutputRun
from ...runs.dirs import open_run
from ...storage import Location, create_npy
from ..components import MapUnits
from ..engine import Stages, map_local
from ..lsh_partitions import stage_candidates
from ..shingle_sets import wants_sets, write_parts
from ..workdir import (
    WorkDir,
    check_manifest,
    default_work_dir,
    open_work_dir,
    remote_url,
    write_signature_parts,
)
from .config import MultimodalConfig
from .documents import stage_documents, stage_signatures
from .images import stage_frequent, stage_image_parts
from .paragraphs import stage_paragraphs
from .plan import DOC_STATUS, Manifest, make_manifest, row_counts
from .scan import stage_scan
from .write import (
    DOC_SCHEMA,
    PROBLEM_SCHEMA,
    REMOVAL_SCHEMA,
    copy_shard_images,
    merge_records,
    stage_write,
)

__all__ = [
    "REASONS",
    "MultimodalConfig",
    "is_interleaved",
    "paragraph_spans",
    "run",
]


def run(
    inputs: Iterable[str],
    outdir: str | os.PathLike[str],
    *,
    config: MultimodalConfig | None = None,
    images: str | os.PathLike[str] | None = None,
    image_root: str | os.PathLike[str] | None = None,
    memory: int = 4 * 2**30,
    on_error: OnError = "record",
    work_dir: Path | str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[str, int], Any] | None = None,
    map_units: MapUnits | None = None,
) -> dict[str, Any]:
    """Deduplicates interleaved documents; returns the summary (also in ``summary.json``).

    Args:
        inputs: Shards, directories or globs of one or several layouts.
        outdir: A local directory or an fsspec URL (``s3://bucket/out/``): the shards (same
            names and layouts) without what was removed, ``documents.parquet``,
            ``removals.parquet``, ``problems.parquet`` and ``summary.json``.
        config: The rules (default: every rule, with its defaults).
        images: A Parquet file of ``url`` and ``bytes`` (as img2dataset writes) to find image
            bytes by URL or path, for ``image_key`` bytes or phash.
        image_root: A directory that relative image paths are resolved against (default: the
            shard's own directory).
        memory: The budget that sizes the on-disk partitions.
        work_dir: As in :func:`mmdedup.runs.text.run`: a local path or an fsspec URL; default:
            ``OUTDIR/.mmdedup-work``.
        on_error: A row that cannot be read (lists of different lengths, invalid JSON, ...):
            record it with status ``error`` and go on, or stop with an error naming file and row.
        progress: As in :func:`mmdedup.runs.text.run`.
        map_units: As in :func:`mmdedup.runs.text.run`: the local engine, or Ray tasks (the
            work directory and OUTDIR on storage every node sees).

    >>> import tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> page = '{"text_list": ["Shared footer.", "Story %d."], "image_info": []}\\n'
    >>> _ = (d / "in.jsonl").write_text(page % 1 + page % 2)
    >>> s = run([str(d / "in.jsonl")], d / "out")
    >>> s["paragraphs"]["removed"], s["documents"]["kept"]
    (1, 2)
    """
    t0 = time.perf_counter()
    config = config or MultimodalConfig()
    inputs = [os.fspath(x) for x in inputs]
    out = Location(outdir)
    remote = remote_url(work_dir)
    m = make_manifest(
        inputs,
        config,
        os.fspath(images) if images else None,
        os.fspath(image_root) if image_root else None,
        memory,
        on_error_mode(on_error),
    )
    root = Path(work_dir) if work_dir is not None else default_work_dir(out)
    with ExitStack() as held:
        outputs = held.enter_context(
            open_run(
                outdir,
                inputs=inputs,
                shards=[s["path"] for s in m.shards],
                resume=resume,
                overwrite=overwrite,
                work_dir=remote or (root if work_dir is not None else None),
            )
        )
        work = held.enter_context(
            open_work_dir(work_dir, out, resume=resume, manifest="manifest-interleaved.json")
        )
        each = map_units or map_local
        return _run(work, m, config, outputs, inputs, t0, resume, progress, each)


def _run(
    work: WorkDir,
    m: Manifest,
    config: MultimodalConfig,
    outputs: OutputRun,
    inputs: list[str],
    t0: float,
    resume: bool,
    progress: Callable[[str, int], Any] | None,
    each: MapUnits,
) -> dict[str, Any]:
    out = outputs.out
    check_manifest(work, "manifest-interleaved.json", asdict(m), resume)
    stage = Stages(progress, each)
    seconds = stage.seconds

    cfg = config
    ns = len(m.shards)
    stage("scan", ns, lambda i: stage_scan(work, m, i))
    if cfg.image_frequency:
        stage("images", ns, lambda i: stage_image_parts(work, m, i))
        stage("frequent", 1, lambda _: stage_frequent(work, m))
    docs = row_counts(work, m)
    rows = sum(docs)
    if cfg.near_duplicates:
        starts = np.cumsum([0, *docs])[:-1].tolist()
        shape = (rows, cfg.text.num_perm)
        if work.remote is not None:
            # Each unit writes a file of its own; readers put them together (load_signatures).
            parts = [(int(s), f"{i:06d}", docs[i]) for i, s in enumerate(starts)]
            write_signature_parts(work, np.dtype(np.uint32), shape, parts)
        elif not (path := work.path("signatures.npy")).exists():
            create_npy(path, np.uint32, shape)
        if wants_sets(cfg.text):
            write_parts(work, [(int(s), f"{i:06d}") for i, s in enumerate(starts)])
        work.publish()
    stage("signatures", ns, lambda i: stage_signatures(work, m, i), docs=docs)
    if cfg.near_duplicates:
        stage("candidates", m.partitions, lambda p: stage_candidates(work, cfg.text, m.memory, p))
    stage("documents", 1, lambda _: stage_documents(work, m))
    if cfg.paragraphs != "off":
        stage("paragraphs", m.partitions, lambda p: stage_paragraphs(work, m, p))
    outputs.declare(
        [s["name"] for s in m.shards]
        + [f"{k}.parquet" for k in ("documents", "removals", "problems")]
        + ["summary.json"]
    )
    stage("write", ns, lambda i: stage_write(work, m, i, out), docs=docs)
    copy_shard_images(work, m, out, outputs)
    merge_records(work, m, "documents", DOC_SCHEMA, out / "documents.parquet")
    merge_records(work, m, "removals", REMOVAL_SCHEMA, out / "removals.parquet")
    merge_records(work, m, "problems", PROBLEM_SCHEMA, out / "problems.parquet")
    summary = _summary(work, m, inputs, out, seconds, time.perf_counter() - t0)
    summary["precision"] = _precision(out, summary, None if work.remote else work.root)
    with (out / "summary.json").write() as f:
        f.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary


def _precision(out: Location, summary: dict[str, Any], work: Path | None) -> dict[str, Any] | None:
    """Exact Jaccard of a sample of the removed documents against their kept ones (see
    :func:`mmdedup.inspect.precision_estimate`; without a local work directory, their token
    sets are rebuilt from the documents); None for a remote OUTDIR."""
    if not out.is_local:
        return None
    from ...inspect import precision_estimate

    return precision_estimate(out.local(), summary=summary, work_dir=work)


def _summary(
    work: WorkDir,
    m: Manifest,
    inputs: list[str],
    out: Location,
    seconds: dict[str, float],
    total: float,
) -> dict[str, Any]:
    docs = _read(out / "documents.parquet", ["status", "keep"])
    rem = _read(out / "removals.parquet", ["what", "reason"]).to_pylist()
    status = docs.column("status").to_pylist()
    reads = [json.loads(work.local(f"scan/{i:06d}.json").read_text()) for i in range(len(m.shards))]
    images = sum(r["images"] for r in reads)
    image_errors = sum(r["image_errors"] for r in reads)
    paragraphs = sum(r["paragraphs"] for r in reads)

    def count(what: str, reason: str | None = None) -> int:
        return sum(
            1 for r in rem if r["what"] == what and (reason is None or r["reason"] == reason)
        )

    seconds["total"] = round(total, 3)
    return {
        "mmdedup_version": _core.__version__,
        "inputs": inputs,
        "mode": "interleaved",
        "formats": sorted({r["format"] for r in reads}),
        "parameters": m.config,
        "verify": m.config["text"]["verify"],
        "documents": {
            "in": len(status),
            "kept": int(sum(docs.column("keep").to_pylist())),
            "removed": {r: count("document", r) for r in ("near_duplicate", "identical_images")},
            "errors": sum(r["read_errors"] for r in reads),
            "repairs": sum(r["repairs"] for r in reads),
            "status": {s: status.count(s) for s in DOC_STATUS},
        },
        "images": {
            "in": images,
            "removed": {r: count("image", r) for r in ("repeated_image", "frequent_image")},
            "errors": image_errors,
        },
        "paragraphs": {"in": paragraphs, "removed": count("paragraph")},
        "pairs": json.loads(work.local("pairs.json").read_text()),
        "partitions": m.partitions,
        "seconds": seconds,
        "threads": _core.get_num_threads(),
    }


def _read(where: Location, columns: list[str]) -> pa.Table:
    path, fs = where.arrow()
    return pq.read_table(path, columns=columns, filesystem=fs)
