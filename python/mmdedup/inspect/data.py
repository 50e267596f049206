"""Collects a report's data from a run's OUTDIR, with bounded work.

One column-wise pass over the results table finds the clusters; then, for ``sample`` removed
members drawn at random (``seed``) and the few clusters shown, only their rows are read from the
shards. Every random choice comes from one ``numpy`` generator seeded with ``seed``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq

from .. import _core
from ..dedup import DedupConfig
from ..errors import MmdedupError
from .locate import find_shards, load_summary, read_positions, read_rows, run_kind, work_dir
from .model import Cluster, Kind, Member, Precision, Report, ShardCounts
from .scan import Index, LabelMap, scan
from .similarity import hamming, set_scores, text_scores, wilson

__all__ = ["MAX_CHARS", "build"]

MAX_CHARS = 20_000
"""Characters of a document's text kept for display (the measures use the whole text)."""

_REMOVED = {"duplicate", "near_duplicate", "identical_images"}


@dataclass
class _Score:
    value: float  # the measure compared with the threshold
    agrees: bool
    similarity: float | None = None
    estimate: float | None = None
    distance: int | None = None


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# The sets and signatures of the documents a run's precision estimate measures, kept in its
# work directory when the run removes the store of all sets before it ends (see keep_sample).
SAMPLE_SETS = "precision-sets.npz"


class _KeptSets:
    """Exact Jaccard and MinHash estimate of text pairs from what a MinHash run with exact
    verification keeps in its work directory (the documents' shingle sets and signatures),
    instead of reading and shingling their texts again: the same measures, since the sets are
    the texts' shingle sets and the signatures their MinHash."""

    def __init__(
        self, work: Path, offsets: dict[str, int], memory: int, sample: dict[str, Any] | None
    ) -> None:
        from ..runs.shingle_sets import SetStore

        self.work, self.offsets, self.memory, self.sample = work, offsets, memory, sample
        self.store = SetStore(work) if (work / "sets" / "parts.json").is_file() else None

    @classmethod
    def of(cls, work: Path | None, cfg: DedupConfig, manifest: str) -> _KeptSets | None:
        if work is None or cfg.method != "minhash" or cfg.verify != "jaccard":
            return None
        sample = None
        if (work / SAMPLE_SETS).is_file():
            with np.load(work / SAMPLE_SETS) as f:
                sample = {k: f[k] for k in f.files}
        elif (
            not (work / "sets" / "parts.json").is_file() or not (work / "signatures.npy").is_file()
        ):
            return None
        plan = json.loads((work / manifest).read_text())
        offsets = {str(s["name"]): int(s["offset"]) for s in plan.get("shards", [])}
        return cls(work, offsets, int(plan.get("memory", 4 * 2**30)), sample)

    def _rows(self, docs: Sequence[tuple[str, int]]) -> npt.NDArray[np.int64]:
        return np.array([self.offsets[name] + r for name, r in docs], dtype=np.int64)

    def covers(self, docs: Sequence[tuple[str, int]]) -> bool:
        """Whether the sets and signatures of ``docs`` are all kept: the whole store, or the
        sets the run kept of its own sample when it removed the store early."""
        if self.sample is None:
            return True
        rows = self._rows(docs)
        return bool(np.isin(rows, self.sample["rows"]).all())

    def scores(
        self, docs: Sequence[tuple[str, int]]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Jaccard and estimate of each pair of consecutive ``(shard, row)`` in ``docs``."""
        rows = self._rows(docs)
        if self.sample is not None:
            at = np.searchsorted(self.sample["rows"], rows)
            s = self.sample
            parts = [(s["values"], s["starts"], s["lengths"])]
            jac = _core.set_jaccard_parts(parts, at.reshape(-1, 2).astype(np.uint32))
            sigs = s["signatures"][at]
        else:
            assert self.store is not None
            jac = self.store.jaccard(rows.reshape(-1, 2).astype(np.uint32), self.memory)
            sigs = _signature_rows(self.work, rows)
        return jac, np.asarray((sigs[0::2] == sigs[1::2]).mean(axis=1), dtype=np.float64)


def _signature_rows(work: Path, rows: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """The signature rows ``rows`` of the work directory ``work``, read one by one: a mapping
    of the file would hold whole blocks of it around each row."""
    with open(work / "signatures.npy", "rb") as f:
        version = np.lib.format.read_magic(f)
        shape, _, dtype = (
            np.lib.format.read_array_header_1_0(f)
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0(f)
        )
        start, width = f.tell(), int(np.prod(shape[1:], dtype=np.int64))
        size = width * dtype.itemsize
        raw = b"".join(os.pread(f.fileno(), size, start + int(r) * size) for r in rows)
    return np.frombuffer(raw, dtype=dtype).reshape(len(rows), width)


def keep_sample(work: Path, rows: npt.NDArray[np.int64]) -> dict[str, Any]:
    """The shingle sets and signatures of documents ``rows`` (numbers in the run) in the work
    directory ``work``, as arrays for :data:`SAMPLE_SETS`: what the precision estimate will
    measure, read before the run removes the store of all sets."""
    from ..runs.shingle_sets import SetStore

    rows = np.unique(rows.astype(np.int64))
    values, starts, lengths = SetStore(work).read(rows)
    return {
        "rows": rows,
        "values": values,
        "starts": starts,
        "lengths": lengths,
        "signatures": _signature_rows(work, rows),
    }


class _Run:
    """What differs between the kinds of run: where content is, and how pairs are measured."""

    def __init__(
        self,
        outdir: Path,
        summary: dict[str, Any],
        kind: Kind,
        idx: Index,
        work: Path | None,
        inputs: Sequence[str] | None,
    ) -> None:
        self.outdir, self.summary, self.kind, self.idx = outdir, summary, kind, idx
        self.notes: list[str] = []
        self.content: dict[int, Any] = {}  # idx index -> text / Doc / None
        self.kept_sets: _KeptSets | None = None
        params = summary.get("parameters", {})
        self.params = params
        if kind == "images":
            self.measure, self.threshold = "hamming", float(params.get("max_distance", 8))
            self.work = work_dir(outdir, work, "manifest.json")
            return
        text_params = params["text"] if kind == "interleaved" else params
        self.cfg = DedupConfig(**text_params)
        manifest = "manifest-interleaved.json" if kind == "interleaved" else "manifest.json"
        self.work = work_dir(outdir, work, manifest)
        self.shards, why = find_shards(summary, self.work, manifest, inputs)
        if why:
            self.notes.append(why)
        self.kept_sets = _KeptSets.of(self.work, self.cfg, manifest) if kind == "text" else None
        if kind == "interleaved":
            self.measure, self.threshold = "jaccard", self.cfg.threshold
        elif self.cfg.method == "simhash":
            self.measure, self.threshold = "simhash hamming", float(self.cfg.max_distance)
        elif self.cfg.method == "exact":
            self.measure, self.threshold = "equal text", 1.0
        else:
            self.measure, self.threshold = "jaccard", self.cfg.threshold

    def fetch(self, items: Sequence[int]) -> None:
        """Loads the content of the given members (indices into the index arrays)."""
        if self.kind == "images":
            return
        idx = self.idx
        wanted: dict[str, list[int]] = {}
        for i in items:
            if i not in self.content:
                wanted.setdefault(idx.shards[idx.shard[i]], []).append(int(idx.row[i]))
        got: dict[tuple[str, int], Any] = {}
        if self.kind == "interleaved":
            from .interleaved import fetch_documents

            got, notes = fetch_documents(wanted, self.shards, self.params, self.work)
            self.notes.extend(n for n in notes if n not in self.notes)
        else:
            column = str(self.summary.get("column", "text"))

            def read(name: str) -> dict[int, Any] | str:
                shard = self.shards.get(name)
                try:
                    return (
                        dict(read_rows(shard, wanted[name], [column])) if shard is not None else {}
                    )
                except (MmdedupError, OSError) as e:
                    return f"cannot read {name}: {e}"

            # Shards read side by side (their decoding releases the GIL), notes in shard order.
            with ThreadPoolExecutor(max(1, min(_core.get_num_threads(), len(wanted)))) as pool:
                results = dict(zip(wanted, pool.map(read, wanted), strict=True))
            for name, rows in wanted.items():
                recs = results[name]
                if isinstance(recs, str):
                    self.notes.append(recs)
                    recs = {}
                for r in rows:
                    rec = recs.get(r)
                    value = rec.get(column) if isinstance(rec, dict) else None
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", errors="replace")
                    got[(name, r)] = value if isinstance(value, str) else None
        for i in items:
            key = (idx.shards[idx.shard[i]], int(idx.row[i]))
            self.content.setdefault(i, got.get(key))

    def score(self, pairs: Sequence[tuple[int, int]]) -> list[_Score | None]:
        """Measures ``(member, kept)`` pairs; None where the content could not be read."""
        if self.kind == "images":
            h = self.idx.hashes
            dists = [hamming(_py(h[m]), _py(h[k])) for m, k in pairs]
            by_regions: dict[tuple[int, int], bool | None] = {}
            if self.params.get("crops"):  # beyond the distance: joined by region hashes?
                from .regions import region_matches

                far = [p for p, d in zip(pairs, dists, strict=True) if d > self.threshold]
                pos = [(int(self.idx.pos[m]), int(self.idx.pos[k])) for m, k in far]
                got = region_matches(
                    self.idx.path, pos, self.params, self._image_column(), self._image_shard()
                )
                by_regions = dict(zip(far, got, strict=True))
            out: list[_Score | None] = []
            for p, d in zip(pairs, dists, strict=True):
                near = d <= self.threshold
                if not near and p in by_regions and by_regions[p] is None:
                    out.append(None)  # an image that cannot be read: not measured
                    continue
                out.append(_Score(float(d), near or bool(by_regions.get(p)), distance=d))
            return out
        scores: dict[tuple[int, int], _Score] = {}
        idx = self.idx
        where = [(idx.shards[idx.shard[i]], int(idx.row[i])) for p in pairs for i in (p[1], p[0])]
        if self.kept_sets is not None and self.kept_sets.covers(where):
            # What the run kept of the texts: no shard is read again.
            kept_jac, kept_est = self.kept_sets.scores(where)
            for j, p in enumerate(pairs):
                v = float(kept_jac[j])
                scores[p] = _Score(v, v >= self.threshold, v, float(kept_est[j]))
            return [scores[p] for p in pairs]
        self.fetch([i for p in pairs for i in p])
        ok = [p for p in pairs if self._usable(p)]
        if self.kind == "interleaved":
            sets = [(self.content[k].tokens, self.content[m].tokens) for m, k in ok]
            jacs, ests = set_scores(sets, self.cfg)
            for j, p in enumerate(ok):
                v = float(jacs[j])
                scores[p] = _Score(v, v >= self.threshold, v, float(ests[j]))
        else:
            s = text_scores([(self.content[k], self.content[m]) for m, k in ok], self.cfg)
            for j, p in enumerate(ok):
                jac = float(s.jaccard[j])
                est = float(s.estimate[j]) if s.estimate is not None else None
                dist = int(s.distance[j]) if s.distance is not None else None
                value = float(dist) if dist is not None else jac
                scores[p] = _Score(value, bool(s.agrees[j]), jac, est, dist)
        return [scores.get(p) for p in pairs]

    def _usable(self, pair: tuple[int, int]) -> bool:
        a, b = (self.content.get(i) for i in pair)
        if self.kind == "interleaved":
            return a is not None and b is not None and bool(a.tokens) and bool(b.tokens)
        return isinstance(a, str) and isinstance(b, str)

    def _image_shard(self) -> str:
        """``shard``, or ``source`` in an images run from before the one convention."""
        names = pq.read_schema(self.idx.path).names
        return "shard" if "shard" in names else "source"

    def members(self, items: Sequence[int], scores: dict[int, _Score]) -> dict[int, Member]:
        """Members for display, with their ids read from the results table."""
        idx = self.idx
        self.fetch(items)
        cols = {
            "text": ["shard", "row", str(self.summary.get("id_column") or "")],
            "interleaved": ["shard", "row", "doc_id"],
            "images": [self._image_shard(), "row", "key", "width", "height"],
        }[self.kind]
        recs = read_positions(idx.path, [int(idx.pos[i]) for i in items], cols)
        thumbs: dict[tuple[str, int | None], Any] = {}
        if self.kind == "images":
            from .locate import image_bytes, thumbnail

            keys = [(str(r.get("shard", r.get("source"))), r["row"]) for r in recs.values()]
            column = self._image_column()
            thumbs = {k: thumbnail(v) for k, v in image_bytes(keys, column).items()}
        out: dict[int, Member] = {}
        for i in items:
            rec = recs.get(int(idx.pos[i]), {})
            ids = {k: v for k, v in rec.items() if k not in ("width", "height")}
            if self.kind == "images" and ids.get("row") is None:
                ids.pop("row", None)
            s = scores.get(i)
            kw: dict[str, Any] = {}
            content = self.content.get(i)
            if self.kind == "text":
                text = content if isinstance(content, str) else None
                kw["text"] = text[:MAX_CHARS] if text is not None else None
                kw["truncated"] = text is not None and len(text) > MAX_CHARS
                kw["note"] = None if text is not None else "text not found in the input shards"
            elif self.kind == "interleaved" and content is not None:
                kw["segments"], kw["note"] = content.segments, content.note
                kw["text"] = content.text[:MAX_CHARS]
                kw["truncated"] = len(content.text) > MAX_CHARS
            elif self.kind == "images":
                shard = rec.get("shard", rec.get("source"))
                kw["thumb"] = thumbs.get((str(shard), rec.get("row")))
            out[i] = Member(
                anchor=f"doc-{int(idx.pos[i])}",
                ids=ids,
                status=idx.statuses[idx.status[i]],
                keep=bool(idx.keep[i]),
                similarity=s.similarity if s else None,
                estimate=s.estimate if s else None,
                distance=s.distance if s else None,
                **kw,
            )
        return out

    def _image_column(self) -> str | None:
        import json

        if "column" in self.summary:  # the image column the run read (None: detected)
            col = self.summary["column"]
            return str(col) if col else None
        if self.work is None:
            return None
        manifest = json.loads((self.work / "manifest.json").read_text())
        col = manifest.get("parameters", {}).get("column")
        return str(col) if col else None


def _shard_counts(run: _Run) -> tuple[ShardCounts, ...]:
    per: dict[str, Counter[str]] = {}
    for (shard, status), n in run.idx.counts.items():
        per.setdefault(shard, Counter())[status] += n
    parts: dict[str, Counter[str]] = {}
    removals = run.outdir / "removals.parquet"
    if run.kind == "interleaved" and removals.is_file():
        import pyarrow.parquet as pq

        for b in pq.ParquetFile(removals).iter_batches(columns=["shard", "what", "reason"]):
            for shard, what, reason in zip(
                *(b.column(j).to_pylist() for j in range(3)), strict=True
            ):
                if what != "document":
                    parts.setdefault(shard, Counter())[reason] += 1
    out = []
    for shard in sorted(per):
        c = per[shard]
        removed = {s: n for s, n in c.items() if s in _REMOVED}
        total = sum(c.values())
        out.append(
            ShardCounts(
                shard, total, total - sum(removed.values()), removed, dict(parts.get(shard, {}))
            )
        )
    return tuple(out)


def _shown(idx: Index, kept: LabelMap, label: int, lead: int | None, n: int) -> list[int]:
    """The members of a cluster to show: its kept one, ``lead`` (a sampled member), and the
    first other removed ones, ``n`` removed in all."""
    others = [int(i) for i in np.flatnonzero(idx.label == label) if not idx.keep[i] and i != lead]
    head = [kept[label]] if label in kept else []
    return head + (([lead] if lead is not None else []) + others)[:n]


def _precision(
    run: _Run,
    population: int,
    take: int,
    measured: list[tuple[tuple[int, int], _Score]],
    sample: int,
    seed: int,
) -> Precision:
    n = len(measured)
    agreeing = sum(1 for _, s in measured if s.agrees)
    note = None
    if n < take:
        note = f"{take - n} sampled pairs could not be measured (content not found or empty)"
    if not population:
        note = "no removed member with its kept member in this run: nothing to estimate"
    if run.kind == "images" and run.params.get("frames") == "all":
        note = "hashes are first frames; animations matched on any frame"
    if run.kind == "images" and run.params.get("crops"):
        note = (
            "with --crops, a pair beyond the whole-image distance agrees when its images, "
            "decoded again, share --min-regions region hashes within it"
        )
    return Precision(
        kind=run.kind,
        measure=run.measure,
        threshold=run.threshold,
        population=population,
        pairs=n,
        agreeing=agreeing,
        precision=agreeing / n if n else None,
        ci95=wilson(agreeing, n) if n else None,
        below=n - agreeing,
        below_share=(n - agreeing) / n if n else None,
        sample=sample,
        seed=seed,
        note=note,
    )


def sample_pairs(
    label: npt.NDArray[np.int64],
    keep: npt.NDArray[np.bool_],
    sample: int,
    seed: int,
    near: npt.NDArray[np.bool_] | None = None,
) -> tuple[np.random.Generator, int, list[tuple[int, int]]]:
    """The pairs the precision estimate measures: ``sample`` removed members (of those that
    ``near`` allows) whose cluster's kept member is among the rows, drawn with ``seed``, each
    with that kept member. ``label`` and ``keep``: the clustered rows of a run's results, in
    their order. Returns the generator (to draw on from), the population's size and the pairs
    (positions in the rows)."""
    rng = np.random.default_rng(seed)
    kept = LabelMap(label[keep], np.flatnonzero(keep).astype(np.int64))
    removed = np.flatnonzero(~keep)
    if near is not None:
        removed = removed[near[removed]]
    population = removed[np.isin(label[removed], label[keep])].astype(np.int64)
    take = min(max(sample, 0), len(population))
    picked: list[int] = (
        sorted(population[rng.choice(len(population), take, replace=False)].tolist())
        if take
        else []
    )
    return rng, len(population), [(int(i), kept[int(label[i])]) for i in picked]


def build(
    outdir: str | Path,
    *,
    sample: int = 200,
    seed: int = 0,
    show: int = 4,
    members: int = 4,
    work: str | Path | None = None,
    inputs: Sequence[str] | None = None,
    summary: dict[str, Any] | None = None,
) -> Report:
    """The report of the run in ``outdir`` (see :func:`mmdedup.inspect.inspect`)."""
    out = Path(outdir)
    summary = summary if summary is not None else load_summary(out)
    kind = run_kind(out, summary)
    idx = scan(
        out / ("documents.parquet" if kind == "interleaved" else "clusters.parquet"),
        images=kind == "images",
    )
    run = _Run(out, summary, kind, idx, Path(work) if work else None, inputs)
    kept = idx.kept_of()
    sizes = idx.sizes()
    # The sample: removed members whose kept member is in the results (interleaved: the
    # near-duplicate rule's removals; identical image sets are identical by construction).
    near = None
    if kind == "interleaved":
        near = idx.status == (
            idx.statuses.index("near_duplicate") if "near_duplicate" in idx.statuses else -1
        )
    rng, population, pairs = sample_pairs(idx.label, idx.keep, sample, seed, near)
    take = len(pairs)
    # The clusters shown: the largest, random ones, then those nearest the threshold.
    chosen: dict[int, list[str]] = {}
    # Largest first, ties by label (labels are sorted, the sort stable).
    by_size = np.argsort(-sizes.values, kind="stable")
    for j in by_size[:show].tolist():
        chosen.setdefault(int(sizes.labels[j]), []).append("largest")
    rest = by_size[show:]
    if len(rest) and show:
        for j in sorted(rng.choice(len(rest), min(show, len(rest)), replace=False).tolist()):
            chosen.setdefault(int(sizes.labels[rest[j]]), []).append("random")
    shown = {label: _shown(idx, kept, label, None, members) for label in chosen}
    if run.kept_sets is None:
        run.fetch([i for p in pairs for i in p] + [i for v in shown.values() for i in v])
    else:
        run.fetch([i for v in shown.values() for i in v])
    measured = [(p, s) for p, s in zip(pairs, run.score(pairs), strict=True) if s is not None]
    precision = _precision(run, population, take, measured, sample, seed)
    near_pairs = sorted(measured, key=lambda ps: (abs(ps[1].value - run.threshold), ps[0][0]))
    count = 0
    for (m, _), _s in near_pairs:
        label = int(idx.label[m])
        if count >= show:
            break
        if "near the threshold" not in chosen.get(label, []):
            chosen.setdefault(label, []).append("near the threshold")
            shown[label] = _shown(idx, kept, label, m, members)
            count += 1
    score_of = {m: s for (m, _), s in measured}
    need = [i for items in shown.values() for i in items]
    extra = [
        (i, kept[int(idx.label[i])])
        for i in need
        if not idx.keep[i] and i not in score_of and int(idx.label[i]) in kept
    ]
    for (m, _), s in zip(extra, run.score(extra), strict=True):
        if s is not None:
            score_of[m] = s
    shown_members = run.members(need, score_of) if need else {}
    clusters = []
    for label, reasons in chosen.items():
        items = [shown_members[i] for i in shown[label]]
        k = items[0] if items and items[0].keep else None
        rest_items = tuple(m for m in items if not m.keep)
        clusters.append(Cluster(label, sizes[label], tuple(reasons), k, rest_items))
    status: Counter[str] = Counter()
    for (_, st), c in idx.counts.items():
        status[st] += c
    removed_by: dict[str, int] = {s: c for s, c in status.items() if s in _REMOVED}
    if kind == "interleaved":
        for what in ("images", "paragraphs"):
            r = summary.get(what, {}).get("removed", {})
            removed_by.update(r if isinstance(r, dict) else {f"duplicate_{what[:-1]}": int(r)})
    return Report(
        outdir=str(out),
        kind=kind,
        summary=summary,
        inputs=tuple(str(x) for x in summary.get("inputs", [])),
        parameters=_flatten(summary.get("parameters", {})),
        status=dict(status),
        removed=removed_by,
        shards=_shard_counts(run),
        cluster_sizes=dict(
            zip(*(a.tolist() for a in np.unique(sizes.values, return_counts=True)), strict=True)
        ),
        similarities=tuple(s.value for _, s in measured),
        precision=precision,
        clusters=tuple(clusters),
        sample=sample,
        seed=seed,
        notes=tuple(run.notes),
    )
