"""Before the write stage of a run whose work directory goes when it ends: the sets and
signatures its precision estimate will measure, kept apart, and the store of all sets removed
(beside the write stage's units when the run has two threads or more)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal

import numpy as np

from ...inspect.data import SAMPLE_SETS, keep_sample, sample_pairs
from ...io import atomic_write
from ..dirs import EARLY
from ..workdir import WorkDir
from .plan import Plan, dedup_config

# What the run's precision estimate samples (mmdedup.inspect.precision_estimate's defaults,
# which `mmdedup inspect` draws again).
SAMPLE, SEED = 200, 0

# Files no stage after the clusters reads once the sample is kept, nor a resumed run: the
# sets, the signatures and the partitions' band keys (nearly all of the work directory).
_DONE_WITH = ("sets", "signatures.npy", "partitions")


def keep_precision_sample(work: WorkDir, plan: Plan) -> None:
    """Keeps the sets and signatures of the pairs the precision estimate will draw (the same
    draw from the clusters' labels as from ``clusters.parquet``), where the estimate measures
    kept sets (MinHash with exact verification; else it reads the texts)."""
    cfg = dedup_config(plan)
    if cfg.method != "minhash" or cfg.verify != "jaccard" or work.done("precision-sets"):
        return
    new = slice(plan.index_rows, None)
    labels = np.asarray(work.load("labels.npy", mmap=True)[new])
    keep = np.asarray(work.load("keep.npy", mmap=True)[new])
    clustered = np.flatnonzero(labels >= 0)
    _, _, pairs = sample_pairs(labels[clustered].astype(np.int64), keep[clustered], SAMPLE, SEED)
    rows = plan.index_rows + clustered[np.array(pairs, dtype=np.int64).reshape(-1)]
    sample = keep_sample(work.root, rows)
    with work.unit("precision-sets"), atomic_write(work.path(SAMPLE_SETS)) as f:
        np.savez(f, **sample)


def remove_early(work: WorkDir, beside: bool) -> Callable[[], None]:
    """Removes the files no later stage reads (recording their size first); with ``beside``,
    on a thread of its own. Returns what waits for the removal (and raises its error)."""
    paths = [work.root / name for name in _DONE_WITH if (work.root / name).exists()]
    if not work.done("removed-early"):  # else an earlier attempt counted them, and began
        size = sum(_bytes(p) for p in paths)
        with work.unit("removed-early"), atomic_write(work.path(EARLY)) as f:
            f.write(json.dumps({"bytes": size}).encode())

    def remove() -> None:
        for p in paths:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)

    if not beside:
        remove()
        return _nothing
    pool = ThreadPoolExecutor(1, thread_name_prefix="mmdedup-remove")
    removal = pool.submit(remove)
    pool.shutdown(wait=False)
    return removal.result


def _nothing() -> None:
    return None


@contextmanager
def early_removal(
    work: WorkDir, plan: Plan, early: Literal["inline", "beside"] | None
) -> Iterator[None]:
    """Around the write stage: with ``early``, the precision sample kept and the files no later
    stage reads removed, before the block (``inline``) or beside it (``beside``), its end
    waiting for the removal (whose error, if the block raised, gives way to the block's)."""
    if early is None:
        yield
        return
    keep_precision_sample(work, plan)
    removed = remove_early(work, beside=early == "beside")
    try:
        yield
    except BaseException:
        with suppress(Exception):
            removed()
        raise
    removed()


def _bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
