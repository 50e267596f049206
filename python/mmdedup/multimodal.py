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

The stages work like the text dedup's (:mod:`mmdedup.pipeline`): units write atomically and
leave a marker, so ``resume=True`` continues an interrupted run with identical results.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import re
import textwrap
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from . import _core
from .dedup import DedupConfig, choose_keep, compute_signatures, parse_keep
from .errors import InputError, ParameterError
from .formats import FORMATS, parse_markdown, read_documents, write_documents
from .formats.markdown import image_references
from .formats.model import segment_meta
from .io import Shard, discover, write_table
from .pipeline import Plan, WorkDir, _write_partitions, stage_candidates
from .runs.budget import partitions as budget_partitions
from .runs.copies import copy_images, image_copies
from .runs.dirs import Run as OutputRun
from .runs.dirs import claim_work_dir, open_run
from .storage import atomic_write, create_npy

__all__ = [
    "REASONS",
    "MultimodalConfig",
    "is_interleaved",
    "paragraph_spans",
    "run",
]

ImageKey = Literal["url", "bytes", "phash"]
ParagraphScope = Literal["corpus", "domain", "off"]
MarkdownMode = Literal["auto", "strip", "keep"]

REASONS = (
    "near_duplicate",
    "identical_images",
    "repeated_image",
    "frequent_image",
    "duplicate_paragraph",
)
"""Why something was removed (``removals.parquet`` ``reason``)."""

# 2: MinHash signatures of the native scheme's second definition (see pipeline._VERSION).
_VERSION = 2
_BLANK = re.compile(r"\n[ \t]*\n")
_DOC_STATUS = ("unique", "kept", "near_duplicate", "identical_images", "empty", "error")
# A paragraph row on disk: scope, hash, global document, segment, paragraph.
_PARA = np.dtype(
    [("scope", "<u8"), ("hash", "<u8"), ("doc", "<u8"), ("seg", "<u4"), ("par", "<u4")]
)
_IMG = np.dtype([("key", "<u8"), ("doc", "<u8")])


@dataclass(frozen=True)
class MultimodalConfig:
    """The rules of an interleaved-document dedup; recorded in ``summary.json``.

    Attributes:
        text: MinHash parameters of the near-duplicate rule (``method`` must be minhash).
        near_duplicates: Remove near-duplicate documents (rule 4).
        image_weight: Set tokens each remaining image adds to its document's set.
        image_key: What makes two images the same: ``url``, ``bytes`` or ``phash``.
        image_distance: For ``phash``: largest Hamming distance between the same image.
        image_frequency: Remove images found in more than this many documents (0: off).
        repeated_images: Remove later copies of an image within one document.
        identical_images: Keep one of the documents with the same non-empty image set.
        paragraphs: Remove repeated paragraphs corpus-wide, within a web domain, or not.
        markdown: Strip markdown markup before hashing text: ``auto`` for markdown layouts
            (PIN, WanJuan), or ``strip``/``keep`` for all.
        keep: Which document of a group stays: ``first``, ``longest``, ``max:FIELD`` or
            ``min:FIELD`` (a column, or a key of the JSON in ``extra``, ``meta`` or
            ``general_metadata``; numbers or ISO dates).
        format: The layout of the inputs (None: detected per file).
    """

    text: DedupConfig = field(default_factory=DedupConfig)
    near_duplicates: bool = True
    image_weight: int = 8
    image_key: ImageKey = "url"
    image_distance: int = 0
    image_frequency: int = 10
    repeated_images: bool = True
    identical_images: bool = True
    paragraphs: ParagraphScope = "corpus"
    markdown: MarkdownMode = "auto"
    keep: str = "first"
    format: str | None = None

    def __post_init__(self) -> None:
        if self.text.method != "minhash":
            raise ParameterError("interleaved documents are deduplicated with --method minhash")
        if self.image_key not in ("url", "bytes", "phash"):
            raise ParameterError(f"image key must be url, bytes or phash, got {self.image_key!r}")
        if self.image_distance and self.image_key != "phash":
            raise ParameterError("an image distance needs --image-key phash")
        if not 0 <= self.image_distance <= 32:
            raise ParameterError(f"image distance must be in 0..32, got {self.image_distance}")
        if self.image_frequency < 0 or self.image_weight < 0:
            raise ParameterError("image frequency and image weight must not be negative")
        if self.paragraphs not in ("corpus", "domain", "off"):
            raise ParameterError(f"paragraphs must be corpus, domain or off: {self.paragraphs!r}")
        if self.markdown not in ("auto", "strip", "keep"):
            raise ParameterError(f"markdown must be auto, strip or keep: {self.markdown!r}")
        if self.format is not None and self.format not in FORMATS:
            raise ParameterError(f"unknown layout {self.format!r}; one of {', '.join(FORMATS)}")
        parse_keep(self.keep)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["text"] = self.text.to_dict()
        return d


def is_interleaved(inputs: Sequence[str], column: str) -> str | None:
    """The layout of the first input when it is an interleaved layout without ``column``."""
    from .formats import detect_format

    shard = discover(list(inputs))[0]
    try:
        fmt = detect_format(shard)
        if shard.format == "parquet":
            from .io import _parquet

            names = set(_parquet(shard).schema_arrow.names)
        else:
            from .formats.files import _jsonl_rows

            first = next((r for r in _jsonl_rows(shard) if isinstance(r, dict)), {})
            names = set(first)
    except (InputError, pa.ArrowInvalid, OSError):
        return None  # not readable as a layout: the text dedup reports what is wrong
    return None if column in names else fmt


# -- text pieces -----------------------------------------------------------------------------


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each paragraph: text between blank lines that is not blank itself.

    >>> t = "A b.\\n\\nC d.\\n \\n\\nE."
    >>> [t[s:e] for s, e in paragraph_spans(t)]
    ['A b.', 'C d.', 'E.']
    """
    spans, pos = [], 0
    for end, nxt in [(m.start(), m.end()) for m in _BLANK.finditer(text)] + [(len(text), 0)]:
        chunk = text[pos:end]
        body = chunk.strip()
        if body:
            s = pos + chunk.index(body)
            spans.append((s, s + len(body)))
        pos = nxt
    return spans


def edit_text(text: str, drop: set[int], cut: Sequence[tuple[int, int]] = ()) -> str | None:
    """``text`` without its paragraphs numbered in ``drop`` and the ranges in ``cut``; None when
    nothing but whitespace is left. A dropped paragraph takes the separator after it (or, the
    last, the one before it) along; the kept text stays as it was.

    >>> edit_text("A.\\n\\nB.\\n\\n\\nC.", {1})
    'A.\\n\\nC.'
    >>> edit_text("A.\\n\\nB.", {1}), edit_text("A.\\n\\nB.", {0, 1})
    ('A.', None)
    >>> edit_text("x ![i](a.png) y", set(), [(2, 13)])
    'x  y'
    """
    spans = paragraph_spans(text)
    kept = [i for i in range(len(spans)) if i not in drop]
    gone: list[tuple[int, int]] = list(cut)
    for i in sorted(d for d in drop if d < len(spans)):
        later = next((k for k in kept if k > i), None)
        if later is not None:
            gone.append((spans[i][0], spans[later][0]))
        else:
            before = max((k for k in kept if k < i), default=None)
            gone.append((spans[before][1] if before is not None else spans[i][0], spans[i][1]))
    pieces, pos = [], 0
    for s, e in sorted(gone):
        if s > pos:
            pieces.append(text[pos:s])
        pos = max(pos, e)
    pieces.append(text[pos:])
    out = "".join(pieces)
    return out if out.strip() else None


# `![alt](src "title")`: an image reference left in the text of a markdown layout (in code, where
# markdown does not make it an image, though the layout lists it as one). Found by
# formats.markdown.image_references, in linear time (a regex took quadratic time).


def _strip_references(text: str) -> str:
    refs = image_references(text)
    if not refs:
        return text
    pieces, pos = [], 0
    for start, end, _ in refs:
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


@dataclass
class _View:
    """What the rules see of one document.

    Attributes:
        paragraphs: Each paragraph's text (image references removed) and its pieces, as
            ``(segment, paragraph of the segment)``. Paragraphs are split at blank lines of the
            document's text, wherever segments begin and end: consecutive text segments are
            read together with what lies between them (``md_before``, or a blank line).
        images: ``(segment, reference, segment-like dict, span)``: reference 0 is an image
            segment, ``r > 0`` the r-th image reference inside text segment ``segment``, whose
            characters are ``span``.
    """

    paragraphs: list[tuple[str, list[tuple[int, int]]]]
    images: list[tuple[int, int, dict[str, Any], tuple[int, int] | None]]


def _view(segs: list[dict[str, Any]], markdown_layout: bool) -> _View:
    paragraphs: list[tuple[str, list[tuple[int, int]]]] = []
    images: list[tuple[int, int, dict[str, Any], tuple[int, int] | None]] = []
    tail: str | None = None  # text after the last paragraph of the run so far (None: no run)
    for k, seg in enumerate(segs):
        if seg["kind"] != "text":
            tail = None
            images.append((k, 0, seg, None))
            continue
        text = seg["text"] or ""
        if markdown_layout:
            for r, (start, end, src) in enumerate(image_references(text), 1):
                remote = "://" in src or src.startswith("data:")
                ref = {"image_url": src if remote else None, "image_path": None if remote else src}
                images.append((k, r, ref, (start, end)))
        meta = segment_meta(seg) if seg.get("meta") else None
        before = meta.get("md_before", "\n\n") if isinstance(meta, dict) else "\n\n"
        spans = paragraph_spans(text)
        for j, (s, e) in enumerate(spans):
            piece = text[s:e]
            gap = (
                text[spans[j - 1][1] : s]
                if j
                else (None if tail is None else tail + before + text[:s])
            )
            if gap is None or _BLANK.search(gap) or not paragraphs:
                paragraphs.append((piece, [(k, j)]))
            else:
                joined, members = paragraphs[-1]
                paragraphs[-1] = (joined + gap + piece, [*members, (k, j)])
        tail = (
            text[spans[-1][1] :] if spans else (tail + before + text if tail is not None else text)
        )
    if markdown_layout:
        paragraphs = [(_strip_references(t), m) for t, m in paragraphs]
    return _View(paragraphs, images)


def _strip_markdown(pieces: list[str]) -> list[str]:
    """Plain text of markdown paragraphs. Each is dedented first: a paragraph cut out of its
    document (a nested list item) is not an indented code block."""
    if not pieces:
        return []
    plain: list[list[str]] = [[] for _ in pieces]
    t = parse_markdown([textwrap.dedent(p) for p in pieces])
    docs = t.column("doc").to_pylist()
    kinds = t.column("kind").to_pylist()
    texts = t.column("text").to_pylist()
    for d, kind, text in zip(docs, kinds, texts, strict=True):
        if kind == "text" and text:
            plain[d].append(text)
    return ["\n".join(p) for p in plain]


def _hash64(texts: list[str], cfg: DedupConfig) -> tuple[npt.NDArray[np.uint64], Any]:
    digest, empty = _core.exact_hash(pa.array(texts, pa.string()), **cfg.normalize_options())
    keys = np.ascontiguousarray(digest[:, :8]).view("<u8").ravel().astype(np.uint64)
    return keys, np.asarray(empty, dtype=np.bool_)


def _domain(url: Any) -> str:
    if not isinstance(url, str) or not url:
        return ""
    host = urlsplit(url if "://" in url else "//" + url).hostname or ""
    return host.removeprefix("www.")


# -- document fields -------------------------------------------------------------------------

_JSON_COLUMNS = ("extra", "meta", "general_metadata", "metadata")


def _field(table: pa.Table, name: str) -> list[Any]:
    """A document field: a column, else a key of the JSON objects in ``extra``, ``meta``,
    ``general_metadata`` or ``metadata`` (also nested in one another, as when a Parquet layout's
    ``general_metadata`` travelled to JSON Lines); dots go deeper (``meta.date``).

    >>> inner = json.dumps({"date": "2021"})
    >>> t = pa.table({"extra": [json.dumps({"general_metadata": inner}), None]})
    >>> _field(t, "date")
    ['2021', None]
    """
    rows = table.drop_columns([c for c in ("doc_id", "segments") if c in table.column_names])
    path = name.split(".")
    return [_lookup(r, path) for r in rows.to_pylist()]


def _lookup(value: Any, path: list[str]) -> Any:
    if isinstance(value, str) and value[:1] == "{":
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    if path[0] in value:
        return value[path[0]] if len(path) == 1 else _lookup(value[path[0]], path[1:])
    for nested in _JSON_COLUMNS:
        if nested in value:
            found = _lookup(value[nested], path)
            if found is not None:
                return found
    return None


def _number(value: Any) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, _dt.datetime | _dt.date):
        return _number(value.isoformat())
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            t = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as e:
            raise ParameterError(
                f"keep field value {value!r} is neither a number nor a date"
            ) from e
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.UTC)
        return t.timestamp()
    raise ParameterError(f"keep field value {value!r} is neither a number nor a date")


def _urls(table: pa.Table) -> list[Any]:
    return _field(table, "url")


# -- images ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _image_source(table: str | None, root: str | None) -> _ImageSource:
    return _ImageSource(table, root)


class _ImageSource:
    """Bytes of an image segment: inline, from an (url, bytes) table, or a file beside the
    shard (or under ``root``)."""

    def __init__(self, table: str | Path | None, root: str | Path | None) -> None:
        self.index: dict[str, int] = {}
        self.blobs: pa.ChunkedArray | None = None
        self.root = Path(root) if root else None
        if table is not None:
            t = pq.read_table(table)
            for need in ("url", "bytes"):
                if need not in t.column_names:
                    raise InputError(
                        f"the images table needs columns url and bytes; it has {t.column_names}",
                        path=str(table),
                    )
            self.index = {u: i for i, u in enumerate(t.column("url").to_pylist()) if u}
            self.blobs = t.column("bytes")

    def get(self, seg: dict[str, Any], base: Path | None) -> bytes | str:
        """The bytes, or why there are none."""
        if seg.get("image_bytes"):
            return bytes(seg["image_bytes"])
        for ref in (seg.get("image_url"), seg.get("image_path")):
            if ref and ref in self.index and self.blobs is not None:
                blob = self.blobs[self.index[ref]].as_py()
                if blob:
                    return bytes(blob)
        rel = seg.get("image_path")
        if rel and "://" not in rel:
            for root in (self.root, base):
                if root is None:
                    continue
                p = root / rel
                if p.is_file():
                    return bytes(p.read_bytes())
        ref = seg.get("image_url") or rel
        return f"image not found: {ref!r} (no bytes, not in the images table, no such file)"


def _image_keys(
    segs: list[tuple[int, int, dict[str, Any]]],
    cfg: MultimodalConfig,
    source: _ImageSource,
    base: Path | None,
) -> tuple[npt.NDArray[np.uint64], list[str | None]]:
    """A 64-bit key per image segment, or an error message."""
    n = len(segs)
    keys = np.zeros(n, dtype=np.uint64)
    errors: list[str | None] = [None] * n
    if cfg.image_key == "url":
        refs = [s.get("image_url") or s.get("image_path") or "" for _, _, s in segs]
        for i, r in enumerate(refs):
            if not r:
                errors[i] = "image without URL or path"
        if n:
            k, _ = _core.exact_hash(pa.array(refs, pa.string()), normalize=False)
            keys[:] = np.ascontiguousarray(k[:, :8]).view("<u8").ravel()
        return keys, errors
    blobs: list[bytes] = []
    for i, (_, _, s) in enumerate(segs):
        got = source.get(s, base)
        if isinstance(got, str):
            errors[i] = got
            blobs.append(b"")
        else:
            blobs.append(got)
    if cfg.image_key == "bytes":
        for i, b in enumerate(blobs):
            if errors[i] is None:
                keys[i] = int.from_bytes(hashlib.blake2b(b, digest_size=8).digest(), "little")
        return keys, errors
    from .image import image_hash

    t = image_hash(pa.array(blobs, pa.binary()), method="phash")
    hashes, msgs = t.column("hash").to_pylist(), t.column("error").to_pylist()
    for i in range(n):
        if errors[i] is None:
            if msgs[i] is not None:
                errors[i] = msgs[i]
            else:
                keys[i] = hashes[i]
    return keys, errors


# -- the run ---------------------------------------------------------------------------------


@dataclass
class _Manifest:
    config: dict[str, Any]
    shards: list[dict[str, Any]]
    images: str | None
    image_root: str | None
    partitions: int
    on_error: str = "keep"
    version: int = _VERSION


def _plan(
    inputs: list[str],
    cfg: MultimodalConfig,
    images: str | None,
    image_root: str | None,
    memory: int,
    on_error: str,
) -> _Manifest:
    shards = discover(inputs)
    listed, size = [], 0
    for s in shards:
        listed.append(
            {"path": str(s.path), "name": s.name, "format": s.format, "gzipped": s.gzipped}
        )
        try:
            size += s.path.size()
        except OSError as e:
            raise InputError(f"cannot read: {e}", path=str(s.path)) from e
    # A paragraph or image row is 32 bytes on disk for at least ~8 bytes of input; a partition
    # with its sorted copy should take at most half the budget.
    partitions = budget_partitions(size * 8, memory, most=max(size // 1024, 1))
    return _Manifest(cfg.to_dict(), listed, images, image_root, int(partitions), on_error)


def _config(m: _Manifest) -> MultimodalConfig:
    d = dict(m.config)
    text = {k: v for k, v in d.pop("text").items()}
    return MultimodalConfig(text=DedupConfig(**text), **d)


def _shard(m: _Manifest, i: int) -> Shard:
    from .storage import Location

    s = m.shards[i]
    return Shard(Location(s["path"]), s["name"], s["format"], s["gzipped"])


def _sig_plan(m: _Manifest, rows: int) -> Plan:
    cfg = _config(m)
    return Plan(asdict(cfg.text), "", None, cfg.keep, "skip", [], rows, m.partitions)


def _parts(
    kind: str,
    keys: npt.NDArray[np.uint64],
    rows: npt.NDArray[Any],
    m: _Manifest,
    work: WorkDir,
    tag: str,
) -> None:
    part = (keys % np.uint64(m.partitions)).astype(np.int64)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(m.partitions + 1))
    for p in range(m.partitions):
        work.save(f"{kind}/{p:05d}/{tag}.npy", rows[order[bounds[p] : bounds[p + 1]]])


def stage_scan(work: WorkDir, m: _Manifest, i: int) -> None:
    """Reads shard ``i``: its documents in canonical form, paragraph and image keys."""
    unit = f"scan-{i:06d}"
    if work.done(unit):
        return
    cfg, shard, tag = _config(m), _shard(m, i), f"{i:06d}"
    docs = read_documents(shard, format=cfg.format, on_error="skip")
    if docs.errors and m.on_error == "raise":
        first = docs.errors[0]
        raise InputError(
            f"{first.message} (use --on-error keep to record such rows and go on)",
            path=first.path,
            row=first.row,
        )
    table = docs.table
    write_table(table, work.path(f"docs/{tag}.parquet"))
    n = table.num_rows
    src_rows = np.array(
        [int(d.rsplit(":", 1)[1]) for d in table.column("doc_id").to_pylist()], dtype=np.int64
    )
    markdown = cfg.markdown == "strip" or (
        cfg.markdown == "auto" and docs.format in ("pin", "wanjuan")
    )
    segments = table.column("segments").to_pylist()
    layout_md = docs.format in ("pin", "wanjuan")
    views = [_view(segs or [], layout_md) for segs in segments]
    # Paragraphs: one row per paragraph, numbered within its document.
    pdoc, pseg, ppar, pieces = [], [], [], []
    for d, v in enumerate(views):
        for j, (piece, members) in enumerate(v.paragraphs):
            pdoc.append(d)
            pseg.append(members[0][0])
            ppar.append(j)
            pieces.append(piece)
    plain = _strip_markdown(pieces) if markdown else pieces
    hashes, empty = (
        _hash64(plain, cfg.text) if plain else (np.zeros(0, np.uint64), np.zeros(0, np.bool_))
    )
    pdoc_a = np.asarray(pdoc, dtype=np.int64)
    # Document text for MinHash: its paragraphs, as hashed, one after another.
    texts: list[list[str]] = [[] for _ in range(n)]
    for d, t in zip(pdoc, plain, strict=True):
        texts[d].append(t)
    write_table(
        pa.table({"text": pa.array(["\n\n".join(t) for t in texts], pa.string())}),
        work.path(f"texts/{tag}.parquet"),
    )
    # Images, in reading order: image segments and references left in markdown text.
    isegs = [(d, k, r, ref) for d, v in enumerate(views) for k, r, ref, _ in v.images]
    source = _image_source(m.images, m.image_root)
    base = shard.path.local().parent if shard.path.is_local else None
    ikeys, ierrs = _image_keys([(d, k, ref) for d, k, _, ref in isegs], cfg, source, base)
    idoc = np.array([d for d, _, _, _ in isegs], dtype=np.int64)
    iseg = np.array([k for _, k, _, _ in isegs], dtype=np.uint32)
    iref = np.array([r for _, _, r, _ in isegs], dtype=np.uint32)
    ok = np.array([e is None for e in ierrs], dtype=np.bool_)
    repeated = np.zeros(len(isegs), dtype=np.bool_)
    if cfg.repeated_images and len(isegs):
        seen: set[tuple[int, int]] = set()
        for j in range(len(isegs)):
            if not ok[j]:
                continue
            pair = (int(idoc[j]), int(ikeys[j]))
            repeated[j] = pair in seen
            seen.add(pair)
    np.savez(
        work.path(f"images/{tag}.npz"),
        doc=idoc,
        seg=iseg,
        ref=iref,
        key=ikeys,
        ok=ok,
        repeated=repeated,
    )
    problems = [
        {
            "row": int(src_rows[idoc[j]]),
            "doc_id": table.column("doc_id")[int(idoc[j])].as_py(),
            "segment": int(iseg[j]),
            "problem": ierrs[j],
        }
        for j in range(len(isegs))
        if ierrs[j] is not None
    ] + [{"row": p.row, "doc_id": None, "segment": None, "problem": p.message} for p in docs.errors]
    # Keep-rule key and paragraph scope.
    rule = parse_keep(cfg.keep)
    if rule[0] == "longest":
        key = np.array([sum(len(t) for t in ts) for ts in texts], dtype=np.float64)
    elif rule[0] in ("max", "min") and rule[1]:
        try:
            key = np.array([_number(v) for v in _field(table, rule[1])], dtype=np.float64)
        except ParameterError as e:
            raise InputError(f"--keep {cfg.keep}: {e}", path=str(shard.path)) from e
    else:
        key = np.zeros(n, dtype=np.float64)
    scope = np.zeros(n, dtype=np.uint64)
    if cfg.paragraphs == "domain" and n:
        scope, _ = _hash64([_domain(u) for u in _urls(table)], DedupConfig(normalize=False))
    with atomic_write(work.path(f"scan/{tag}.json")) as f:
        f.write(
            json.dumps(
                {
                    "rows": n,
                    "read_errors": len(docs.errors),
                    "repairs": len(docs.repairs),
                    "format": docs.format,
                    "problems": problems,
                    "repair_messages": [str(p) for p in docs.repairs],
                }
            ).encode()
        )
    np.savez(work.path(f"meta/{tag}.npz"), key=key, src_row=src_rows)
    # Paragraph rows, partitioned by hash (global doc ids are fixed later: shard in the top bits).
    live = ~empty
    rows = np.empty(int(live.sum()), dtype=_PARA)
    rows["scope"] = scope[pdoc_a[live]] if len(rows) else 0
    rows["hash"] = hashes[live]
    rows["doc"] = (np.uint64(i) << np.uint64(32)) | pdoc_a[live].astype(np.uint64)
    rows["seg"] = np.asarray(pseg, dtype=np.uint32)[live]
    rows["par"] = np.asarray(ppar, dtype=np.uint32)[live]
    _parts("paragraphs", rows["hash"] ^ rows["scope"], rows, m, work, tag)
    work.mark(unit)


def _docs_of(i: int, local: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    return (np.uint64(i) << np.uint64(32)) | local.astype(np.uint64)


def stage_image_parts(work: WorkDir, m: _Manifest, i: int) -> None:
    """Image keys of shard ``i`` (one per document and distinct key) into partitions."""
    unit = f"imageparts-{i:06d}"
    if work.done(unit):
        return
    tag = f"{i:06d}"
    z = dict(np.load(work.root / "images" / f"{tag}.npz"))
    sel = z["ok"] & ~z["repeated"]
    rows = np.empty(int(sel.sum()), dtype=_IMG)
    rows["key"], rows["doc"] = z["key"][sel], _docs_of(i, z["doc"][sel])
    rows = np.unique(rows)
    _parts("imageparts", rows["key"], rows, m, work, tag)
    work.mark(unit)


def stage_frequent(work: WorkDir, m: _Manifest) -> None:
    """The image keys found in more than ``image_frequency`` documents."""
    if work.done("frequent"):
        return
    cfg = _config(m)
    frequent: list[npt.NDArray[np.uint64]] = []
    per_key: list[npt.NDArray[Any]] = []
    for p in range(m.partitions):
        files = sorted((work.root / "imageparts" / f"{p:05d}").glob("*.npy"))
        rows = np.concatenate([np.load(f) for f in files]) if files else np.empty(0, _IMG)
        keys, counts = np.unique(rows["key"], return_counts=True)
        if cfg.image_distance:
            both = np.empty(len(keys), [("key", "<u8"), ("count", "<i8")])
            both["key"], both["count"] = keys, counts
            per_key.append(both)
        else:
            frequent.append(keys[counts > cfg.image_frequency])
    if cfg.image_distance:
        # Within distance k: each distinct hash weighs as many documents as hold it.
        allk = (
            np.concatenate(per_key) if per_key else np.empty(0, [("key", "<u8"), ("count", "<i8")])
        )
        occurrences = np.repeat(allk["key"], allk["count"]).astype(np.uint64)
        near = _core.hamming_counts(
            occurrences, np.zeros(len(occurrences), np.bool_), k=cfg.image_distance
        )
        frequent = [np.unique(occurrences[near > cfg.image_frequency])]
    out = np.unique(np.concatenate(frequent)) if frequent else np.zeros(0, np.uint64)
    work.save("frequent.npy", out.astype(np.uint64))
    work.mark("frequent")


def _layout(work: WorkDir, m: _Manifest) -> list[int]:
    return [
        json.loads((work.root / "scan" / f"{i:06d}.json").read_text())["rows"]
        for i in range(len(m.shards))
    ]


def _surviving_images(
    work: WorkDir, m: _Manifest, i: int
) -> tuple[Any, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The shard's image arrays, which are frequent, and which survive rules 1 and 2."""
    cfg = _config(m)
    z = dict(np.load(work.root / "images" / f"{i:06d}.npz"))
    frequent = np.zeros(len(z["key"]), dtype=np.bool_)
    if cfg.image_frequency:
        frequent = z["ok"] & np.isin(z["key"], work.load("frequent.npy"))
    alive = ~(z["ok"] & (z["repeated"] | frequent))
    return z, frequent, alive


def stage_signatures(work: WorkDir, m: _Manifest, i: int) -> None:
    """Shard ``i``: image-set keys and the MinHash of text shingles plus image tokens."""
    unit = f"signatures-{i:06d}"
    if work.done(unit):
        return
    cfg, tag = _config(m), f"{i:06d}"
    counts = _layout(work, m)
    off, n = sum(counts[:i]), counts[i]
    z, _, alive = _surviving_images(work, m, i)
    use = alive & z["ok"]
    sets: list[list[int]] = [[] for _ in range(n)]
    for d, k in zip(z["doc"][use], z["key"][use], strict=True):
        sets[int(d)].append(int(k))
    setkey = np.zeros(n, dtype=np.uint64)
    for d, ks in enumerate(sets):
        if ks:
            blob = np.unique(np.array(ks, dtype=np.uint64)).tobytes()
            setkey[d] = int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little") | 1
    work.save(f"imagesets/{tag}.npy", setkey)
    if cfg.near_duplicates:
        texts = pq.read_table(work.root / "texts" / f"{tag}.parquet").column("text")
        sig = compute_signatures(texts, cfg.text)
        data, empty = sig.data, sig.empty.copy()
        if cfg.image_weight:
            tokens = [
                [
                    f"\x00image:{k:016x}:{w}"
                    for k in sorted(set(ks))
                    for w in range(cfg.image_weight)
                ]
                for ks in sets
            ]
            isig, icount = _core.minhash_sets(
                pa.array(tokens, pa.list_(pa.string())),
                num_perm=cfg.text.num_perm,
                seed=cfg.text.seed,
            )
            data = np.minimum(data, isig)  # MinHash of a union: the slot-wise minimum
            empty &= icount == 0
        sigfile = np.lib.format.open_memmap(work.root / "signatures.npy", mode="r+")
        sigfile[off : off + n] = data
        sigfile.flush()
        del sigfile
        work.save(f"empty/{tag}.npy", empty)
        plan = _sig_plan(m, sum(counts))
        _write_partitions(work, plan, cfg.text, data, empty, off, tag)
    work.mark(unit)


def stage_documents(work: WorkDir, m: _Manifest) -> None:
    """Decides which documents stay: identical image sets first, then near-duplicates."""
    if work.done("documents"):
        return
    cfg = _config(m)
    counts = _layout(work, m)
    n = sum(counts)
    tags = [f"{i:06d}" for i in range(len(m.shards))]
    rule = parse_keep(cfg.keep)
    key = (
        np.concatenate([np.load(work.root / "meta" / f"{t}.npz")["key"] for t in tags])
        if tags
        else np.zeros(0)
    )
    status = np.zeros(n, dtype=np.uint8)
    cluster = np.full(n, -1, dtype=np.int64)
    removed = np.zeros(n, dtype=np.bool_)
    if cfg.identical_images and n:
        setkey = np.concatenate([work.load(f"imagesets/{t}.npy") for t in tags])
        has = np.flatnonzero(setkey != 0)
        _, inv, sizes = np.unique(setkey[has], return_inverse=True, return_counts=True)
        grouped = has[sizes[inv] > 1]
        if len(grouped):
            first = np.full(len(sizes), n, dtype=np.int64)
            np.minimum.at(first, inv, has)
            labels = np.full(n, -1, dtype=np.int64)
            labels[has] = np.where(sizes[inv] > 1, first[inv], -1)
            keep = choose_keep(labels, rule, key if rule[0] != "first" else None)
            lost = (labels >= 0) & ~keep
            removed |= lost
            status[lost] = 3
            cluster[labels >= 0] = labels[labels >= 0]
            status[(labels >= 0) & keep] = 1
    pairs = {"candidate_pairs": 0, "accepted_pairs": 0}
    if cfg.near_duplicates and n:
        empty = np.concatenate([work.load(f"empty/{t}.npy") for t in tags])
        files = [work.load(f"edges/{p:05d}.npy") for p in range(m.partitions)]
        edges = np.concatenate(files) if files else np.zeros((0, 2), np.uint32)
        edges = np.unique(edges, axis=0) if len(edges) else edges.reshape(0, 2)
        pairs["candidate_pairs"] = sum(
            json.loads((work.root / "edges" / f"{p:05d}.json").read_text())["candidates"]
            for p in range(m.partitions)
        )
        live = ~(removed[edges[:, 0]] | removed[edges[:, 1]]) if len(edges) else np.zeros(0, bool)
        edges = np.ascontiguousarray(edges[live], dtype=np.uint32)
        pairs["accepted_pairs"] = len(edges)
        labels = _core.components(n, edges)
        keep = choose_keep(labels, rule, key if rule[0] != "first" else None)
        lost = (labels >= 0) & ~keep
        removed |= lost
        status[lost] = 2
        status[(labels >= 0) & keep] = 1
        cluster[labels >= 0] = labels[labels >= 0]
        status[empty & ~removed & (status == 0)] = 4
    work.save("removed.npy", removed)
    work.save("status.npy", status)
    work.save("cluster.npy", cluster)
    with atomic_write(work.path("pairs.json")) as f:
        f.write(json.dumps(pairs).encode())
    work.mark("documents")


def stage_paragraphs(work: WorkDir, m: _Manifest, p: int) -> None:
    """Partition ``p``: paragraphs of kept documents seen before in their scope."""
    unit = f"paragraphs-{p:05d}"
    if work.done(unit):
        return
    counts = _layout(work, m)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    files = sorted((work.root / "paragraphs" / f"{p:05d}").glob("*.npy"))
    rows = np.concatenate([np.load(f) for f in files]) if files else np.empty(0, _PARA)
    shard = (rows["doc"] >> np.uint64(32)).astype(np.int64)
    local = (rows["doc"] & np.uint64(0xFFFFFFFF)).astype(np.int64)
    glob = offsets[shard] + local
    removed = work.load("removed.npy", mmap=True)
    alive = ~np.asarray(removed[glob]) if len(rows) else np.zeros(0, bool)
    rows, glob = rows[alive], glob[alive]
    order = np.lexsort((rows["par"], rows["seg"], glob, rows["hash"], rows["scope"]))
    rows, glob = rows[order], glob[order]
    same = np.zeros(len(rows), dtype=np.bool_)
    same[1:] = (rows["hash"][1:] == rows["hash"][:-1]) & (rows["scope"][1:] == rows["scope"][:-1])
    # The kept occurrence of each run of equal paragraphs: its document, for the record.
    starts = np.flatnonzero(~same)
    first = glob[starts][np.cumsum(~same) - 1] if len(rows) else glob
    dup = rows[same]
    out = np.empty(
        len(dup), dtype=[("doc", "<u8"), ("seg", "<u4"), ("par", "<u4"), ("first", "<i8")]
    )
    out["doc"], out["seg"], out["par"], out["first"] = (
        dup["doc"],
        dup["seg"],
        dup["par"],
        first[same],
    )
    sh = (out["doc"] >> np.uint64(32)).astype(np.int64)
    for i in np.unique(sh):
        work.save(f"dupparas/{i:06d}/{p:05d}.npy", out[sh == i])
    work.mark(unit)


def stage_write(work: WorkDir, m: _Manifest, i: int, outdir: Path, outputs: OutputRun) -> None:
    """Writes shard ``i`` without what was removed, and its part of the records."""
    unit = f"write-{i:06d}"
    if work.done(unit):
        return
    cfg, tag, shard = _config(m), f"{i:06d}", _shard(m, i)
    counts = _layout(work, m)
    off, n = sum(counts[:i]), counts[i]
    scan = json.loads((work.root / "scan" / f"{tag}.json").read_text())
    table = pq.read_table(work.root / "docs" / f"{tag}.parquet")
    meta = np.load(work.root / "meta" / f"{tag}.npz")
    src_rows = meta["src_row"]
    status = work.load("status.npy", mmap=True)[off : off + n]
    cluster = work.load("cluster.npy", mmap=True)[off : off + n]
    removed = np.asarray(work.load("removed.npy", mmap=True)[off : off + n])
    z, frequent, _ = _surviving_images(work, m, i)
    drop_img: dict[int, list[tuple[int, int, str]]] = {}  # doc -> (segment, reference, reason)
    repeated = (z["ok"] & z["repeated"]).tolist()
    for j in np.flatnonzero((z["ok"] & z["repeated"]) | frequent).tolist():
        why = "repeated_image" if repeated[j] else "frequent_image"
        drop_img.setdefault(int(z["doc"][j]), []).append((int(z["seg"][j]), int(z["ref"][j]), why))
    drop_par: dict[int, dict[int, int]] = {}  # doc -> {paragraph: document of its first copy}
    if cfg.paragraphs != "off":
        for f in sorted((work.root / "dupparas" / tag).glob("*.npy")):
            r = np.load(f)
            local = (r["doc"] & np.uint64(0xFFFFFFFF)).tolist()
            for d, par, first in zip(local, r["par"].tolist(), r["first"].tolist(), strict=True):
                drop_par.setdefault(d, {})[par] = first
    ids = table.column("doc_id").to_pylist()
    segments = table.column("segments").to_pylist()
    layout_md = scan["format"] in ("pin", "wanjuan")
    removals: list[dict[str, Any]] = []
    new_segments: list[list[dict[str, Any]]] = []
    n_img, n_par = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for d in range(n):
        segs = segments[d] or []
        if removed[d]:
            reason = _DOC_STATUS[status[d]]
            removals.append(
                _removal(shard, src_rows[d], ids[d], "document", None, None, reason, cluster[d])
            )
            new_segments.append(segs)
            continue
        if d not in drop_img and d not in drop_par:
            new_segments.append(segs)
            continue
        view = _view(segs, layout_md)
        gone_segs: set[int] = set()
        cuts: dict[int, list[tuple[int, int]]] = {}
        spans = {(k, r): span for k, r, _, span in view.images}
        for k, r, why in drop_img.get(d, []):
            removals.append(_removal(shard, src_rows[d], ids[d], "image", k, None, why, None))
            n_img[d] += 1
            span = spans[(k, r)]
            if span is None:
                gone_segs.add(k)
            else:
                cuts.setdefault(k, []).append(span)
        pars: dict[int, set[int]] = {}
        for par, first in sorted(drop_par.get(d, {}).items()):
            members = view.paragraphs[par][1]
            removals.append(
                _removal(
                    shard,
                    src_rows[d],
                    ids[d],
                    "paragraph",
                    members[0][0],
                    par,
                    "duplicate_paragraph",
                    first,
                )
            )
            n_par[d] += 1
            for k, j in members:
                pars.setdefault(k, set()).add(j)
        kept_segs = []
        for k, seg in enumerate(segs):
            if k in gone_segs:
                continue
            if k in pars or k in cuts:
                left = edit_text(seg["text"] or "", pars.get(k, set()), cuts.get(k, []))
                if left is None:
                    continue
                seg = {**seg, "text": left}
            kept_segs.append(seg)
        new_segments.append(kept_segs)
    out_table = table.set_column(
        table.column_names.index("segments"),
        table.schema.field("segments"),
        pa.array(new_segments, table.schema.field("segments").type),
    ).filter(pa.array(~removed))
    target = outdir / shard.name
    fmt = scan["format"]
    write_documents(out_table, target, format=fmt, container=shard.format)  # its own
    if shard.path.is_local:
        pairs = image_copies(out_table, shard.path.local().parent, target.parent)
        outputs.declare(dst.relative_to(outdir).as_posix() for _, dst in pairs)
        copy_images(pairs)
    # One row per input row: the documents read, then the rows that could not be read.
    doc_rows = {
        "shard": [shard.name] * n,
        "row": src_rows.tolist(),
        "doc_id": ids,
        "status": [_DOC_STATUS[s] for s in status],
        "keep": (~removed).tolist(),
        "cluster": [int(c) if c >= 0 else None for c in cluster],
        "images_removed": n_img.tolist(),
        "paragraphs_removed": n_par.tolist(),
        "error": [None] * n,
    }
    for p in scan["problems"]:
        if p["doc_id"] is None:
            for col, v in (
                ("shard", shard.name),
                ("row", p["row"]),
                ("doc_id", None),
                ("status", "error"),
                ("keep", False),
                ("cluster", None),
                ("images_removed", 0),
                ("paragraphs_removed", 0),
                ("error", p["problem"]),
            ):
                doc_rows[col].append(v)
    write_table(
        pa.table(doc_rows, schema=_DOC_SCHEMA), work.path(f"records/documents-{tag}.parquet")
    )
    write_table(
        pa.Table.from_pylist(removals, schema=_REMOVAL_SCHEMA),
        work.path(f"records/removals-{tag}.parquet"),
    )
    probs = [{"shard": shard.name, **p} for p in scan["problems"]]
    write_table(
        pa.Table.from_pylist(probs, schema=_PROBLEM_SCHEMA),
        work.path(f"records/problems-{tag}.parquet"),
    )
    work.mark(unit)


_DOC_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("doc_id", pa.string()),
        ("status", pa.string()),
        ("keep", pa.bool_()),
        ("cluster", pa.int64()),
        ("images_removed", pa.int64()),
        ("paragraphs_removed", pa.int64()),
        ("error", pa.string()),
    ]
)
_REMOVAL_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("doc_id", pa.string()),
        ("what", pa.string()),
        ("segment", pa.int64()),
        ("paragraph", pa.int64()),
        ("reason", pa.string()),
        ("cluster", pa.int64()),
    ]
)
_PROBLEM_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),
        ("row", pa.int64()),
        ("doc_id", pa.string()),
        ("segment", pa.int64()),
        ("problem", pa.string()),
    ]
)


def _removal(
    shard: Shard,
    row: Any,
    doc_id: str,
    what: str,
    seg: int | None,
    par: int | None,
    reason: str,
    cluster: Any,
) -> dict[str, Any]:
    c = None if cluster is None or cluster < 0 else int(cluster)
    return {
        "shard": shard.name,
        "row": int(row),
        "doc_id": doc_id,
        "what": what,
        "segment": seg,
        "paragraph": par,
        "reason": reason,
        "cluster": c,
    }


def _merge(work: WorkDir, m: _Manifest, kind: str, schema: pa.Schema, target: Path) -> None:
    with atomic_write(target) as f, pq.ParquetWriter(f, schema) as writer:
        for i in range(len(m.shards)):
            writer.write_table(pq.read_table(work.root / "records" / f"{kind}-{i:06d}.parquet"))


def run(
    inputs: Iterable[str],
    outdir: str | os.PathLike[str],
    *,
    config: MultimodalConfig = MultimodalConfig(),
    images: str | os.PathLike[str] | None = None,
    image_root: str | os.PathLike[str] | None = None,
    memory: int = 4 * 2**30,
    on_error: Literal["keep", "raise"] = "keep",
    work_dir: Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[str, int], Any] | None = None,
) -> dict[str, Any]:
    """Deduplicates interleaved documents; returns the summary (also in ``summary.json``).

    Args:
        inputs: Shards, directories or globs of one or several layouts.
        outdir: A local directory: the shards (same names and layouts) without what was
            removed, ``documents.parquet``, ``removals.parquet``, ``problems.parquet`` and
            ``summary.json``.
        config: The rules.
        images: A Parquet file of ``url`` and ``bytes`` (as img2dataset writes) to find image
            bytes by URL or path, for ``image_key`` bytes or phash.
        image_root: A directory that relative image paths are resolved against (default: the
            shard's own directory).
        memory: The budget that sizes the on-disk partitions.
        on_error: A row that cannot be read (lists of different lengths, invalid JSON, ...):
            record it with status ``error`` and go on, or stop with an error naming file and row.
        progress: As in :func:`mmdedup.pipeline.run`.

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
    inputs = [os.fspath(x) for x in inputs]
    out = Path(outdir)
    if "://" in str(outdir):
        raise ParameterError("interleaved dedup writes to a local directory")
    m = _plan(
        inputs,
        config,
        os.fspath(images) if images else None,
        os.fspath(image_root) if image_root else None,
        memory,
        on_error,
    )
    root = Path(work_dir) if work_dir is not None else out / ".mmdedup-work"
    with (
        open_run(
            out,
            inputs=inputs,
            shards=[s["path"] for s in m.shards],
            resume=resume,
            overwrite=overwrite,
            work_dir=root if work_dir is not None else None,
        ) as outputs,
        claim_work_dir(
            root, resume=resume, manifest="manifest-interleaved.json", default=work_dir is None
        ),
    ):
        return _run(WorkDir(root), m, config, outputs, inputs, t0, resume, progress)


def _run(
    work: WorkDir,
    m: _Manifest,
    config: MultimodalConfig,
    outputs: OutputRun,
    inputs: list[str],
    t0: float,
    resume: bool,
    progress: Callable[[str, int], Any] | None,
) -> dict[str, Any]:
    out = outputs.out.local()
    manifest = work.root / "manifest-interleaved.json"
    if resume and manifest.exists():
        old = _Manifest(**json.loads(manifest.read_text()))
        if old.version != m.version:
            raise InputError(
                f"{work.root} was written by another mmdedup version (work directory format "
                f"{old.version}, this version writes {m.version}); drop --resume"
            )
        if asdict(old) != asdict(m):
            raise InputError(
                f"{work.root} belongs to a run with other inputs or parameters; drop --resume"
            )
    with atomic_write(work.path("manifest-interleaved.json")) as f:
        f.write(json.dumps(asdict(m), indent=1).encode())
    seconds: dict[str, float] = {}

    def stage(name: str, count: int, fn: Callable[[int], None]) -> None:
        t = time.perf_counter()
        tick = progress(name, count) if progress else None
        for u in range(count):
            fn(u)
            if tick:
                tick(1)
        seconds[name] = round(time.perf_counter() - t, 3)

    cfg = config
    ns = len(m.shards)
    stage("scan", ns, lambda i: stage_scan(work, m, i))
    if cfg.image_frequency:
        stage("images", ns, lambda i: stage_image_parts(work, m, i))
        stage("frequent", 1, lambda _: stage_frequent(work, m))
    rows = sum(_layout(work, m))
    if cfg.near_duplicates:
        path = work.path("signatures.npy")
        if not path.exists():
            create_npy(path, np.uint32, (rows, cfg.text.num_perm))
    stage("signatures", ns, lambda i: stage_signatures(work, m, i))
    if cfg.near_duplicates:
        plan = _sig_plan(m, rows)
        stage("candidates", m.partitions, lambda p: stage_candidates(work, plan, p))
    stage("documents", 1, lambda _: stage_documents(work, m))
    if cfg.paragraphs != "off":
        stage("paragraphs", m.partitions, lambda p: stage_paragraphs(work, m, p))
    outputs.declare(
        [s["name"] for s in m.shards]
        + [f"{k}.parquet" for k in ("documents", "removals", "problems")]
        + ["summary.json"]
    )
    stage("write", ns, lambda i: stage_write(work, m, i, out, outputs))
    _merge(work, m, "documents", _DOC_SCHEMA, out / "documents.parquet")
    _merge(work, m, "removals", _REMOVAL_SCHEMA, out / "removals.parquet")
    _merge(work, m, "problems", _PROBLEM_SCHEMA, out / "problems.parquet")
    summary = _summary(work, m, inputs, out, seconds, time.perf_counter() - t0)
    from .inspect import precision_estimate

    summary["precision"] = precision_estimate(out, summary=summary, work_dir=work.root)
    with atomic_write(out / "summary.json") as f:
        f.write(json.dumps(summary, indent=2).encode() + b"\n")
    return summary


def _summary(
    work: WorkDir,
    m: _Manifest,
    inputs: list[str],
    out: Path,
    seconds: dict[str, float],
    total: float,
) -> dict[str, Any]:
    docs = pq.read_table(out / "documents.parquet", columns=["status", "keep"])
    rem = pq.read_table(out / "removals.parquet", columns=["what", "reason"]).to_pylist()
    status = docs.column("status").to_pylist()
    images = paragraphs = 0
    image_errors = 0
    for i in range(len(m.shards)):
        tag = f"{i:06d}"
        z = dict(np.load(work.root / "images" / f"{tag}.npz"))
        images += len(z["key"])
        image_errors += int((~z["ok"]).sum())
        for p in range(m.partitions):
            f = work.root / "paragraphs" / f"{p:05d}" / f"{tag}.npy"
            if f.exists():
                paragraphs += len(np.load(f))
    reads = [
        json.loads((work.root / "scan" / f"{i:06d}.json").read_text()) for i in range(len(m.shards))
    ]

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
        "documents": {
            "in": len(status),
            "kept": int(sum(docs.column("keep").to_pylist())),
            "removed": {r: count("document", r) for r in ("near_duplicate", "identical_images")},
            "errors": sum(r["read_errors"] for r in reads),
            "repairs": sum(r["repairs"] for r in reads),
            "status": {s: status.count(s) for s in _DOC_STATUS},
        },
        "images": {
            "in": images,
            "removed": {r: count("image", r) for r in ("repeated_image", "frequent_image")},
            "errors": image_errors,
        },
        "paragraphs": {"in": paragraphs, "removed": count("paragraph")},
        "pairs": json.loads((work.root / "pairs.json").read_text()),
        "partitions": m.partitions,
        "seconds": seconds,
        "threads": _core.get_num_threads(),
    }
