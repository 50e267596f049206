"""See what a dedup run did: sample clusters side by side, plots, and a precision estimate.

Works on the OUTDIR of every kind of run: ``mmdedup dedup`` on text shards (``clusters.parquet``)
or on interleaved documents (``documents.parquet``), and ``mmdedup images``. Work is bounded:
the results table is read column-wise once, and only the sampled rows are read from the shards.

>>> import mmdedup
>>> report = mmdedup.inspect("out/", sample=200, seed=0)          # doctest: +SKIP
>>> report.precision.precision, report.precision.ci95              # doctest: +SKIP
(0.985, (0.956, 0.995))
>>> report.save("report.html")                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .model import Cluster, Kind, Member, Precision, Report, Segment, ShardCounts, Thumb

__all__ = [
    "Cluster",
    "Kind",
    "Member",
    "Precision",
    "Report",
    "Segment",
    "ShardCounts",
    "Thumb",
    "inspect",
    "precision_estimate",
]


def inspect(
    outdir: str | Path,
    *,
    sample: int = 200,
    seed: int = 0,
    show: int = 4,
    members: int = 4,
    work_dir: str | Path | None = None,
    inputs: Sequence[str] | None = None,
) -> Report:
    """Collects the report of the run whose results are in ``outdir``.

    Args:
        outdir: The run's OUTDIR (holding ``summary.json``).
        sample: Removed members drawn at random for the precision estimate and the
            similarity histogram; each is measured exactly against its cluster's kept member.
        seed: Seed of every random choice: the same seed gives the same report.
        show: Clusters shown of each kind: the largest, random ones, and those whose sampled
            pair lies nearest the threshold.
        members: Removed members shown per cluster, beside the kept one.
        work_dir: The run's ``--work-dir``, when it was not ``OUTDIR/.mmdedup-work``.
        inputs: The run's inputs, when they moved or the run was started in another directory
            (by default they are found from the work directory or ``summary.json``).

    Returns:
        A :class:`Report`: ``to_html()``, ``save(path)``, and shown inline in notebooks.
    """
    from .data import build

    return build(
        outdir,
        sample=sample,
        seed=seed,
        show=show,
        members=members,
        work=work_dir,
        inputs=inputs,
    )


def precision_estimate(
    outdir: str | Path,
    *,
    sample: int = 200,
    seed: int = 0,
    summary: dict[str, Any] | None = None,
    work_dir: str | Path | None = None,
    inputs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The sampled precision of a run, as a JSON-ready dict (see :class:`Precision`).

    ``sample`` removed members are drawn with ``seed``; each is measured exactly (Jaccard of the
    run's shingle sets; Hamming distance of image hashes) against the kept member of its
    cluster. ``precision`` is the share at or above the threshold (within the distance), with
    its Wilson 95% interval ``ci95``; ``below_threshold_share`` the share below it.

    Give ``summary`` to call it before ``summary.json`` is written (a run adding the estimate
    to its own summary).
    """
    from .data import build

    report = build(
        outdir, sample=sample, seed=seed, show=0, work=work_dir, inputs=inputs, summary=summary
    )
    return report.precision.to_dict()
