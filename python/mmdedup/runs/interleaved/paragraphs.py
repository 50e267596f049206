"""Paragraphs of interleaved documents: their spans, their hashes, the texts left when some are
removed, and the text views that are hashed."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ... import _core
from ...dedup import DedupConfig
from ...formats import parse_markdown
from ...formats.markdown import image_references
from ...formats.model import segment_meta
from ..workdir import WorkDir
from .plan import Manifest, row_counts

_BLANK = re.compile(r"\n[ \t]*\n")


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


def text_view(segs: list[dict[str, Any]], markdown_layout: bool) -> _View:
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


def strip_markdown(pieces: list[str]) -> list[str]:
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


def hash64(texts: list[str], cfg: DedupConfig) -> tuple[npt.NDArray[np.uint64], Any]:
    digest, empty = _core.exact_hash(pa.array(texts, pa.string()), **cfg.normalize_options())
    keys = np.ascontiguousarray(digest[:, :8]).view("<u8").ravel().astype(np.uint64)
    return keys, np.asarray(empty, dtype=np.bool_)


def domain_of(url: Any) -> str:
    if not isinstance(url, str) or not url:
        return ""
    host = urlsplit(url if "://" in url else "//" + url).hostname or ""
    return host.removeprefix("www.")


# A paragraph row on disk: scope, hash, global document, segment, paragraph.
PARA_ROW = np.dtype(
    [("scope", "<u8"), ("hash", "<u8"), ("doc", "<u8"), ("seg", "<u4"), ("par", "<u4")]
)


def stage_paragraphs(work: WorkDir, m: Manifest, p: int) -> None:
    """Partition ``p``: paragraphs of kept documents seen before in their scope."""
    unit = f"paragraphs-{p:05d}"
    if work.done(unit):
        return
    counts = row_counts(work, m)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    where = f"paragraphs/{p:05d}"
    files = [work.local(f"{where}/{name}") for name in work.list(where, ".npy")]
    rows = np.concatenate([np.load(f) for f in files]) if files else np.empty(0, PARA_ROW)
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
