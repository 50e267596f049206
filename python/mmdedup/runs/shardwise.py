"""The run scaffold of commands whose unit of work is one input shard (``convert``,
``tokenize``): OUTDIR opened and locked, a work directory with the run's manifest, one done-marker
and one record per finished shard, so that ``--resume`` after an interruption converts only the
shards not done and reports the same totals; the work directory removed on success unless kept.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io import Shard, atomic_write
from ..storage import Location
from .components import MapUnits
from .dirs import Run, open_run
from .engine import map_local
from .progress import Progress
from .workdir import (
    WorkDir,
    check_manifest,
    default_work_dir,
    finish_run_work_dir,
    open_work_dir,
    remote_url,
)

__all__ = ["ShardRun", "finish", "run_shards", "shard_run"]

_MANIFEST = "manifest-shards.json"
_VERSION = 1


@dataclass
class ShardRun:
    """An open shard-wise run: :meth:`each` runs the shards not yet done."""

    work: WorkDir
    out: Run
    shards: list[Shard]
    resume: bool

    def each(
        self,
        fn: Callable[[int, Shard], dict[str, Any]],
        tick: Callable[[int], Any] | None = None,
        map_units: MapUnits | None = None,
    ) -> list[dict[str, Any]]:
        """``fn(i, shard)`` for each shard through the engine (``map_units``; default: in order
        here), skipping those a resumed run finished; returns every shard's record (what ``fn``
        returned, JSON-able) in order. A shard's record is saved and its marker set only once
        ``fn`` returns, after its outputs are in place."""
        unit = functools.partial(_shard_unit, self.work, self.shards, fn)
        (map_units or map_local)("shards", unit, len(self.shards), tick)
        return [
            json.loads(self.work.local(f"records/shard-{i:06d}.json").read_text())
            for i in range(len(self.shards))
        ]


def _shard_unit(
    work: WorkDir, shards: list[Shard], fn: Callable[[int, Shard], dict[str, Any]], i: int
) -> None:
    unit = f"shard-{i:06d}"
    if work.done(unit):
        return
    record = fn(i, shards[i])
    with atomic_write(work.path(f"records/{unit}.json")) as f:
        f.write(json.dumps(record).encode())
    work.mark(unit)


@contextmanager
def shard_run(
    outdir: str | os.PathLike[str],
    *,
    inputs: Sequence[str],
    shards: list[Shard],
    manifest: dict[str, Any],
    work_dir: str | os.PathLike[str] | None,
    resume: bool,
    overwrite: bool,
) -> Iterator[ShardRun]:
    """Opens OUTDIR and the work directory (default ``OUTDIR/.mmdedup-work``; an fsspec URL is a
    work directory on object storage, see :class:`~mmdedup.runs.workdir.WorkDir`) for a
    shard-wise run; with ``resume``, refuses a work directory of other inputs or parameters."""
    out = Location(os.fspath(outdir))
    remote = remote_url(work_dir)
    root = Path(work_dir) if work_dir is not None and remote is None else default_work_dir(out)
    with ExitStack() as held:
        run = held.enter_context(
            open_run(
                outdir,
                inputs=inputs,
                shards=[str(s.path) for s in shards],
                resume=resume,
                overwrite=overwrite,
                work_dir=remote or (root if work_dir is not None else None),
            )
        )
        work = held.enter_context(open_work_dir(work_dir, out, resume=resume, manifest=_MANIFEST))
        spec = {"version": _VERSION, "shards": [str(s.path) for s in shards], **manifest}
        check_manifest(work, _MANIFEST, spec, resume)
        yield ShardRun(work, run, shards, resume)


def run_shards(
    stage: str,
    outdir: str | os.PathLike[str],
    *,
    inputs: Sequence[str],
    shards: list[Shard],
    names: Sequence[str],
    manifest: dict[str, Any],
    work_dir: str | os.PathLike[str] | None,
    resume: bool,
    overwrite: bool,
    progress: bool | Progress,
    fn: Callable[[int, Shard], dict[str, Any]],
    map_units: MapUnits | None = None,
    after: Callable[[list[dict[str, Any]], Run], None] | None = None,
) -> list[dict[str, Any]]:
    """A whole shard-wise run: OUTDIR and the work directory opened (see :func:`shard_run`),
    ``names`` declared, ``fn(i, shard)`` for each shard not done (a picklable function for
    Ray tasks), with progress, then ``after(records, outputs)`` on the driver while OUTDIR is
    held (for outputs that depend on the records); the records of every shard."""
    bars = progress if isinstance(progress, Progress) else Progress(quiet=not progress)
    try:
        with shard_run(
            outdir,
            inputs=inputs,
            shards=shards,
            manifest=manifest,
            work_dir=work_dir,
            resume=resume,
            overwrite=overwrite,
        ) as run:
            run.out.declare(names)
            records = run.each(fn, bars(stage, len(shards)), map_units)
            if after is not None:
                after(records, run.out)
            return records
    finally:
        bars.close()


def finish(
    outdir: str | os.PathLike[str], work_dir: str | os.PathLike[str] | None, keep: bool
) -> dict[str, Any]:
    """After a successful shard-wise run: the work directory's account (see
    :func:`~mmdedup.runs.workdir.finish_run_work_dir`)."""
    return finish_run_work_dir(work_dir, Location(os.fspath(outdir)), keep=keep)
