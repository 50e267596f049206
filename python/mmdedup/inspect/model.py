"""What an inspection report holds: plain typed data, built by :mod:`.data`, drawn by :mod:`.html`.

Every string here comes from the run's data as it is (unescaped); the renderer escapes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Cluster",
    "Kind",
    "Member",
    "Precision",
    "Report",
    "Segment",
    "ShardCounts",
    "Thumb",
]

Kind = Literal["text", "interleaved", "images"]


@dataclass(frozen=True)
class Segment:
    """One segment of an interleaved document, in reading order.

    Attributes:
        kind: ``"text"`` or ``"image"``.
        text: The text (markdown for PIN and WanJuan), or an image's alt text.
        src: An image's address for ``<img src>``: its URL, the ``file:`` URI of a path resolved
            against the shard, or a ``data:`` URI of its inline bytes (a thumbnail).
        label: An image's reference as the document spells it (URL or relative path).
    """

    kind: Literal["text", "image"]
    text: str = ""
    src: str | None = None
    label: str = ""


@dataclass(frozen=True)
class Thumb:
    """A small preview of an image: a ``data:`` URI at most 128 pixels on its longer side."""

    data_uri: str | None
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Member:
    """One document or image of a cluster.

    Attributes:
        anchor: Its HTML id in the report (``doc-<position in the results table>``).
        ids: Where it is: ``shard``, ``row`` and its id (the ``--id-column``,
            ``doc_id`` or ``key``), what "copy ids" gives a reviewer.
        status: Its status in the results table (``kept``, ``duplicate``, ``near_duplicate``...).
        keep: Whether the run kept it.
        text: A text run's text (at most ``MAX_WORDS`` words of it; ``truncated`` says so).
        segments: An interleaved document's segments.
        thumb: An image run's preview.
        similarity: Exact Jaccard similarity to the cluster's kept document, of the shingle sets
            the run hashed (None for the kept one, or when the text could not be read).
        estimate: The same similarity estimated from MinHash signatures.
        distance: Hamming distance to the kept one (images; SimHash fingerprints).
        note: Why something is missing.
    """

    anchor: str
    ids: dict[str, Any]
    status: str
    keep: bool
    text: str | None = None
    truncated: bool = False
    segments: tuple[Segment, ...] = ()
    thumb: Thumb | None = None
    similarity: float | None = None
    estimate: float | None = None
    distance: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Cluster:
    """A duplicate cluster shown in the report: its kept member and some removed ones.

    Attributes:
        label: The run's ``cluster`` value.
        size: Members in the run.
        reasons: Why it was picked: ``"largest"``, ``"random"``, ``"near the threshold"``.
        kept: The member the run kept (None when it is not in this run's results).
        members: Removed members shown, compared with ``kept``.
    """

    label: int
    size: int
    reasons: tuple[str, ...]
    kept: Member | None
    members: tuple[Member, ...]

    @property
    def anchor(self) -> str:
        return f"cluster-{self.label}"


@dataclass(frozen=True)
class Precision:
    """How many sampled removals the exact measure confirms.

    Each sampled pair is a removed document (or image) and the kept member of its cluster. A
    pair agrees when its exact similarity is at or above the threshold (Jaccard), or its exact
    Hamming distance at or below the largest distance (images, SimHash).

    Attributes:
        measure: ``"jaccard"``, ``"hamming"``, ``"simhash hamming"`` or ``"equal text"``.
        threshold: The run's threshold (Jaccard) or largest distance (Hamming).
        population: Removed members whose kept member is in the results: what is sampled.
        pairs: Pairs sampled and measured.
        agreeing: Pairs at or above the threshold (within the distance).
        precision: ``agreeing / pairs``; None without pairs.
        ci95: Wilson 95% confidence interval of ``precision``.
        below: Sampled removed members below the threshold (beyond the distance).
        below_share: ``below / pairs``: the share of removed documents whose similarity to
            their kept document is below the threshold (clusters chain: A~B and B~C put A and
            C together even when A and C differ).
        note: What the estimate could not do.
    """

    kind: Kind
    measure: str
    threshold: float
    population: int
    pairs: int
    agreeing: int
    precision: float | None
    ci95: tuple[float, float] | None
    below: int
    below_share: float | None
    sample: int
    seed: int
    note: str | None = None

    @property
    def lower_is_similar(self) -> bool:
        """Whether the measure is a distance (Hamming) rather than a similarity."""
        return self.measure in ("hamming", "simhash hamming")

    @property
    def rule(self) -> str:
        """What a pair must meet, in words: ``exact Jaccard ≥ 0.8``, ``Hamming distance ≤ 8``."""
        if self.measure == "equal text":
            return "equal normalized text"
        if self.lower_is_similar:
            return f"{'SimHash ' if self.measure.startswith('simhash') else ''}Hamming distance ≤ {self.threshold:g}"
        return f"exact Jaccard ≥ {self.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what :func:`mmdedup.inspect.precision_estimate` returns)."""
        return {
            "kind": self.kind,
            "measure": self.measure,
            "threshold": self.threshold,
            "population": self.population,
            "pairs": self.pairs,
            "agreeing": self.agreeing,
            "precision": self.precision,
            "ci95": list(self.ci95) if self.ci95 is not None else None,
            "below_threshold": self.below,
            "below_threshold_share": self.below_share,
            "sample": self.sample,
            "seed": self.seed,
            "note": self.note,
        }


@dataclass(frozen=True)
class ShardCounts:
    """Documents (images) of one shard (image directory, Parquet or tar file) and what left.

    Attributes:
        removed: Documents (images) removed, by status.
        parts: Interleaved runs: images and paragraphs removed from kept documents, by reason.
    """

    shard: str
    documents: int
    kept: int
    removed: dict[str, int] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def removed_total(self) -> int:
        return sum(self.removed.values())


@dataclass(frozen=True)
class Report:
    """Everything an inspection report shows; :meth:`to_html` draws it.

    Attributes:
        outdir: The run's output directory.
        kind: ``"text"``, ``"interleaved"`` or ``"images"``.
        summary: The run's ``summary.json``.
        inputs: The run's inputs.
        parameters: Its parameters, flattened (``text.threshold``...).
        status: Rows per status.
        removed: Removals per reason (documents, and for interleaved runs images and
            paragraphs).
        shards: Counts per shard.
        cluster_sizes: Number of clusters of each size.
        similarities: The sampled pairs' exact similarities (or Hamming distances).
        precision: The precision estimate.
        clusters: The clusters shown.
        sample: Pairs sampled for the estimate.
        seed: Seed of every random choice.
        notes: What could not be shown, and why.
    """

    outdir: str
    kind: Kind
    summary: dict[str, Any]
    inputs: tuple[str, ...]
    parameters: dict[str, Any]
    status: dict[str, int]
    removed: dict[str, int]
    shards: tuple[ShardCounts, ...]
    cluster_sizes: dict[int, int]
    similarities: tuple[float, ...]
    precision: Precision
    clusters: tuple[Cluster, ...]
    sample: int
    seed: int
    notes: tuple[str, ...] = ()

    def to_html(self) -> str:
        """The report as one self-contained HTML page (inline CSS and SVG, no external URL)."""
        from .html import render

        return render(self)

    def _repr_html_(self) -> str:
        from .html import render

        return render(self, fragment=True)

    def save(self, path: str | Path) -> Path:
        """Writes :meth:`to_html` to ``path`` (UTF-8) and returns it."""
        p = Path(path)
        p.write_text(self.to_html(), encoding="utf-8")
        return p
